"""Scoring what a review said against a case's labelled items.

A review says two kinds of things: breaking changes (result `breaking`,
found by the API diff, a migration or the model) and risks (result
`findings`, found by a check or the model). Each is matched against the
case's items of its kind: matching a true item makes it true (and the item
found); matching a false item, or (in an exhaustive case) nothing, makes it
false; matching an unlabelled item leaves it unscored; in a case that is not
exhaustive, matching nothing leaves it not judged."""

from __future__ import annotations

from typing import Any

from flows.evaluate.cases import BreakingItem, Case, Problem

# kinds that name the same breakage (a removed module is a removed object)
FAMILY = {"module-removed": "object-removed", "module-moved": "object-removed"}
WIDE = 4  # lines a risk may span beyond its problem and still be "at its lines"
FINDERS = {
    "breaking": {"api": "API diff", "schema": "migration", "model": "model"},
    "risks": {"check": "check", "model": "model"},
}


def family(kind: str) -> str:
    return FAMILY.get(kind, kind)


def breaking_matches(item: BreakingItem, said: dict[str, Any], tail: bool = False) -> bool:
    """Whether a reported breaking change is the item: the same kind (up to
    FAMILY), the same symbol (`tail`: one may name it from its module, so
    either need only end the other), the item's detail in its detail."""
    if family(str(said.get("kind", ""))) != family(item.kind):
        return False
    want, got = item.symbol, str(said.get("symbol", ""))
    if not (want == got or (tail and (want.endswith("." + got) or got.endswith("." + want)))):
        return False
    return item.detail in str(said.get("detail") or "")


def at_lines(said: dict[str, Any], p: Problem) -> bool:
    """A risk is at the problem's lines: it overlaps them (one line of slack)
    and does not cover much more (a finding on a whole file flags nothing)."""
    start = said.get("start_line")
    end = said.get("end_line") or start
    if said.get("path") != p.path or not isinstance(start, int):
        return False
    lo, hi = p.lines
    return end - start <= (hi - lo) + WIDE and start <= hi + 1 and lo <= end + 1


def risk_matches(p: Problem, said: dict[str, Any]) -> bool:
    """A posted risk flags the problem: at its lines and, when the problem
    names a rule, found by that check or of that category."""
    if not at_lines(said, p):
        return False
    if p.rule is None:
        return True
    return said.get("found_by") == f"check {p.rule}" or said.get("rule") == p.rule


def finder(kind: str, said: dict[str, Any]) -> str:
    by = str(said.get("found_by") or "model")
    if kind == "risks":
        return "check" if by.startswith("check") else "model"
    return by if by in FINDERS["breaking"] else "model"


def blank(kind: str) -> dict[str, Any]:
    return {
        "expected": 0,
        "found": 0,
        "said": 0,
        "true": 0,
        "false": 0,
        "unlabelled": 0,
        "not_judged": 0,
        "items": [],  # each true item, and who found it (none: missed)
        "missed": [],
        "false_positives": [],
        "new": [],  # what was said that no item judges (a case that is not exhaustive)
        "by": {f: {"said": 0, "true": 0, "false": 0, "found": 0} for f in FINDERS[kind]},
    }


def score_kind(kind: str, items: list, said: list[dict[str, Any]], exhaustive: bool,
               tail: bool = False) -> dict[str, Any]:  # fmt: skip
    """One kind (breaking or risks) of one case: counts and what went wrong."""
    match = (lambda i, s: breaking_matches(i, s, tail)) if kind == "breaking" else risk_matches
    out = blank(kind)
    true_items = [i for i in items if i.label is True]
    out["expected"] = len(true_items)
    found_by: dict[int, set[str]] = {id(i): set() for i in true_items}
    for s in said:
        who = finder(kind, s)
        out["said"] += 1
        out["by"][who]["said"] += 1
        hits = [i for i in items if match(i, s)]
        if any(i.label is True for i in hits):
            verdict = "true"
            for i in hits:
                if i.label is True:
                    found_by[id(i)].add(who)
        elif any(i.label is False for i in hits) or (not hits and exhaustive):
            verdict = "false"
            out["false_positives"].append(brief(kind, s))
        elif hits:  # only unlabelled items
            verdict = "unlabelled"
        else:
            verdict = "not_judged"
            out["new"].append(s)
        out[verdict] += 1
        if verdict in ("true", "false"):
            out["by"][who][verdict] += 1
    for i in true_items:
        out["items"].append({"item": _item_brief(kind, i), "by": sorted(found_by[id(i)])})
        if found_by[id(i)]:
            out["found"] += 1
            for who in found_by[id(i)]:
                out["by"][who]["found"] += 1
        else:
            out["missed"].append(_item_brief(kind, i))
    return out


def score_case(case: Case, result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A review's result against the case: breaking and risks."""
    return {
        "breaking": score_kind(
            "breaking", case.breaking, list(result.get("breaking") or []), case.exhaustive
        ),
        "risks": score_kind(
            "risks", case.problems, list(result.get("findings") or []), case.exhaustive
        ),
    }


def brief(kind: str, said: dict[str, Any]) -> str:
    if kind == "breaking":
        detail = f" ({said['detail']})" if said.get("detail") else ""
        return f"{said.get('kind')} {said.get('symbol')}{detail} [{said.get('found_by')}]"
    lines = f"{said.get('start_line')}-{said.get('end_line')}"
    return f"{said.get('path')}:{lines} {said.get('found_by')}: {said.get('title', '')}"


def _item_brief(kind: str, item: BreakingItem | Problem) -> str:
    if isinstance(item, BreakingItem):
        return f"{item.kind} {item.symbol}" + (f" ({item.detail})" if item.detail else "")
    rule = f" {item.rule}" if item.rule else ""
    return f"{item.path}:{item.lines[0]}-{item.lines[1]}{rule}"


def add(total: dict[str, Any], one: dict[str, Any]) -> None:
    """Add one case's counts of a kind into a running total."""
    for k in ("expected", "found", "said", "true", "false", "unlabelled", "not_judged"):
        total[k] += one[k]
    for who, counts in one["by"].items():
        for k, v in counts.items():
            total["by"][who][k] += v


def ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def rates(counts: dict[str, Any]) -> dict[str, Any]:
    """Recall (true items found) and precision (of what was said and judged),
    overall and by finder."""
    judged = counts["true"] + counts["false"]
    by = {}
    for who, c in counts["by"].items():
        by[who] = {
            **c,
            "recall": ratio(c["found"], counts["expected"]),
            "precision": ratio(c["true"], c["true"] + c["false"]),
        }
    return {
        "recall": ratio(counts["found"], counts["expected"]),
        "precision": ratio(counts["true"], judged),
        **{k: counts[k] for k in ("expected", "found", "said", "true", "false")},
        **{k: counts[k] for k in ("unlabelled", "not_judged")},
        "by": by,
    }
