"""`flows eval`: every case of a cases file reviewed and scored, per case
and overall, and two configurations side by side."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flows.capabilities.github.local import LocalRepository, pull_range
from flows.errors import FlowsError
from flows.evaluate.cases import Case, CasesError, CasesFile, repo_path
from flows.evaluate.local import LocalReviewer
from flows.evaluate.score import FINDERS, add, blank, brief, rates, ratio, score_case

# progress(i, n, case, result): before a case (result None) and after it
CaseProgress = Callable[[int, int, Case, "CaseResult | None"], None]


@dataclass
class CaseResult:
    name: str
    status: str  # ok, failed
    error: str = ""
    seconds: float = 0.0
    score: dict[str, Any] | None = None
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    dropped: int = 0  # model findings dropped as ungrounded
    model_failed: str | None = None
    clean: bool = False
    # what the review said: its breaking changes and posted risks, as the result has them
    said: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class Evaluation:
    config: str
    cases: list[CaseResult]

    @property
    def failed(self) -> list[CaseResult]:
        return [c for c in self.cases if not c.ok]

    def overall(self) -> dict[str, Any]:
        return overall(self.cases)

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config, "overall": self.overall(),
                "cases": [asdict(c) for c in self.cases]}  # fmt: skip


def check_cases(cases_path: str | Path, cases: CasesFile) -> dict[str, LocalRepository]:
    """Each case's repository, once every repository and range is checked:
    CasesError naming each case that cannot be reviewed, before any runs."""
    repos: dict[str, LocalRepository] = {}
    problems = []
    for i, case in enumerate(cases.cases):
        where = f"cases.{i} ({case.name})"
        try:
            path = repo_path(cases_path, case)
            repo = repos.get(str(path)) or LocalRepository.open(path)
            repos[str(path)] = repo
            pull_range(repo, case.base, case.head)
        except FlowsError as e:
            problems.append(f"{where}: {e}")
    if problems:
        lines = "\n  ".join(problems)
        raise CasesError(f"{cases_path}: cases that cannot be reviewed:\n  {lines}")
    return {c.name: repos[str(repo_path(cases_path, c))] for c in cases.cases}


def run_case(reviewer: LocalReviewer, repo: LocalRepository, case: Case) -> CaseResult:
    """One case reviewed and scored; a review that fails is a failed case."""
    try:
        done = reviewer.review(repo, case.base, case.head, title=case.title, body=case.body)
    except FlowsError as e:
        return CaseResult(case.name, "failed", error=str(e), clean=case.clean)
    llm = done.report.get("llm") or {}
    out = CaseResult(
        case.name,
        "ok" if done.ok else "failed",
        error=done.error,
        seconds=round(done.seconds, 2),
        model_calls=int(llm.get("calls") or 0),
        prompt_tokens=int(llm.get("prompt_tokens") or 0),
        completion_tokens=int(llm.get("completion_tokens") or 0),
        clean=case.clean,
    )
    if not done.ok:
        return out
    result = done.result
    if "skipped" in result:
        out.status, out.error = "failed", f"the review skipped it: {result['skipped']}"
        return out
    out.dropped = int(result.get("model_findings_dropped") or 0)
    out.model_failed = result.get("model_failed")
    out.score = score_case(case, result)
    out.said = {"breaking": list(result.get("breaking") or []),
                "risks": list(result.get("findings") or [])}  # fmt: skip
    return out


def evaluate(
    cases_path: str | Path,
    cases: CasesFile,
    reviewer: LocalReviewer,
    config: str = "app.yaml",
    progress: CaseProgress | None = None,
) -> Evaluation:
    """Review and score every case (checked first: CasesError before any run)."""
    repos = check_cases(cases_path, cases)
    reviewer.prepare()
    results = []
    n = len(cases.cases)
    for i, case in enumerate(cases.cases, 1):
        if progress:
            progress(i, n, case, None)
        got = run_case(reviewer, repos[case.name], case)
        results.append(got)
        if progress:
            progress(i, n, case, got)
    return Evaluation(config, results)


def overall(results: list[CaseResult]) -> dict[str, Any]:
    totals = {kind: blank(kind) for kind in FINDERS}
    scored = [r for r in results if r.score is not None]
    for r in scored:
        for kind in FINDERS:
            add(totals[kind], r.score[kind])
    clean = [r for r in scored if r.clean]
    return {
        "cases": len(results),
        "failed": sum(not r.ok for r in results),
        "breaking": rates(totals["breaking"]),
        "risks": rates(totals["risks"]),
        "clean_cases": len(clean),
        "clean_cases_silent": sum(not (r.said["breaking"] or r.said["risks"]) for r in clean),
        "model_findings_dropped": sum(r.dropped for r in scored),
        "model_part_failed": sum(bool(r.model_failed) for r in scored),
        "model_calls": sum(r.model_calls for r in results),
        "prompt_tokens": sum(r.prompt_tokens for r in results),
        "completion_tokens": sum(r.completion_tokens for r in results),
        "seconds": round(sum(r.seconds for r in results), 1),
        "seconds_per_case": round(sum(r.seconds for r in results) / max(len(results), 1), 1),
    }


# -- text --------------------------------------------------------------------------


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _frac(found: int, expected: int) -> str:
    return f"{found}/{expected}" if expected else "-"


def render(ev: Evaluation) -> str:
    """Per case, then overall with each finder's share."""
    rows = [f"{'case':<32} {'status':<7} {'breaking':>9} {'prec':>5} {'risks':>7} {'prec':>5} "
            f"{'dropped':>7} {'tokens in/out':>15} {'calls':>5} {'time':>7}"]  # fmt: skip
    for r in ev.cases:
        if r.score is None:
            rows.append(f"{r.name[:32]:<32} {'FAILED':<7} {r.error[:80]}")
            continue
        b, k = r.score["breaking"], r.score["risks"]
        bp = _rate(ratio(b["true"], b["true"] + b["false"]))
        kp = _rate(ratio(k["true"], k["true"] + k["false"]))
        rows.append(
            f"{r.name[:32]:<32} {r.status:<7} {_frac(b['found'], b['expected']):>9} {bp:>5} "
            f"{_frac(k['found'], k['expected']):>7} {kp:>5} {r.dropped:>7} "
            f"{r.prompt_tokens:>7,}/{r.completion_tokens:<7,} {r.model_calls:>5} "
            f"{r.seconds:>6.1f}s"
        )
        for kind, s in (("breaking", b), ("risks", k)):
            rows += [f"    missed {kind}: {m}" for m in s["missed"]]
            rows += [f"    false {kind}: {m}" for m in s["false_positives"]]
            rows += [f"    not judged {kind}: {brief(kind, m)}" for m in s["new"]]
    o = ev.overall()
    rows.append("")
    rows.append(f"overall ({ev.config}): {o['cases']} cases, {o['failed']} failed, "
                f"{o['seconds_per_case']} s per case")  # fmt: skip
    for kind in FINDERS:
        s = o[kind]
        rows.append(
            f"  {kind:<9} recall {_rate(s['recall'])} ({s['found']}/{s['expected']})  "
            f"precision {_rate(s['precision'])} ({s['true']}/{s['true'] + s['false']})  "
            f"unlabelled {s['unlabelled']}  not judged {s['not_judged']}"
        )
        for who, label in FINDERS[kind].items():
            c = s["by"][who]
            rows.append(f"    {label:<10} said {c['said']:>4}  true {c['true']:>4}  "
                        f"false {c['false']:>4}  precision {_rate(c['precision'])}  "
                        f"found {c['found']:>4}")  # fmt: skip
    rows.append(
        f"  model: {o['model_calls']} calls, {o['prompt_tokens']:,} prompt + "
        f"{o['completion_tokens']:,} completion tokens, {o['model_findings_dropped']} findings "
        f"dropped as ungrounded, part failed in {o['model_part_failed']} reviews"
    )
    if o["clean_cases"]:
        silent = f"{o['clean_cases_silent']}/{o['clean_cases']}"
        rows.append(f"  clean cases with nothing said: {silent}")
    return "\n".join(rows) + "\n"


