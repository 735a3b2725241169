"""release-notes in its sandbox, offline, on the recorded sample (see flows.testing)."""

from pathlib import Path

import pytest

from flows.testing import FlowTest

HERE = Path(__file__).resolve().parents[1]
SAMPLE = "samples/issue_comment.release-notes.json"
REPO = "/repos/Codertocat/Hello-World"


@pytest.fixture(scope="module")
def flow():
    f = FlowTest(HERE)
    yield f
    f.close()


def test_notes_group_merged_prs_since_the_last_release(flow):
    report = flow.run(SAMPLE)
    assert report.ok, report.error
    [body] = flow.comments(report)
    assert body.startswith("## v1.1.0\n\nOrders can now be exported as CSV")
    order = [body.index(h) for h in ("### Breaking changes", "### Features", "### Fixes",
                                     "### Documentation", "### Other changes")]  # fmt: skip
    assert order == sorted(order)
    assert "- Remove the deprecated /v1/orders endpoint (https://github.com/Codertocat/" in body
    assert (
        "Fix crash when the cart is empty" in body and "by @\u200bbob" in body
    )  # mentions never ping
    # a bot is not credited; skip-changelog, unmerged and pre-release PRs are left out
    assert (
        "Bump requests from 2.31 to 2.32 (https://github.com/Codertocat/Hello-World/pull/14)\n"
        in body
    )
    for absent in ("Tidy CI config", "Experiment", "Initial order API"):
        assert absent not in body
    assert "5 pull requests merged since v1.0.0" in body
    assert report.result == {"pulls": 5, "tag": "v1.1.0", "draft_release": None}
    assert not any(w["path"].endswith("/releases") for w in report.writes)


def test_a_draft_release_when_asked():
    f = FlowTest(HERE, settings={"create_draft": True, "highlights": False})
    try:
        report = f.run(SAMPLE, llm=[])
    finally:
        f.close()
    assert report.ok, report.error
    [release] = [w for w in report.writes if w["path"] == f"{REPO}/releases"]
    assert release["body"]["draft"] is True and release["body"]["tag_name"] == "v1.1.0"
    assert "### Features" in release["body"]["body"]
    assert report.llm["calls"] == 0


def test_without_a_release_every_merged_pr_counts(flow):
    missing = (404, {"message": "Not Found"})
    report = flow.run(SAMPLE, github={f"GET {REPO}/releases/latest": missing})
    assert report.ok, report.error
    [body] = flow.comments(report)
    assert "Initial order API" in body and "since the first commit" in body


def test_nothing_merged(flow):
    empty = {f"GET {REPO}/pulls?direction=desc&page=1&per_page=100&sort=updated&state=closed"
             "&base=master": (200, [])}  # fmt: skip
    report = flow.run(SAMPLE, github=empty)
    assert report.ok, report.error
    assert flow.comments(report) == ["No pull requests were merged into `master` since v1.0.0."]
    assert report.llm["calls"] == 0


@pytest.mark.parametrize(
    "edit, why",
    [
        (lambda p: p["comment"].update(author_association="CONTRIBUTOR"), "may not run"),
        (lambda p: p["comment"].update(body="/release-notes ../../x y"), "not a tag name"),
        (lambda p: p["comment"].update(body="what about /release-notes?"), "not the release"),
    ],
)
def test_comments_that_are_not_a_command(flow, edit, why):
    report = flow.run(SAMPLE, change=edit)
    assert report.ok
    assert why in report.result["skipped"]
    assert report.writes == []


def test_github_failing_fails_the_run_with_the_reason(flow):
    report = flow.run(SAMPLE, github={f"GET {REPO}/releases/latest": (500, {"message": "boom"})})
    assert not report.ok
    assert "500" in report.error.message
    assert report.writes == []
