"""`flows eval`'s engine: cases reviewed with the real flow and scored per
case and overall; two configurations side by side; bad cases refused before
anything runs; a case whose review fails is reported and the others run."""

from __future__ import annotations

import pytest
import respx

from flows.evaluate.cases import CasesError, parse_cases
from flows.evaluate.evaluation import compare, evaluate, render, render_compare
from flows.evaluate.local import LocalReviewer
from flows.project.config import load_config
from tests.evaluate.helpers import BASE_URL, LLM, project
from tests.fakes.model import Rule, ScriptedModel
from tests.functions.code_review.fixtures import make_git

pytestmark = pytest.mark.slow
OTHER_URL = "https://llm.other.test/v1"
PRICES = "def discount(price, pct):\n    return price * pct\n"

CASES = """
cases:
  - name: orders-api
    repo: repo
    base: master
    head: feature
    breaking:
      - {kind: parameter-removed, symbol: shop.api.get_order, detail: include_items}
      - {kind: object-removed, symbol: shop.api.cancel_order}
      - {kind: parameter-added-required, symbol: shop.api.list_orders, detail: currency}
      - {kind: table-dropped, symbol: coupons}
    problems:
      - {path: src/shop/handlers.py, lines: 6, rule: eval-exec}
      - {path: src/shop/prices.py, lines: 2, rule: bug}
  - name: docs-only
    repo: repo
    base: master
    head: docs
    clean: true
"""


@pytest.fixture
def models():
    """Two model servers: one that sees the eval, one that sees nothing."""
    rule = Rule(
        r"price \* pct",
        "medium",
        "bug",
        "`pct` is a percentage used as a fraction",
        "`discount` multiplies by `pct` without dividing it by 100.",
    )
    sharp, blind = ScriptedModel(rules=[rule]), ScriptedModel()
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{BASE_URL}/chat/completions").mock(side_effect=sharp)
        mock.post(f"{OTHER_URL}/chat/completions").mock(side_effect=blind)
        yield sharp, blind


def cases_on_disk(tmp_path):
    git = make_git(tmp_path / "repo")
    git.commit("Discounts", {"src/shop/prices.py": PRICES})
    git.checkout("docs", create=True, start="master")
    git.commit("Explain orders", {"docs/guide.md": "# Guide\n\nOrders are kept.\n"})
    path = tmp_path / "cases.yaml"
    path.write_text(CASES)
    return path, parse_cases(CASES), git


def test_cases_are_scored_per_case_and_overall(tmp_path, models):
    path, cases, _git = cases_on_disk(tmp_path)
    seen = []
    with LocalReviewer(load_config(project(tmp_path / "a"))) as reviewer:
        ev = evaluate(path, cases, reviewer, "a.yaml", lambda i, n, c, r: seen.append((i, n, r)))
    assert [(i, n, r is None) for i, n, r in seen] == [
        (1, 2, True),
        (1, 2, False),
        (2, 2, True),
        (2, 2, False),
    ]
    api, docs = ev.cases
    assert api.ok and docs.ok and not ev.failed
    assert api.score["breaking"]["found"] == 4 and api.score["breaking"]["false"] == 0
    assert api.score["risks"]["found"] == 2 and api.score["risks"]["false"] == 0
    assert api.model_calls >= 1 and api.prompt_tokens > 0 and api.seconds > 0
    o = ev.overall()
    assert o["breaking"]["recall"] == 1.0 and o["breaking"]["precision"] == 1.0
    assert o["breaking"]["by"]["api"]["found"] == 3 and o["breaking"]["by"]["schema"]["found"] == 1
    assert o["risks"]["by"]["model"]["found"] == 1 and o["risks"]["by"]["check"]["found"] == 1
    assert (o["clean_cases"], o["clean_cases_silent"]) == (1, 1)
    text = render(ev)
    assert "orders-api" in text and "recall 1.00 (4/4)" in text and "API diff" in text


def test_two_configurations_side_by_side(tmp_path, models):
    path, cases, _git = cases_on_disk(tmp_path)
    done = []
    for name, llm in (("sharp.yaml", LLM), ("blind.yaml", LLM.replace(BASE_URL, OTHER_URL))):
        with LocalReviewer(load_config(project(tmp_path / name, llm))) as reviewer:
            done.append(evaluate(path, cases, reviewer, name))
    both = compare(*done)
    assert both["metrics"]["risks recall"] == {"a": 1.0, "b": 0.5}  # the check finds one
    assert both["metrics"]["breaking recall"] == {"a": 1.0, "b": 1.0}  # deterministic
    assert "sharp.yaml" in render_compare(*done) and "blind.yaml" in render_compare(*done)
    sharp, blind = models
    assert sharp.requests and blind.requests


def test_bad_cases_are_refused_before_any_review(tmp_path, models):
    path, _cases, _git = cases_on_disk(tmp_path)
    bad = parse_cases(
        CASES.replace("head: docs", "head: no-such-branch").replace(
            "repo: repo\n    base: master\n    head: feature",
            "repo: missing\n    base: master\n    head: feature",
        )
    )
    cfg = load_config(project(tmp_path / "a"))
    with LocalReviewer(cfg) as reviewer, pytest.raises(CasesError) as e:
        evaluate(path, bad, reviewer)
    assert "cases.0 (orders-api): " in str(e.value) and "no such folder" in str(e.value)
    assert "cases.1 (docs-only): 'no-such-branch' names no commit" in str(e.value)
    assert models[0].requests == []


def test_a_case_whose_review_fails_is_reported_and_the_others_run(tmp_path, models):
    path, cases, git = cases_on_disk(tmp_path)

    def progress(i, n, case, result):
        if i == 1 and result is not None:  # the branch is deleted after the cases were checked
            git.git("checkout", "-q", "master")
            git.git("branch", "-q", "-D", "docs")

    with LocalReviewer(load_config(project(tmp_path / "a"))) as reviewer:
        ev = evaluate(path, cases, reviewer, progress=progress)
    api, docs = ev.cases
    assert api.ok and not docs.ok and "'docs' names no commit" in docs.error
    assert ev.overall()["failed"] == 1 and ev.overall()["breaking"]["found"] == 4
    assert "FAILED" in render(ev)
