"""The breaking-change corpus through the code-review flow: every expected
breakage found under its import path, nothing reported for the clean pull
requests, no review failed, and nothing `griffe check` finds left out."""

from __future__ import annotations

import pytest

from flows.evaluate.score import breaking_matches
from tests.functions.code_review.corpus import (
    FlowRunner,
    breaking_items,
    griffe_check,
    load_cases,
    run_flow,
    score,
)

pytestmark = pytest.mark.slow
CASES = load_cases()


def test_the_corpus_has_breaking_and_clean_pull_requests():
    assert sum(c.breaking for c in CASES) >= 15
    assert sum(not c.breaking for c in CASES) >= 5
    assert all(c.modelled_on for c in CASES)


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    with FlowRunner(tmp_path_factory.mktemp("corpus")).started() as r:
        yield r


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case, runner, tmp_path):
    found, report = run_flow(runner, case, tmp_path / "repo")
    assert report["status"] == "ok", report["error"]
    got = score(case, found)
    assert got["missed"] == [] and got["false_positives"] == [], got
    assert all(b["found_by"] in ("api", "schema") for b in found)
    theirs, error = griffe_check(case, tmp_path / "repo")
    assert error == ""
    expected = breaking_items(case)
    by_griffe = [e for e in expected if any(breaking_matches(e, t, tail=True) for t in theirs)]
    assert all(any(breaking_matches(e, f) for f in found) for e in by_griffe)
