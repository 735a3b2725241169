"""issue-triage in its sandbox, offline, on the recorded samples (see flows.testing)."""

import json
from pathlib import Path

import pytest

from flows.testing import FlowTest

HERE = Path(__file__).resolve().parents[1]
OPENED = "samples/issues.opened.json"
TRIAGE = "samples/issue_comment.triage.json"


@pytest.fixture(scope="module")
def flow():
    f = FlowTest(HERE)
    yield f
    f.close()


def answer(labels, kind="bug", response="Thanks!", missing=()) -> str:
    return json.dumps(
        {"kind": kind, "labels": labels, "response": response, "missing": list(missing)}
    )


def test_new_issue_gets_labels_and_a_first_response(flow):
    report = flow.run(OPENED)
    assert report.ok, report.error
    assert flow.labels_added(report) == ["documentation", "good first issue"]
    [body] = flow.comments(report)
    assert body.startswith("<!-- flows:issue-triage -->")
    assert "Thanks for spotting this" in body
    assert "looks like a documentation" in body
    assert report.result == {
        "issue": 1,
        "kind": "documentation",
        "labels": ["documentation", "good first issue"],
        "comment": "created",
    }


def test_the_model_may_only_choose_the_repositorys_labels(flow):
    report = flow.run(OPENED)
    assert report.ok
    schema = flow.model_calls[0]["schema"]
    choices = schema["properties"]["labels"]["items"]["enum"]
    # excluded by default: duplicate, invalid, wontfix
    assert choices == [
        "bug",
        "documentation",
        "enhancement",
        "good first issue",
        "help wanted",
        "question",
    ]
    assert schema["properties"]["labels"]["maxItems"] == 3
    prompt = flow.model_calls[0]["messages"][1]["content"]
    assert "- bug: Something isn't working" in prompt


def test_an_invented_label_is_repaired_then_dropped(flow):
    # the llm integration sends an answer that breaks the schema back once
    report = flow.run(OPENED, llm=[answer(["critical"]), answer(["bug"])])
    assert report.ok, report.error
    assert flow.labels_added(report) == ["bug"]
    # invented again: the label that is not in the repository is dropped, never added
    report = flow.run(OPENED, llm=[answer(["critical"]), answer(["critical", "bug"])])
    assert report.ok, report.error
    assert flow.labels_added(report) == ["bug"]


def test_settings_shape_the_choice_and_the_response():
    f = FlowTest(HERE, settings={"only_labels": ["bug", "question"], "respond": False})
    try:
        report = f.run(OPENED, llm=[answer(["question"], kind="question")])
        choices = f.model_calls[0]["schema"]["properties"]["labels"]["items"]["enum"]
    finally:
        f.close()
    assert report.ok, report.error
    assert choices == ["bug", "question"]
    assert f.labels_added(report) == ["question"]
    assert f.comments(report) == []


def test_labels_already_on_the_issue_are_not_added_again(flow):
    report = flow.run(
        OPENED, change=lambda p: p["issue"].update(labels=[{"name": "documentation"}])
    )
    assert report.ok
    assert flow.labels_added(report) == ["good first issue"]


def test_missing_information_is_asked_for(flow):
    report = flow.run(OPENED, llm=[answer(["bug"], missing=["the version you run"])])
    [body] = flow.comments(report)
    assert "please add:\n- the version you run" in body


def test_a_maintainer_can_triage_again(flow):
    report = flow.run(TRIAGE)
    assert report.ok, report.error
    assert flow.labels_added(report) == ["documentation", "good first issue"]


@pytest.mark.parametrize(
    "sample, edit, why",
    [
        (TRIAGE, lambda p: p["comment"].update(author_association="NONE"), "may not run"),
        (TRIAGE, lambda p: p["comment"].update(body="please /triage"), "not the triage"),
        (OPENED, lambda p: p["issue"]["user"].update(type="Bot"), "by a bot"),
    ],
)
def test_events_that_are_left_alone(flow, sample, edit, why):
    report = flow.run(sample, change=edit)
    assert report.ok
    assert why in report.result["skipped"]
    assert report.writes == [] and report.llm["calls"] == 0
