"""The pr-size flow over the github integration, against the fake GitHub."""

from pathlib import Path

import pytest

from flows.project.config import load_config
from flows.project.events import Event
from flows.runtime import Runtime
from tests.conftest import configure
from tests.fakes.github import load_fixture

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def runtime(fake_github):
    return Runtime(configure(load_config(ROOT / "app.yaml"), fake_github))


def pr(fake_github, number: int, files: list[dict], labels: list[str]):
    payload = load_fixture("pull_request.opened.json")
    payload["number"] = number
    payload["pull_request"] = {**payload["pull_request"], "number": number, "labels": []}
    repo = fake_github.add_repo_from_event(payload)
    repo.files[number] = files
    repo.labels[number] = list(labels)
    return repo, Event("pull_request", payload)


def f(name: str, lines: int) -> dict:
    return {"filename": name, "status": "modified", "additions": lines, "deletions": 0}


def test_labels_by_counted_lines_ignoring_lock_files(runtime, fake_github):
    repo, ev = pr(fake_github, 11, [f("src/a.py", 30), f("poetry.lock", 5000)], ["bug"])
    report = runtime.run("pr-size", ev)
    assert report.ok, report.error
    assert report.result == {
        "pull_request": 11, "lines": 30, "label": "size/S", "removed": [],
        "ignored_files": ["poetry.lock"],
    }  # fmt: skip
    assert repo.labels[11] == ["bug", "size/S"]


def test_paginates_files_and_replaces_stale_label(runtime, fake_github):
    files = [f(f"src/m{i}.py", 2) for i in range(250)]  # three pages of 100
    repo, ev = pr(fake_github, 12, files, ["size/XS", "keep"])
    report = runtime.run("pr-size", ev)
    assert report.ok, report.error
    assert report.result["lines"] == 500 and report.result["label"] == "size/L"
    assert repo.labels[12] == ["keep", "size/L"]
    pages = [r["query"].get("page") for r in fake_github.requests if r["path"].endswith("/files")]
    assert pages[-3:] == ["1", "2", "3"]


def test_dry_run_reports_writes_without_making_them(runtime, fake_github):
    repo, ev = pr(fake_github, 13, [f("a.py", 600)], ["size/M"])
    report = runtime.run("pr-size", ev, dry_run=True)
    assert report.ok, report.error
    assert [(w["method"], w["path"]) for w in report.writes] == [
        ("DELETE", "/repos/Codertocat/Hello-World/issues/13/labels/size%2FM"),
        ("POST", "/repos/Codertocat/Hello-World/issues/13/labels"),
    ]
    assert repo.labels[13] == ["size/M"]  # untouched


def test_github_error_is_a_clear_failure(runtime, fake_github):
    repo, ev = pr(fake_github, 14, [f("a.py", 1)], [])
    fake_github.fail_next("/repos/Codertocat/Hello-World/pulls/14/files", 500, 500, 500)
    report = runtime.run("pr-size", ev)
    assert report.status == "failed"
    assert report.error.kind == "flow_error"
    assert "GitHub failed on every attempt (last status 500); retries exhausted" in (
        report.error.message
    )
    assert repo.labels[14] == []


def test_transient_github_error_is_retried(runtime, fake_github):
    repo, ev = pr(fake_github, 15, [f("a.py", 1)], [])
    fake_github.fail_next("/repos/Codertocat/Hello-World/pulls/15/files", 502)
    report = runtime.run("pr-size", ev)
    assert report.ok, report.error
    assert repo.labels[15] == ["size/XS"]


def test_other_events_are_skipped(runtime):
    report = runtime.run(
        "pr-size", Event("issue_comment", load_fixture("issue_comment.created.json"))
    )
    assert report.ok
    assert "skipped" in report.result
