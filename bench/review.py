"""Benchmark: the code-review flow from signed webhook to posted comment.

The model is a scripted one (an OpenAI-compatible answer made in-process,
served by respx), instant by default, so the figures are flows' own cost:
ingress, queue, sandbox, GitHub calls to the fake GitHub over a real git
repository, diff numbering, budgeting, griffe, rendering and memory. PRs of
1, 20 and 200 files, and one of 10,000 changed lines. One JSON line per PR.

Tokens are counted with a real tokenizer where the real model is at hand
(Qwen2.5's, fetched as the tests fetch it): the stub server answers
llama-cpp-python's /extras/tokenize/count with it, so flows packs by it, and
reports prompt tokens by it (the chat template, and the schema).
`--model-latency 2` makes every call take 2 s, to measure calls side by side.

    python bench/review.py [--repeat 3] [--context-window 128000]
        [--model-latency 0] [--max-concurrency 4] [--only "200 files"]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import respx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from sqlalchemy import select  # noqa: E402

from flows.db.migrate import upgrade  # noqa: E402
from flows.db.models import Run  # noqa: E402
from flows.project.config import load_config  # noqa: E402
from flows.server.http import create_app  # noqa: E402
from flows.server.service import Service  # noqa: E402
from tests.conftest import make_project  # noqa: E402
from tests.fakes.git import GitRepo  # noqa: E402
from tests.fakes.github import FakeGitHub  # noqa: E402
from tests.fakes.model import Rule, ScriptedModel  # noqa: E402
from tests.functions.code_review.fixtures import CODE_REVIEW, SECRET, Deliver, ours, pr_payload  # noqa: E402

BASE = "https://llm.bench/v1"
TOKEN = "ghs_bench_token_0123456789abcdef"
# (name, files, functions per file); every function's body changes, every
# fifth gets a new required parameter (a breaking change griffe must find)
CASES = [("1 file", 1, 20), ("20 files", 20, 20), ("200 files", 200, 5), ("10k lines", 50, 96)]


def module(i: int, functions: int, edited: bool) -> str:
    body = [f'"""Module {i}."""', "", ""]
    for j in range(functions):
        args = "value, scale" if edited and j % 5 == 0 else "value"
        body += [f"def func_{j}({args}):", f"    return value * {j + (1 if edited else 0)}", "", ""]
    return "\n".join(body) + "\n"


def make_repo(root: Path, files: int, functions: int) -> GitRepo:
    git = GitRepo(root, "master")
    git.commit("base", {f"src/pkg/m{i}.py": module(i, functions, False) for i in range(files)})
    git.checkout("feature", create=True)
    git.commit("change", {f"src/pkg/m{i}.py": module(i, functions, True) for i in range(files)})
    return git


def real_tokenizer():
    """Qwen2.5's tokenizer (the real model's vocabulary), or None."""
    from tests.functions.code_review.quality import real_model

    path, why = real_model()
    if path is None:
        print(json.dumps({"bench": "review", "tokenizer": "chars/4", "why": why}), flush=True)
        return None
    from llama_cpp import Llama

    vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
    return lambda text: len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--context-window", type=int, default=128000, help="the model's, in tokens")
    ap.add_argument("--model-latency", type=float, default=0.0, help="seconds per model call")
    ap.add_argument("--max-concurrency", type=int, default=4, help="llm.openai.max_concurrency")
    ap.add_argument("--only", default="", help="one PR size, e.g. '200 files'")
    args = ap.parse_args()
    count = real_tokenizer()
    fake = FakeGitHub(token=TOKEN).start()
    tmp = Path(tempfile.mkdtemp(prefix="flows-bench-review-"))
    path = make_project(
        tmp / "proj",
        CODE_REVIEW,
        f"""
llm:
  backend: openai
  openai: {{base_url: "{BASE}", api_key: "sk-bench", model: scripted,
           context_window: {args.context_window}, max_concurrency: {args.max_concurrency}}}
""",
    )
    cfg = load_config(path)
    cfg.github.api_url, cfg.github.token = fake.url, SecretStr(TOKEN)
    cfg.github.webhook_secret = SecretStr(SECRET)
    cfg.github.request_interval_s = cfg.github.write_interval_s = 0
    cfg.database.url = f"sqlite:///{tmp / 'flows.db'}"
    svc = Service(cfg)
    upgrade(svc.engine)
    model = ScriptedModel(rules=[Rule(r"value, scale", severity="medium", rule="bug")],
                          latency_s=args.model_latency, count=count)  # fmt: skip
    number = 1000
    with respx.mock(assert_all_called=False) as mock, TestClient(create_app(svc)) as client:
        mock.post(f"{BASE}/chat/completions").mock(side_effect=model)
        if count is not None:  # the server's tokenizer, as llama-cpp-python's server has it
            mock.post(BASE.removesuffix("/v1") + "/extras/tokenize/count").mock(
                side_effect=lambda r: httpx.Response(
                    200, json={"count": count(json.loads(r.content)["input"])}
                )
            )
        deliver = Deliver(client, svc)
        svc.runtime.plan("code-review")  # build and load once, as `flows serve` does at start
        for name, files, functions in CASES:
            if args.only and name != args.only:
                continue
            git = make_repo(tmp / f"repo-{files}-{functions}", files, functions)
            walls, runs = [], []
            for _ in range(args.repeat):
                number += 1
                model.requests.clear()
                payload = pr_payload(number, git, fake)
                start = time.perf_counter()
                deliver("pull_request", payload)
                walls.append((time.perf_counter() - start) * 1000)
                assert len(ours(fake.repos["codertocat/hello-world"], number)) == 1
                with svc.queue.session() as s:
                    run = s.scalars(select(Run).order_by(Run.started_at.desc())).first()
                    runs.append(json.loads(run.report))
            report = runs[-1]
            assert report["status"] == "ok", report["error"]
            changed = sum(f["changes"] for f in fake.repos["codertocat/hello-world"].files[number])
            largest = max(model.prompt_tokens(b) + b["max_tokens"] for b in model.requests)
            skipped = report["result"]["not_reviewed"]
            print(
                json.dumps(
                    {
                        "bench": "review",
                        "context_window": args.context_window,
                        "pr": name,
                        "files": files,
                        "changed_lines": changed,
                        "webhook_to_comment_ms_p50": round(statistics.median(walls), 1),
                        "webhook_to_comment_ms_min": round(min(walls), 1),
                        "run_ms_p50": round(statistics.median(r["duration_ms"] for r in runs), 1),
                        "model_latency_s": args.model_latency,
                        "max_concurrency": args.max_concurrency,
                        "model_wall_ms": report["llm"]["wall_ms"],
                        "model_ms_summed": report["llm"]["latency_ms"],
                        "model_calls": report["llm"]["calls"],
                        "model_splits": report["result"]["model_splits"],
                        "tokenizer": "qwen2.5" if count else "chars/4",
                        "prompt_tokens": report["llm"]["prompt_tokens"],
                        "prompt_tokens_per_changed_line": round(
                            report["llm"]["prompt_tokens"] / changed, 2
                        ),
                        "largest_request_tokens": largest,
                        "files_not_reviewed": dict(
                            Counter(why.split(" (")[0].split(":")[0] for why in skipped.values())
                        ),
                        "breaking_found": len(report["result"]["breaking"]),
                        "github_writes": len(report["writes"]),
                    }
                ),
                flush=True,
            )
    fake.stop()


if __name__ == "__main__":
    main()
