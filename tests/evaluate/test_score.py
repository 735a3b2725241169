"""Scoring: breaking changes and risks against true, false and unlabelled
items, in exhaustive cases and not, split by who found them."""

from flows.evaluate.cases import parse_cases
from flows.evaluate.score import breaking_matches, rates, risk_matches, score_case

CASE = """
cases:
  - name: c
    base: a
    head: b
    breaking:
      - {kind: parameter-removed, symbol: shop.api.get, detail: include}
      - {kind: table-dropped, symbol: coupons}
      - {kind: object-removed, symbol: shop.api.helper, label: false}
      - {kind: column-dropped, symbol: orders.note, label: unlabelled}
    problems:
      - {path: app.py, lines: [10, 11], rule: shell-injection}
      - {path: app.py, lines: 20}
      - {path: app.py, lines: 30, label: false}
"""


def said_breaking(kind, symbol, detail="", by="api"):
    return {"kind": kind, "symbol": symbol, "detail": detail, "found_by": by, "path": "x"}


def risk(start, end=None, by="model", rule="security", path="app.py"):
    return {
        "path": path,
        "start_line": start,
        "end_line": end or start,
        "found_by": by,
        "rule": rule,
        "title": "t",
    }


def test_matching_rules():
    (case,) = parse_cases(CASE).cases
    get, table = case.breaking[0], case.breaking[1]
    assert breaking_matches(get, said_breaking("parameter-removed", "shop.api.get", "x: include"))
    assert not breaking_matches(get, said_breaking("parameter-removed", "shop.api.get", "x: y"))
    assert not breaking_matches(get, said_breaking("parameter-removed", "api.get", "include"))
    assert breaking_matches(get, said_breaking("parameter-removed", "api.get", "include"), True)
    removed = (
        parse_cases(
            "cases: [{name: m, base: a, head: b, breaking: "
            "[{kind: object-removed, symbol: pkg.mod}]}]"
        )
        .cases[0]
        .breaking[0]
    )
    assert breaking_matches(removed, said_breaking("module-removed", "pkg.mod"))  # same family
    assert not breaking_matches(table, said_breaking("table-renamed", "coupons"))
    shell, anything = case.problems[0], case.problems[1]
    assert risk_matches(shell, risk(11, by="check shell-injection"))
    assert risk_matches(shell, risk(12, by="model", rule="shell-injection"))  # a category match
    assert not risk_matches(shell, risk(11, by="model"))  # the wrong rule
    assert not risk_matches(shell, risk(14, by="check shell-injection"))  # not at its lines
    assert risk_matches(anything, risk(19, 21))
    assert not risk_matches(anything, risk(1, 40))  # the whole file flags nothing
    assert not risk_matches(anything, risk(20, path="other.py"))


def test_counts_by_label_and_finder():
    (case,) = parse_cases(CASE).cases
    result = {
        "breaking": [
            said_breaking("parameter-removed", "shop.api.get", "include"),
            said_breaking("table-dropped", "coupons", by="schema"),
            said_breaking("object-removed", "shop.api.helper"),  # labelled false
            said_breaking("column-dropped", "orders.note", by="model"),  # unlabelled
            said_breaking("object-removed", "shop.api.other", by="model"),  # nothing: false
        ],
        "findings": [
            risk(10, by="check shell-injection", rule="security"),
            risk(30),
            risk(50),
        ],
    }
    s = score_case(case, result)
    b, r = s["breaking"], s["risks"]
    assert (b["expected"], b["found"], b["said"]) == (2, 2, 5)
    assert (b["true"], b["false"], b["unlabelled"], b["not_judged"]) == (2, 2, 1, 0)
    assert b["by"]["api"] == {"said": 2, "true": 1, "false": 1, "found": 1}
    assert b["by"]["schema"] == {"said": 1, "true": 1, "false": 0, "found": 1}
    assert b["by"]["model"] == {"said": 2, "true": 0, "false": 1, "found": 0}
    assert (r["expected"], r["found"], r["true"], r["false"]) == (2, 1, 1, 2)
    assert r["missed"] == ["app.py:20-20"]
    assert len(r["false_positives"]) == 2
    rated = rates(r)
    assert rated["recall"] == 0.5 and rated["precision"] == 0.333
    assert rated["by"]["check"]["precision"] == 1.0 and rated["by"]["model"]["precision"] == 0.0


def test_a_case_that_is_not_exhaustive_leaves_new_findings_unjudged():
    (case,) = parse_cases(CASE.replace("head: b", "head: b\n    exhaustive: false")).cases
    s = score_case(case, {"breaking": [], "findings": [risk(50), risk(30)]})
    r = s["risks"]
    assert (r["true"], r["false"], r["not_judged"]) == (0, 1, 1)  # 30 is labelled false
    assert rates(r)["precision"] == 0.0
