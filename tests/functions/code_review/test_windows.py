"""Reviews that fit any window: every request counted by a real tokenizer
(Qwen2.5's where the real model is at hand, else one token per byte, as the
tiny test model counts), a 2,048-token window, a server whose window is
smaller than configured, one that refuses every size, one that ignores
max_tokens, and calls side by side within llm.openai.max_concurrency."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from flows.db.migrate import upgrade
from flows.server.http import create_app
from flows.server.service import Service
from tests.fakes.git import GitRepo
from tests.fakes.model import Rule, ScriptedModel
from tests.functions.code_review.fixtures import Deliver, ours, pr_payload
from tests.functions.code_review.quality import real_model
from tests.functions.code_review.test_review import BASE, fake, last_report, project  # noqa: F401

pytestmark = pytest.mark.slow
_numbers = iter(range(3000, 4000))


@pytest.fixture(scope="module")
def tokenizer():
    """A real tokenizer on this machine, without the network."""
    path, _why = real_model()
    if path is None:
        return lambda text: len(text.encode("utf-8"))
    from llama_cpp import Llama

    vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
    return lambda text: len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))


@pytest.fixture
def model(tokenizer):
    m = ScriptedModel(rules=[Rule(r"\beval\(")], count=tokenizer)
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{BASE}/chat/completions").mock(side_effect=m)
        mock.post(BASE.removesuffix("/v1") + "/extras/tokenize/count").mock(
            side_effect=lambda r: httpx.Response(
                200, json={"count": tokenizer(json.loads(r.content)["input"])}
            )
        )
        yield m


def start(tmp_path, fake, **openai):  # noqa: F811
    _path, cfg = project(tmp_path, fake)
    for key, value in openai.items():
        setattr(cfg.llm.openai, key, value)
    svc = Service(cfg)
    upgrade(svc.engine)
    return svc


def many_files(tmp_path, files: int = 12, lines: int = 25) -> GitRepo:
    git = GitRepo(tmp_path / "repo", "master")
    git.commit("init", {"README.md": "x\n"})
    git.checkout("feature", create=True)
    changed = {
        f"pkg/mod{i}.py": "".join(f"def f{j}(x):\n    return x * {i + j}\n" for j in range(lines))
        for i in range(files)
    }
    changed["pkg/mod3.py"] += "def g(expr):\n    return eval(expr)\n"
    git.commit("many", changed)
    return git


def review(svc, fake, git) -> tuple[dict, int]:  # noqa: F811
    n = next(_numbers)
    with TestClient(create_app(svc)) as client:
        Deliver(client, svc)("pull_request", pr_payload(n, git, fake))
    return last_report(svc), n


def test_a_2048_token_window_fits_every_call_and_reviews_every_file(tmp_path, fake, model):  # noqa: F811
    svc = start(tmp_path, fake, context_window=2048)
    git = many_files(tmp_path, files=12, lines=5)
    report, n = review(svc, fake, git)
    assert report["status"] == "ok", report["error"]
    result = report["result"]
    assert result["model_failed"] is None and result["model_splits"] == 0
    assert len(model.requests) > 2  # many chunks, and the overview
    for body in model.requests:  # every request as the real tokenizer counts it
        assert model.prompt_tokens(body) + body["max_tokens"] <= 2048
    assert report["llm"]["too_long"] == 0
    assert sorted(result["files_reviewed"]) == sorted(f"pkg/mod{i}.py" for i in range(12))
    assert not [w for w in result["not_reviewed"].values() if "model" in w or "budget" in w]
    body = ours(fake.repos["codertocat/hello-world"], n)[0]["body"]
    assert "| `pkg/mod11.py` | Changes pkg/mod11.py. |" in body
    assert "`pkg/mod3.py` L" in body.split("### Risks")[1]


def test_a_server_with_a_smaller_window_than_configured_gets_split_calls(
    tmp_path,
    fake,  # noqa: F811
    model,
):
    model.window = 5000  # the server's real window; app.yaml says 8192
    svc = start(tmp_path, fake, context_window=8192)
    report, n = review(svc, fake, many_files(tmp_path, files=6, lines=60))
    assert report["status"] == "ok", report["error"]
    result = report["result"]
    assert result["model_failed"] is None
    assert result["model_splits"] >= 1 and report["llm"]["too_long"] >= 1
    assert sorted(result["files_reviewed"]) == sorted(f"pkg/mod{i}.py" for i in range(6))
    assert not [w for w in result["not_reviewed"].values() if "model" in w]
    logs = " ".join(line["message"] for line in report["logs"])
    assert "too long for the model" in logs and "split in two" in logs
    body = ours(fake.repos["codertocat/hello-world"], n)[0]["body"]
    assert "| `pkg/mod5.py` | Changes pkg/mod5.py. |" in body


def test_a_server_that_refuses_every_size_fails_only_the_models_part(
    tmp_path,
    fake,  # noqa: F811
    model,
):
    model.window = 600  # smaller than the instructions alone
    svc = start(tmp_path, fake, context_window=8192)
    report, n = review(svc, fake, many_files(tmp_path, files=4, lines=10))
    assert report["status"] == "ok", report["error"]
    failed = report["result"]["model_failed"]
    assert "does not fit the model's context window of 600 tokens" in failed
    assert "llm.openai.context_window" in failed and "maximum context length is 600" in failed
    assert len(model.requests) <= 4  # the server's word is taken: no halvings for nothing
    body = ours(fake.repos["codertocat/hello-world"], n)[0]["body"]
    assert "`pkg/mod3.py` L" in body.split("### Risks")[1]  # the checks still speak


def test_calls_run_side_by_side_within_max_concurrency(tmp_path, fake, model):  # noqa: F811
    model.latency_s = 0.4
    svc = start(tmp_path, fake, context_window=2048, max_concurrency=2)
    report, _n = review(svc, fake, many_files(tmp_path, files=8))
    assert report["status"] == "ok", report["error"]
    assert model.most_in_flight == 2  # side by side, never more than allowed
    llm = report["llm"]
    assert llm["calls"] >= 4 and llm["wall_ms"] < 0.75 * llm["latency_ms"]


def test_a_server_that_ignores_max_tokens_is_noted_not_fatal(tmp_path, fake, model):  # noqa: F811
    model.ignore_max_tokens = True
    svc = start(tmp_path, fake, context_window=4096)
    report, _n = review(svc, fake, many_files(tmp_path, files=4))
    assert report["status"] == "ok", report["error"]
    over = [c for c in report["llm"]["by_call"] if "over_max_tokens" in c]
    assert over and over[0]["completion_tokens"] > over[0]["over_max_tokens"]
    assert any("over the max_tokens" in line["message"] for line in report["logs"])
