"""code-review in its sandbox, offline, on the recorded sample (see flows.testing).
The full behaviour (pushes, commands, memory, PostgreSQL) is tested end to end
in the repository's tests/functions/code_review/."""

import json
from pathlib import Path

import pytest

from flows.testing import FlowTest

HERE = Path(__file__).resolve().parents[1]
SAMPLE = "samples/pull_request.opened.json"


@pytest.fixture(scope="module")
def flow():
    f = FlowTest(HERE)
    yield f
    f.close()


def test_review_has_summary_risks_and_exact_breaking_changes(flow):
    report = flow.run(SAMPLE)
    assert report.ok, report.error
    body = flow.comments(report)[-1]
    assert body.startswith("<!-- flows:code-review -->")
    for heading in ("### Summary", "### Walkthrough", "### Risks", "### Breaking changes"):
        assert heading in body
    assert "**Untrusted input reaches eval**" in body
    assert "| `cancel_order` | Public object was removed |" in body
    assert "| `get_order` | Parameter was removed: include_items |" in body
    assert "| `coupons` | table coupons is dropped |" in body
    assert "`poetry.lock`: ignored by the settings" in body
    [review] = [w for w in report.writes if w.get("path", "").endswith("/pulls/7/reviews")]
    assert review["body"]["comments"][0]["path"] == "src/shop/handlers.py"
    assert report.llm["calls"] == 1


def test_no_risks_no_inline_review(flow):
    report = flow.run(SAMPLE)
    schema = flow.model_calls[0]["schema"]
    paths = schema["properties"]["files"]["items"]["properties"]["path"]["enum"]
    quiet = {"summary": "Tidies the API.", "files": [{"path": p, "change": "x"} for p in paths],
             "risks": [], "breaking": []}  # fmt: skip
    report = flow.run(SAMPLE, llm=[json.dumps(quiet)])
    assert report.ok, report.error
    assert not any(w.get("path", "").endswith("/reviews") for w in report.writes)
    assert "Tidies the API." in flow.comments(report)[-1]


def test_settings_outside_the_schema_are_refused():
    with pytest.raises(Exception, match="inline_min_severity: 'urgent' is not one of"):
        FlowTest(HERE, settings={"inline_min_severity": "urgent"})
