"""Benchmark: breaking-change detection on the corpus (tests/corpus/breaking),
the code-review flow against `griffe check` on the same commits.

Each case is a git repository (base on master, the pull request on feature).
flows: `flows eval`'s machinery (flows.evaluate) runs the code-review flow on
every case as a local review, with a scripted model that reports nothing
itself, so every row is the flow's own deterministic detection. griffe:
`griffe check PACKAGE -a master -b feature`. One JSON line per case and
tool, then one summary line per tool: recall over the expected breakages,
false positives (rows no case expects, any row on a clean pull request),
failed reviews.

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

from flows.evaluate.cases import CasesFile  # noqa: E402
from flows.evaluate.evaluation import evaluate  # noqa: E402
from tests.functions.code_review.corpus import (  # noqa: E402
    as_eval_case,
    griffe_check,
    load_cases,
    local_reviewer,
    make_repo,
    score,
    temp_dir,
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", help="run only the cases whose name contains this")
    args = ap.parse_args()
    cases = [c for c in load_cases() if not args.case or args.case in c.name]
    tmp = temp_dir("flows-bench-breaking-")
    repos = {c.name: make_repo(c, tmp / c.name).path for c in cases}
    cases_file = CasesFile(cases=[as_eval_case(c, repos[c.name]) for c in cases])
    with local_reviewer(tmp) as reviewer:
        ev = evaluate(tmp / "cases.yaml", cases_file, reviewer, "scripted")
    totals = {t: {"expected": 0, "found": 0, "false_positives": 0, "failed": 0, "ms": 0.0}
              for t in ("flows", "griffe")}  # fmt: skip
    for case, mine in zip(cases, ev.cases, strict=True):
        start = time.perf_counter()
        theirs, error = griffe_check(case, repos[case.name])
        griffe_ms = (time.perf_counter() - start) * 1000
        flows_got = (mine.score or {}).get("breaking") or score(case, [])
        for tool, got, ms, failed in (
            ("flows", flows_got, mine.seconds * 1000, not mine.ok),
            ("griffe", score(case, theirs, tail=True), griffe_ms, bool(error)),
        ):
            t = totals[tool]
            t["expected"] += got["expected"]
            t["found"] += got["found"]
            t["false_positives"] += got["false"]
            t["failed"] += failed
            t["ms"] += ms
            print(json.dumps({
                "bench": "breaking", "case": case.name, "tool": tool,
                "breaking_pr": case.breaking, "expected": got["expected"],
                "found": got["found"], "misses": got["missed"],
                "false_positives": got["false_positives"],
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
