"""Record a run's GitHub reads and model answers, replay them offline; `flows dev`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.capabilities.replay import Recording, load_recording, save_recorded_event
from flows.project.config import load_config
from flows.project.events import Event
from flows.runtime import Runtime
from tests.conftest import ROOT, TOKEN, configure
from tests.fakes.github import load_fixture

pytestmark = pytest.mark.slow
DEAD = "http://127.0.0.1:9"  # nothing listens: any request that is made fails


def _pr(fake_github, number: int) -> Event:
    payload = load_fixture("pull_request.opened.json")
    payload["number"] = number
    payload["pull_request"] = {**payload["pull_request"], "number": number, "labels": []}
    repo = fake_github.add_repo_from_event(payload)
    repo.files[number] = [
        {"filename": f"src/m{i}.py", "status": "modified", "additions": 3, "deletions": 1}
        for i in range(150)
    ]
    return Event("pull_request", payload)


def _offline_project(tmp_path: Path) -> Path:
    text = (ROOT / "app.yaml").read_text()
    text = text.replace("${GITHUB_API_URL:-https://api.github.com}", DEAD)
    (tmp_path / "app.yaml").write_text(text)
    for d in ("functions", "integrations"):
        (tmp_path / d).symlink_to(ROOT / d)
    return tmp_path / "app.yaml"


def test_record_then_replay_offline_gives_the_same_writes(fake_github, tmp_path):
    event = _pr(fake_github, 41)
    live = Runtime(configure(load_config(ROOT / "app.yaml"), fake_github))
    recording = Recording()
    live.capabilities.record(recording)
    first = live.run("pr-size", event, dry_run=True)
    assert first.ok, first.error
    out = tmp_path / "pr-size.recorded.json"
    save_recorded_event(out, event, recording)
    text = out.read_text()
    assert TOKEN not in text
    pages = [e["query"]["page"] for e in recording.github if e["path"].endswith("/files")]
    assert pages == ["1", "2"]  # both pages, with their Link headers

    config = _offline_project(tmp_path)
    got = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "pr-size", "--event", str(out),
         "--config", str(config)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert got.returncode == 0, got.stdout + got.stderr
    report = json.loads(got.stdout)
    assert report["dry_run"] is True  # a replay never writes
    strip = [{k: v for k, v in w.items()} for w in first.writes]
    assert report["writes"] == strip
    assert report["result"] == first.result

    # --live ignores the recording: GitHub (here: nothing) is asked, and fails
    live_run = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "pr-size", "--event", str(out), "--live",
         "--dry-run", "--config", str(config)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert live_run.returncode == 1


def test_a_read_missing_from_the_recording_fails_clearly(fake_github, tmp_path):
    event = _pr(fake_github, 42)
    out = tmp_path / "partial.json"
    save_recorded_event(out, event, Recording({"viewer": "bot"}))
    runtime = Runtime(load_config(_offline_project(tmp_path)))
    runtime.capabilities.replay(load_recording(out))
    report = runtime.run("pr-size", event, dry_run=True)
    assert not report.ok
    assert "/pulls/42/files?page=1&per_page=100 is not in the recording" in report.error.message
    assert "flows run --record" in report.error.message


def test_dev_rebuilds_on_change_and_replays(tmp_path):
    (tmp_path / "app.yaml").write_text("# my bots\ndatabase:\n  url: sqlite:///dev.db\n")
    (tmp_path / "integrations").symlink_to(ROOT / "integrations")
    (tmp_path / "functions").mkdir()
    new = subprocess.run(
        [sys.executable, "-m", "flows.cli", "new", "issue-triage", "triage"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert new.returncode == 0, new.stderr
    app = tmp_path / "functions" / "triage" / "app.py"
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "dev", "triage", "--runs", "2", "--interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )  # fmt: skip
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if re.fullmatch(r"\(\d+\.\d s(; .*)?\)", line.strip()) or not line:
                break  # the first run is done (or flows dev ended)
        first = "".join(lines)
        assert "samples/issue_comment.triage.json" in first or "samples/issues" in first
        assert "ok in" in first and "would POST" in first
        assert "<sub>issue-triage: looks like a" in first
        app.write_text(app.read_text().replace("<sub>issue-triage: looks", "<sub>triage: looks"))
        rest, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, rest
    assert "[2] running triage" in rest
    assert rest.count("ok in") == 1
    # the edit shows, with no rebuild: a dev build runs the sources from disk
    assert "<sub>triage: looks like a" in rest and "<sub>issue-triage" not in rest
    assert "no rebuild: the Python sources ran from disk" in rest
