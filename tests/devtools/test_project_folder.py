"""`flows init`: a project folder outside any checkout, all or nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows import builtin
from flows.devtools.project_folder import init_project
from flows.devtools.templates import ScaffoldError
from flows.project.config import load_config


def flows(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_init_makes_a_project_that_loads_with_built_in_integrations(tmp_path):
    target = init_project(tmp_path / "bot", ["code-review", "issue-triage"])
    assert sorted(p.name for p in target.iterdir()) == [
        ".gitignore", "README.md", "app.yaml", "functions"
    ]  # fmt: skip
    assert not (target / "integrations").exists()  # built in, not copied
    cfg = load_config(target / "app.yaml")
    assert sorted(cfg.flows) == ["code-review", "issue-triage"]
    review = cfg.flow("code-review")
    assert review.function == target / "functions" / "code_review"  # the copy, not built-in
    assert (review.function / "samples" / "pull_request.opened.json").is_file()
    assert (review.function / "tests" / "test_code_review.py").is_file()
    assert cfg.integration_dir("llm") == builtin.folder("integrations") / "llm"
    assert cfg.database.url == f"sqlite:///{target / 'flows.db'}"
    text = (target / "app.yaml").read_text()
    assert "# The GitHub App. Easiest: start `flows serve` and open /setup" in text
    assert "# from template issue-triage:" in text
    readme = (target / "README.md").read_text()
    assert "http://127.0.0.1:8000/setup" in readme
    assert "flows run code-review --event functions/code_review/samples/" in readme
    assert ".flows/" in (target / ".gitignore").read_text()
    mode = (target / "app.yaml").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert (target.stat().st_mode & 0o777) == 0o777 & ~umask and mode == 0o666 & ~umask


def test_init_defaults_to_the_code_review_template(tmp_path):
    got = flows("init", "bot", cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert "created bot/ with code-review" in got.stdout and "cd bot" in got.stdout
    assert sorted(load_config(tmp_path / "bot" / "app.yaml").flows) == ["code-review"]


def test_a_template_from_the_project_runs_on_its_sample(tmp_path):
    target = init_project(tmp_path / "bot", ["issue-triage"])
    got = flows(
        "run", "issue-triage", "--event", "functions/issue_triage/samples/issues.opened.json",
        cwd=target,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    report = json.loads(got.stdout)
    assert report["status"] == "ok" and report["dry_run"]
    assert any(w["path"].endswith("/labels") for w in report["writes"])


def test_a_non_empty_folder_is_refused_unless_forced_and_never_overwritten(tmp_path):
    target = tmp_path / "bot"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    got = flows("init", str(target), cwd=tmp_path)
    assert got.returncode == 2
    assert "is not empty (notes.txt); choose a new folder, or pass --force" in got.stderr
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    init_project(target, None, force=True)
    assert (target / "notes.txt").read_text() == "mine" and (target / "app.yaml").is_file()
    before = (target / "app.yaml").read_text() + "# my edit\n"
    (target / "app.yaml").write_text(before)
    with pytest.raises(
        ScaffoldError, match=r"already has app\.yaml, \.gitignore, README\.md, functions"
    ):
        init_project(target, ["issue-triage"], force=True)
    assert (target / "app.yaml").read_text() == before
    assert not (target / "functions" / "issue_triage").exists()


def test_an_unknown_template_writes_nothing(tmp_path):
    got = flows("init", "bot", "--template", "code-review", "--template", "nope", cwd=tmp_path)
    assert got.returncode == 2
    assert "unknown template 'nope' (templates: code-review, pr-summary" in got.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_place_is_a_clear_error_and_leaves_nothing(tmp_path):
    got = flows("init", "/sys/flows-test-project", cwd=tmp_path)  # refused even to root
    assert got.returncode == 2
    assert got.stderr.startswith("error: cannot write to /sys: ")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ScaffoldError, match=r"cannot write to .*file"):
        init_project(blocker / "bot")
    if os.geteuid() != 0:  # root ignores permission bits
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(ScaffoldError, match="cannot write to"):
            init_project(ro / "bot")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"] + (
        ["ro"] if os.geteuid() != 0 else []
    )


def test_a_failure_half_way_keeps_nothing(tmp_path, monkeypatch):
    target = tmp_path / "bot"
    target.mkdir()
    calls = []
    real = os.rename

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "rename", flaky)
    with pytest.raises(ScaffoldError, match="No space left on device; nothing was kept"):
        init_project(target)
    assert list(target.iterdir()) == []
