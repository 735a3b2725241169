"""Benchmark: breaking-change detection on the corpus (tests/corpus/breaking),
the code-review flow against `griffe check` on the same commits.

Each case is a git repository (base on master, the pull request on feature).
flows: the whole code-review flow behind the webhook endpoint, over the fake
GitHub and a scripted model that reports nothing itself, so every row is the
flow's own deterministic detection. griffe: `griffe check PACKAGE -a master
-b feature`. One JSON line per case and tool, then one summary line per tool:
recall over the expected breakages, false positives (rows no case expects,
any row on a clean pull request), failed reviews.

    python bench/breaking.py [--case NAME]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.functions.code_review.corpus import (  # noqa: E402
    FlowRunner,
    griffe_check,
    load_cases,
    make_repo,
    run_flow,
    score,
    temp_dir,
)


def _brief(items: list[dict]) -> list[str]:
    return [f"{i['kind']} {i['symbol']}" + (f" ({i['detail']})" if i.get("detail") else "")
            for i in items]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", help="run only the cases whose name contains this")
    args = ap.parse_args()
    cases = [c for c in load_cases() if not args.case or args.case in c.name]
    tmp = temp_dir("flows-bench-breaking-")
    totals = {t: {"expected": 0, "found": 0, "false_positives": 0, "failed": 0, "ms": 0.0}
              for t in ("flows", "griffe")}  # fmt: skip
    with FlowRunner(tmp).started() as runner:
        for case in cases:
            repo = tmp / case.name
            make_repo(case, repo)  # griffe reads this one; the flow gets its own
            start = time.perf_counter()
            found, report = run_flow(runner, case, tmp / f"{case.name}-flow")
            flow_ms = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            theirs, error = griffe_check(case, repo)
            griffe_ms = (time.perf_counter() - start) * 1000
            for tool, items, ms, failed, tail in (
                ("flows", found, flow_ms, report.get("status") != "ok", False),
                ("griffe", theirs, griffe_ms, bool(error), True),
            ):
                got = score(case, items, tail=tail)
                t = totals[tool]
                t["expected"] += len(case.expect)
                t["found"] += len(got["hits"])
                t["false_positives"] += len(got["false_positives"])
                t["failed"] += failed
                t["ms"] += ms
                print(json.dumps({
                    "bench": "breaking", "case": case.name, "tool": tool,
                    "breaking_pr": case.breaking, "expected": len(case.expect),
                    "found": len(got["hits"]), "misses": _brief(got["misses"]),
                    "false_positives": _brief(got["false_positives"]),
                    "failed": failed, "ms": round(ms, 1),
                }), flush=True)  # fmt: skip
    for tool, t in totals.items():
        print(json.dumps({
            "bench": "breaking", "summary": tool, "cases": len(cases),
            "breaking_prs": sum(c.breaking for c in cases),
            "clean_prs": sum(not c.breaking for c in cases),
            "expected": t["expected"], "found": t["found"],
            "recall": round(t["found"] / t["expected"], 3) if t["expected"] else None,
            "false_positives": t["false_positives"], "failed_reviews": t["failed"],
            "ms_per_case": round(t["ms"] / max(len(cases), 1), 1),
        }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
