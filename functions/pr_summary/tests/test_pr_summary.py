"""pr-summary in its sandbox, offline, on the recorded samples (see flows.testing)."""

import json
from pathlib import Path

import pytest

from flows.testing import FlowTest

HERE = Path(__file__).resolve().parents[1]
OPENED = "samples/pull_request.opened.json"
TRIGGER = "samples/issue_comment.trigger.json"
MARK = "<!-- flows:pr-summary -->"


@pytest.fixture(scope="module")
def flow():
    f = FlowTest(HERE)
    yield f
    f.close()


def overall(**fields) -> str:
    out = {"overview": "Adds discounts.", "key_changes": ["discount"], "potential_issues": []}
    return json.dumps({**out, **fields})


def test_opened_pr_gets_one_summary_built_commit_by_commit(flow):
    report = flow.run(OPENED)
    assert report.ok, report.error
    [body] = flow.comments(report)
    assert body.startswith(MARK)
    assert "## Summary of #2" in body
    assert "### Key changes" in body and "### Potential issues" in body
    assert "totals can go negative" in body
    assert "<summary>Commits (2)</summary>" in body
    assert "**Apply discount codes at checkout**" in body and "**Test discounts**" in body
    # one call per commit, then one for the whole
    assert report.llm["calls"] == 3
    assert "codes.py" in flow.model_calls[0]["messages"][-1]["content"]
    assert flow.model_calls[2]["schema"]["required"] == [
        "overview",
        "key_changes",
        "potential_issues",
    ]
    assert all(w["dry_run"] for w in report.writes)


def test_trigger_phrase_from_a_maintainer(flow):
    report = flow.run(TRIGGER)
    assert report.ok, report.error
    assert len(flow.comments(report)) == 1
    assert report.result["commits"] == 2


@pytest.mark.parametrize(
    "edit, why",
    [
        (lambda p: p["comment"].update(body="looks good"), "trigger phrase"),
        (lambda p: p["comment"].update(author_association="NONE"), "may not trigger"),
        (lambda p: p["comment"]["user"].update(type="Bot"), "by a bot"),
        (lambda p: p["issue"].pop("pull_request"), "not a pull request"),
    ],
)
def test_comments_that_do_not_trigger(flow, edit, why):
    report = flow.run(TRIGGER, change=edit)
    assert report.ok
    assert why in report.result["skipped"]
    assert report.writes == [] and report.llm["calls"] == 0


def test_max_commits_reads_only_the_newest():
    f = FlowTest(HERE, settings={"max_commits": 1})
    try:
        report = f.run(OPENED, llm=["Adds a test.", overall()])
    finally:
        f.close()
    assert report.ok, report.error
    [body] = f.comments(report)
    assert "**Test discounts**" in body and "Apply discount codes" not in body
    assert "1 older commits were not read" in body


def test_model_text_is_posted_as_safe_markdown(flow):
    evil = overall(overview='<img src="https://evil.test/x.png"> ![t](https://evil.test/p.png)')
    report = flow.run(OPENED, llm=["one", "two", evil])
    assert report.ok, report.error
    [body] = flow.comments(report)
    assert "<img" not in body and "](https://evil.test" not in body


def test_a_model_that_never_answers_json_fails_the_run_and_posts_nothing(flow):
    report = flow.run(OPENED, llm=["one", "two", "not json", "still not json"])
    assert not report.ok
    assert "JSON" in report.error.message or "json" in report.error.message
    assert report.writes == []


def test_invalid_settings_are_refused_when_the_flow_loads():
    with pytest.raises(Exception, match=r"max_commits: 0 is less than the minimum of 1"):
        FlowTest(HERE, settings={"max_commits": 0})
