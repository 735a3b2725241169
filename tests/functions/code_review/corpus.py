"""The breaking-change corpus (tests/corpus/breaking): cases as git
repositories, the code-review flow run on each through the service and the
fake GitHub, `griffe check` run on the same commits, and each case as a
`flows eval` case scored by flows.evaluate. Shared by test_corpus.py and
bench/breaking.py."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import respx
import yaml
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import delete, select

from flows.db.migrate import upgrade
from flows.db.models import Finding, Knowledge, MemoryItem, Run
from flows.evaluate.cases import BreakingItem, Problem
from flows.evaluate.cases import Case as EvalCase
from flows.evaluate.local import LocalReviewer
from flows.evaluate.score import score_kind
from flows.project.config import load_config
from flows.server.http import create_app
from flows.server.service import Service
from tests.conftest import make_project
from tests.fakes.git import GitRepo
from tests.fakes.github import FakeGitHub
from tests.fakes.model import ScriptedModel
from tests.functions.code_review.fixtures import (
    CODE_REVIEW,
    PR_BODY,
    PR_TITLE,
    SECRET,
    Deliver,
    pr_payload,
)

CASES = Path(__file__).resolve().parents[2] / "corpus" / "breaking"
TOKEN = "ghs_corpus_token_0123456789abcdef"
BASE_URL = "https://llm.corpus/v1"
KEYS = {"modelled_on", "package", "search", "base", "head", "rename", "expect"}


@dataclass
class Case:
    name: str
    modelled_on: str
    package: str
    base: dict[str, str]
    head: dict[str, str | None]
    expect: list[dict]
    search: str = "."
    rename: dict[str, str] = field(default_factory=dict)

    @property
    def breaking(self) -> bool:
        return bool(self.expect)


def read_cases(folder: Path, keys: set[str]) -> Iterator[tuple[str, dict]]:
    """(name, data) of each case file in a corpus folder; unknown keys refused."""
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        unknown = set(data) - keys
        if unknown:
            raise ValueError(f"{path.name}: unknown keys {sorted(unknown)}")
        yield path.stem, data


def load_cases(folder: Path = CASES) -> list[Case]:
    cases = []
    for name, data in read_cases(folder, KEYS):
        cases.append(
            Case(
                name=name,
                modelled_on=data["modelled_on"],
                package=data["package"],
                base=data["base"],
                head=data.get("head") or {},
                expect=data.get("expect") or [],
                search=data.get("search", "."),
                rename=data.get("rename") or {},
            )
        )
    return cases


def make_repo(case: Case, root: Path) -> GitRepo:
    """master holds the base tree; the branch `feature` the head commit."""
    git = GitRepo(root, default_branch="master")
    git.commit("base", case.base)
    git.checkout("feature", create=True)
    for old, new in case.rename.items():
        git.rename(old, new)
    files = {p: c for p, c in case.head.items() if not (c is None and p in case.rename)}
    git.commit("head", files)
    return git


def breaking_items(case: Case) -> list[BreakingItem]:
    """What the case expects, as a cases file's breaking items."""
    return [BreakingItem(**e) for e in case.expect]


def score(case: Case, found: list[dict], tail: bool = False) -> dict:
    """The reported breaking changes against what the case expects
    (`tail`: griffe names objects from their module)."""
    return score_kind("breaking", breaking_items(case), found, exhaustive=True, tail=tail)


def as_eval_case(case: Case, repo: Path, problems: list[Problem] | None = None) -> EvalCase:
    """The corpus case as a `flows eval` case over its repository (made by make_repo)."""
    return EvalCase(name=case.name, repo=str(repo), base="master", head="feature",
                    title=PR_TITLE, body=PR_BODY, note=case.modelled_on,
                    breaking=breaking_items(case), problems=problems or [])  # fmt: skip


# -- griffe check -------------------------------------------------------------------

_GRIFFE_LINE = re.compile(r"^(?P<path>[^:\n]+):(?P<line>\d+): (?P<obj>[^:\n]+?): (?P<text>.+)$")


def _griffe_kinds() -> dict[str, str]:
    from griffe import BreakageKind

    return {k.value: k.name.lower().replace("_", "-") for k in BreakageKind}


