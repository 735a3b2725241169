"""`flows build` and `flows run`: reports and exit codes 0/1/2."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import COMPONENTS, TOKEN
from tests.fakes.github import FIXTURES, load_fixture

pytestmark = pytest.mark.slow
FLOWS = [sys.executable, "-m", "flows.cli"]


def flows(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [*FLOWS, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


@pytest.fixture
def gh_env(fake_github):
    fake_github.add_repo_from_event(load_fixture("pull_request.opened.json"))
    return {"FLOWS_TEST_GITHUB_URL": fake_github.url, "FLOWS_TEST_GITHUB_TOKEN": TOKEN}


def event_file(tmp_path: Path, mode: str) -> Path:
    payload = load_fixture("pull_request.opened.json")
    payload["mode"] = mode
    f = tmp_path / f"{mode}.json"
    f.write_text(json.dumps(payload))
    return f


def test_build_twice_second_is_all_cached():
    cfg = str(COMPONENTS / "app.yaml")
    assert flows("build", "--config", cfg).returncode == 0
    again = flows("build", "--config", cfg)
    assert again.returncode == 0
    lines = again.stdout.strip().splitlines()
    assert all(line.startswith("cached") for line in lines[:-1])
    from flows.project.config import load_config
    from flows.sandbox.build import project_components

    n = len(project_components(load_config(COMPONENTS / "app.yaml")))
    assert n >= 8 and lines[-1].startswith(f"{n} components")


def test_run_ok_prints_report_exit_0(tmp_path, gh_env, fake_github):
    cfg = str(COMPONENTS / "app.yaml")
    p = flows("run", "probe", "--event", str(event_file(tmp_path, "ok")), "--dry-run",
              "--config", cfg, env=gh_env)  # fmt: skip
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["status"] == "ok" and report["dry_run"] is True
    assert report["writes"][0]["dry_run"] is True
    assert report["event"] == "pull_request" and report["action"] == "opened"
    for key in ("logs", "duration_ms", "resources", "llm", "timings_ms"):
        assert key in report
    assert TOKEN not in p.stdout + p.stderr


def test_run_flow_failure_exit_1(tmp_path, gh_env):
    cfg = str(COMPONENTS / "app.yaml")
    p = flows("run", "probe", "--event", str(event_file(tmp_path, "raise")), "--config", cfg,
              env=gh_env)  # fmt: skip
    assert p.returncode == 1
    report = json.loads(p.stdout)
    assert report["status"] == "failed"
    assert report["error"]["kind"] == "exception"
    assert "ValueError: boom" in p.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--event", str(FIXTURES / "ping.json")], "unknown flow 'nope'"),
        (["probe", "--event", "/nonexistent.json"], "no such event file"),
        (["direct", "--event", str(FIXTURES / "ping.json")], "imports host capability"),
    ],
)
def test_run_bad_input_exit_2(args, message):
    p = flows("run", *args, "--config", str(COMPONENTS / "app.yaml"))
    assert p.returncode == 2
    assert json.loads(p.stdout)["status"] == "error"
    assert message in p.stderr


def test_run_event_not_json_exit_2(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text("{nope")
    p = flows("run", "probe", "--event", str(f), "--config", str(COMPONENTS / "app.yaml"))
    assert p.returncode == 2
    assert "not JSON" in json.loads(p.stdout)["error"]["message"]


def test_bad_config_exit_2(tmp_path):
    (tmp_path / "app.yaml").write_text("server: {port: nope}\n")
    p = flows("build", "--config", str(tmp_path / "app.yaml"))
    assert p.returncode == 2
    assert "server.port" in p.stderr


def test_fresh_copy_of_repository_builds_and_runs(tmp_path, fake_github):
    """`flows build && flows run` on a copy of the repository's own project."""
    root = Path(__file__).parent.parent
    for name in ("functions", "integrations", "app.yaml"):
        src = root / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, tmp_path / name)
    env = {"GITHUB_API_URL": fake_github.url, "GITHUB_TOKEN": TOKEN}
    cfg = str(tmp_path / "app.yaml")
    assert flows("build", "--config", cfg, env=env).returncode == 0
    ev = FIXTURES / "pull_request.opened.json"
    fake_github.add_repo_from_event(load_fixture("pull_request.opened.json"))
    p = flows("run", "pr-size", "--event", str(ev), "--dry-run", "--config", cfg, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout)["result"]["label"].startswith("size/")
