"""Hostile and broken bodies with valid signatures, through the real endpoint on
both databases: each is a 400 with a readable reason and a `malformed` record,
never a 500, and nothing is queued."""

import json

import pytest

from flows.db.models import Delivery, Job
from flows.server.payload import Malformed, parse
from tests.fakes.github import load_fixture
from tests.server.test_ingest import client, post, rows, service  # noqa: F401  (fixtures)


def _pr(**change) -> dict:
    payload = load_fixture("pull_request.opened.json")
    for path, value in change.items():
        node = payload
        *parents, last = path.split("__")
        for name in parents:
            node = node[name]
        node[last] = value
    return payload


def _comment(**change) -> dict:
    payload = load_fixture("issue_comment.created.json")
    payload["comment"].update(change)
    return payload


def _json(payload: dict) -> bytes:
    return json.dumps(payload).encode()


DEEP = b'{"a": ' * 10_000 + b"1" + b"}" * 10_000
PR_TEXT = json.dumps(load_fixture("pull_request.opened.json"))

# (event, body, what the reason must name)
HOSTILE = {
    "nesting 10,000 deep": ("pull_request", DEEP, "nested too deeply"),
    "lone surrogate": (
        "pull_request",
        PR_TEXT.replace('"action": "opened"', '"action": "\\ud800"').encode(),
        "action: contains a lone surrogate",
    ),
    "NUL in a name": (
        "pull_request",
        _json(_pr(repository__full_name="Codertocat/Hello\x00World")),
        "repository.full_name: contains a NUL",
    ),
    "id over 2^63": ("pull_request", _json(_pr(installation={"id": 2**63})), "installation.id"),
    "boolean id": ("pull_request", _json(_pr(installation={"id": True})), "got a boolean"),
    "400-digit PR number": (
        "pull_request",
        _json(_pr(pull_request__number=10**400)),
        "pull_request.number",
    ),
    "boolean PR number": (
        "pull_request",
        _json(_pr(pull_request__number=True)),
        "pull_request.number: expected an integer",
    ),
    "negative PR number": ("pull_request", _json(_pr(pull_request__number=-1)), "out of range"),
    "string where an object goes": (
        "issue_comment",
        _json(_comment(user="octocat")),
        "comment.user: expected an object",
    ),
    "string comment id": (
        "pull_request_review_comment",
        _json(_comment(in_reply_to_id="12")),
        "comment.in_reply_to_id: expected an integer",
    ),
    "number where a list goes": (
        "installation_repositories",
        _json({**load_fixture("installation.created.json"), "repositories_added": 5}),
        "repositories_added: expected an array",
    ),
    "thread comments not a list": (
        "pull_request_review_thread",
        _json({**_pr(action="resolved"), "thread": {"comments": 5}}),
        "thread.comments: expected an array",
    ),
    "action over 64": ("pull_request", _json(_pr(action="x" * 65)), "action: 65 characters"),
    "name over 255": (
        "pull_request",
        _json(_pr(repository__full_name="o/" + "x" * 300)),
        "repository.full_name: 302 characters",
    ),
    "UTF-16": ("pull_request", PR_TEXT.encode("utf-16"), "not UTF-8"),
    "BOM first": ("pull_request", b"\xef\xbb\xbf" + PR_TEXT.encode(), "malformed JSON"),
    "an array": ("pull_request", b"[1, 2]", "a JSON list, not an object"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_body_is_a_400_and_kept_as_malformed(client, service, case):  # noqa: F811
    event, body, reason = HOSTILE[case]
    r = post(client, event, None, raw=body)
    assert r.status_code == 400, r.text
    assert reason in r.json()["error"]
    (d,) = rows(service, Delivery)
    assert d.status == "malformed" and reason in d.note and d.body == body
    assert rows(service, Job) == []


def test_the_fixtures_github_sends_all_pass():
    names = ["pull_request.opened", "pull_request.synchronize", "issue_comment.created",
             "installation.created", "pull_request_review.submitted", "push", "ping"]  # fmt: skip
    for name in names:
        assert parse(json.dumps(load_fixture(f"{name}.json")).encode())


def test_a_missing_or_null_field_is_not_malformed():
    payload = _pr()
    del payload["installation"]
    payload["pull_request"]["merged"] = None
    assert parse(_json(payload))["pull_request"]["merged"] is None
    with pytest.raises(Malformed, match=r"pull_request.merged: expected true or false"):
        parse(_json(_pr(pull_request__merged="yes")))