def griffe_check(case: Case, repo: Path) -> tuple[list[dict], str]:
    """`griffe check PACKAGE -a master -b feature` on the case's repository,
    its breakages as items like the flow's, and its error output if it failed."""
    if case.package == "none":
        return [], ""
    cmd = [sys.executable, "-m", "griffecli", "check", case.package, "-a", "master",
           "-b", "feature", "-s", case.search, "-f", "oneline", "--no-color"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=120)
    kinds, found = _griffe_kinds(), []
    for line in (proc.stdout + "\n" + proc.stderr).splitlines():
        m = _GRIFFE_LINE.match(line.strip())
        text = next((k for k in kinds if m and m["text"].startswith(k)), None) if m else None
        if text is None:
            continue
        obj, param = m["obj"], ""
        if obj == "<module>":  # a removed module: named by its file
            rel = m["path"].removeprefix(case.search.rstrip("/") + "/").removesuffix(".py")
            obj = rel.removesuffix("/__init__").replace("/", ".")
        if obj.endswith(")") and "(" in obj:
            obj, param = obj[:-1].split("(", 1)
        detail = f"{text}: {param}"
        found.append({"symbol": obj, "kind": kinds[text], "detail": detail, "path": m["path"]})
    error = proc.stderr.strip() if proc.returncode not in (0, 1) else ""
    return found, error


# -- the flow -----------------------------------------------------------------------


SCRIPTED = f"""
llm:
  backend: openai
  openai: {{base_url: "{BASE_URL}", api_key: "sk-corpus", model: scripted}}
"""


def llama(model_path: Path, n_ctx: int = 8192) -> str:
    """The llm: section for a local GGUF model in process (CPU)."""
    return f"""
llm:
  backend: llama
  llama: {{model_path: "{model_path}", n_ctx: {n_ctx}, n_gpu_layers: 0}}
"""


class FlowRunner:
    """The code-review flow behind the service's webhook endpoint, over the
    fake GitHub; by default with a scripted model that finds nothing itself
    (`llm`: another app.yaml llm: section, e.g. llama(PATH))."""

    def __init__(self, tmp: Path, llm: str = SCRIPTED, timeout_s: int = 120) -> None:
        self.tmp, self.llm = tmp, llm
        self.flow = CODE_REVIEW.replace("timeout_s: 120", f"timeout_s: {timeout_s}")
        self.numbers = iter(range(5000, 100000))

    @contextlib.contextmanager
    def started(self) -> Iterator[FlowRunner]:
        self.fake = FakeGitHub(token=TOKEN).start()
        path = make_project(self.tmp / "proj", self.flow, self.llm)
        cfg = load_config(path)
        cfg.github.api_url, cfg.github.token = self.fake.url, SecretStr(TOKEN)
        cfg.github.webhook_secret = SecretStr(SECRET)
        cfg.github.request_interval_s = cfg.github.write_interval_s = 0
        cfg.database.url = f"sqlite:///{self.tmp / 'flows.db'}"
        self.svc = Service(cfg)
        upgrade(self.svc.engine)
        self.model = ScriptedModel()
        try:
            with (
                respx.mock(assert_all_called=False) as mock,
                TestClient(create_app(self.svc)) as client,
            ):
                mock.post(f"{BASE_URL}/chat/completions").mock(side_effect=self.model)
                self.deliver = Deliver(client, self.svc)
                self.svc.runtime.plan("code-review")
                yield self
        finally:
            self.fake.stop()

    def review(self, git: GitRepo) -> dict:
        """One pull request from master to feature, reviewed; the run report.
        Each case is its own project: what earlier reviews taught the
        repository's memory (history, findings) is forgotten first."""
        with self.svc.queue.session() as s, s.begin():
            for table in (MemoryItem, Finding, Knowledge):
                s.execute(delete(table))
        payload = pr_payload(next(self.numbers), git, self.fake)
        self.deliver("pull_request", payload)
        with self.svc.queue.session() as s:
            run = s.scalars(select(Run).order_by(Run.started_at.desc())).first()
            return json.loads(run.report)


@contextlib.contextmanager
def local_reviewer(tmp: Path, llm: str = SCRIPTED, timeout_s: int = 120) -> Iterator:
    """`flows eval`'s reviewer of a project with the code-review flow; the
    scripted model answers the SCRIPTED section's server."""
    flow = CODE_REVIEW.replace("timeout_s: 120", f"timeout_s: {timeout_s}")
    cfg = load_config(make_project(tmp / "eval-proj", flow, llm))
    model = ScriptedModel()
    with respx.mock(assert_all_called=False) as mock, LocalReviewer(cfg) as reviewer:
        mock.post(f"{BASE_URL}/chat/completions").mock(side_effect=model)
        yield reviewer


def run_flow(runner: FlowRunner, case: Case, root: Path) -> tuple[list[dict], dict]:
    report = runner.review(make_repo(case, root))
    result = report.get("result") or {}
    return list(result.get("breaking") or []), report


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
