"""Recorded events: real GitHub payloads, envelopes, bad files."""

import json

import pytest

from flows.errors import EventError
from flows.project.events import guess_event_name, load_event
from tests.fakes.github import FIXTURES, load_fixture


@pytest.mark.parametrize(
    ("fixture", "name"),
    [
        ("pull_request.opened.json", "pull_request"),
        ("pull_request.synchronize.json", "pull_request"),
        ("issue_comment.created.json", "issue_comment"),
        ("pull_request_review.submitted.json", "pull_request_review"),
        ("ping.json", "ping"),
        ("push.json", "push"),
        ("installation.created.json", "installation"),
    ],
)
def test_event_name_guessed_from_real_payloads(fixture, name):
    assert guess_event_name(load_fixture(fixture)) == name


def test_load_event_reads_context():
    ev = load_event(FIXTURES / "pull_request.opened.json")
    assert (ev.name, ev.action, ev.repository) == (
        "pull_request",
        "opened",
        "Codertocat/Hello-World",
    )
    assert ev.installation_id == 1


def test_envelope_and_explicit_name(tmp_path):
    f = tmp_path / "e.json"
    f.write_text(json.dumps({"event": "issues", "delivery_id": "d-1", "payload": {"action": "x"}}))
    ev = load_event(f)
    assert (ev.name, ev.delivery_id, ev.action) == ("issues", "d-1", "x")
    assert load_event(f, "custom").name == "custom"


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not JSON"), ("[1, 2]", "JSON object, not list"), ("{}", "--event-name")],
)
def test_bad_event_files(tmp_path, content, message):
    f = tmp_path / "e.json"
    f.write_text(content)
    with pytest.raises(EventError, match=message):
        load_event(f)


def test_missing_event_file(tmp_path):
    with pytest.raises(EventError, match="no such event file"):
        load_event(tmp_path / "nope.json")