COMPARED = [
    ("breaking recall", ("breaking", "recall")),
    ("breaking precision", ("breaking", "precision")),
    ("risks recall", ("risks", "recall")),
    ("risks precision", ("risks", "precision")),
    ("risks by model: said", ("risks", "by", "model", "said")),
    ("risks by model: precision", ("risks", "by", "model", "precision")),
    ("findings dropped", ("model_findings_dropped",)),
    ("model part failed", ("model_part_failed",)),
    ("model calls", ("model_calls",)),
    ("prompt tokens", ("prompt_tokens",)),
    ("completion tokens", ("completion_tokens",)),
    ("failed cases", ("failed",)),
    ("seconds per case", ("seconds_per_case",)),
]


def _dig(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def compare(a: Evaluation, b: Evaluation) -> dict[str, Any]:
    """Two configurations on the same cases: each metric and per-case status."""
    oa, ob = a.overall(), b.overall()
    metrics = {name: {"a": _dig(oa, p), "b": _dig(ob, p)} for name, p in COMPARED}
    return {"a": a.to_dict(), "b": b.to_dict(), "metrics": metrics}


def render_compare(a: Evaluation, b: Evaluation) -> str:
    width = max(len(a.config), len(b.config), 12)
    rows = [f"{'':<28} {a.config:>{width}} {b.config:>{width}}"]
    for name, m in compare(a, b)["metrics"].items():
        va, vb = m["a"], m["b"]
        fa = _rate(va) if isinstance(va, float) or va is None else f"{va:,}"
        fb = _rate(vb) if isinstance(vb, float) or vb is None else f"{vb:,}"
        rows.append(f"{name:<28} {fa:>{width}} {fb:>{width}}")
    return "\n".join(rows) + "\n"
