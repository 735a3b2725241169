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
    # the eval() is the check's finding; the model's on the same lines is merged into it
    assert "**eval/exec of input that is not a literal**" in body
    assert "found by: check eval-exec" in body and "Untrusted input reaches eval" not in body
    assert "| `shop.api.cancel_order` | Public object was removed |" in body
    assert "| `shop.api.get_order` | Parameter was removed: include_items |" in body
    assert "| `coupons` | table coupons is dropped |" in body
    assert "`poetry.lock`: ignored by the settings" in body
    [review] = [w for w in report.writes if w.get("path", "").endswith("/pulls/7/reviews")]
    assert review["body"]["comments"][0]["path"] == "src/shop/handlers.py"
    assert report.llm["calls"] == 1


def test_a_quiet_model_still_gets_the_checks_findings(flow):
    report = flow.run(SAMPLE)
    schema = flow.model_calls[0]["schema"]
    numbers = schema["$defs"]["file"]["enum"]  # files by number
    quiet = {"summary": "Tidies the API.", "files": [{"file": n, "change": "x"} for n in numbers],
             "risks": [], "breaking": []}  # fmt: skip
    report = flow.run(SAMPLE, llm=[json.dumps(quiet)])
    assert report.ok, report.error
    [review] = [w for w in report.writes if w.get("path", "").endswith("/reviews")]
    assert "check eval-exec" not in review["body"]["body"]  # (the marker is hidden)
    assert "Tidies the API." in flow.comments(report)[-1]
    assert "found by: check eval-exec" in flow.comments(report)[-1]


def test_settings_outside_the_schema_are_refused():
    with pytest.raises(Exception, match="inline_min_severity: 'urgent' is not one of"):
        FlowTest(HERE, settings={"inline_min_severity": "urgent"})
