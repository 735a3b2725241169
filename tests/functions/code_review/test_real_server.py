"""One review through a real OpenAI-compatible server running here:
llama-cpp-python's own (`python -m llama_cpp.server`) serving the real 0.5B
model with a 2,048-token window (the tiny test model with a byte tokenizer
where the real one cannot be fetched). The server refuses json_schema with
a 500 and counts with its own tokenizer; the review steps down to what it
takes, packs by that tokenizer, never sends a request over the window, and
posts its comment."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from tests.functions.code_review.corpus import Case, make_repo
from tests.functions.code_review.fixtures import CODE_REVIEW, app_server, served_review
from tests.functions.code_review.quality import load_planted, real_model
from tests.tiny_gguf import write_tiny_llama

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def model_server(tmp_path):
    """llama-cpp-python's server on a free port: (base_url, n_ctx, real model?)."""
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")
    model, _why = real_model()
    n_ctx = 2048 if model else 8192  # the tiny model spends a token per byte
    if model is None:
        model = write_tiny_llama(tmp_path / "tiny.gguf")
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--n_ctx",
           str(n_ctx), "--port", str(port), "--n_threads", "2", "--seed", "0"]  # fmt: skip
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield base, n_ctx, n_ctx == 2048
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_review_through_llama_cpp_pythons_server_fits_its_window(
    tmp_path, app_github, app_key, model_server
):
    base, n_ctx, real = model_server
    # six planted pull requests as one: more than one 2,048-token call holds
    chosen = [p for p in load_planted() if p.name[:2] in ("01", "03", "04", "06", "07", "09")]
    before = {k: v for p in chosen for k, v in p.case.base.items()}
    after = {k: v for p in chosen for k, v in p.case.head.items()}
    case = Case("merged", "tests/corpus/review", "none", before, after, [])
    fake = app_github
    llm = f"""
llm:
  backend: openai
  openai: {{base_url: "{base}", api_key: "sk-local", model: qwen, context_window: {n_ctx},
           timeout_s: 300, max_retries: 1}}
"""
    flow = CODE_REVIEW.replace("timeout_s: 120", "timeout_s: 900")
    server = app_server(tmp_path, fake, app_key[0], llm, flow)
    try:
        git = make_repo(case, tmp_path / "repo")
        c = served_review(server, fake, git, 78, timeout=900)
    finally:
        server.stop()
    db = sqlite3.connect(tmp_path / "flows.db")
    (raw,) = db.execute("select report from runs where flow = 'code-review'").fetchone()
    report = json.loads(raw)
    assert report["status"] == "ok", report["error"]
    calls = report["llm"]["by_call"]
    assert calls and not [c for c in calls if "error" in c], calls
    for call in calls:  # the server's own count of every prompt, as it tokenized it
        assert call["prompt_tokens"] + call["max_tokens"] <= n_ctx, call
    assert report["llm"]["too_long"] == 0  # flows never sent one over the window
    logs = " ".join(line["message"] for line in report["logs"])
    assert "attempts" not in logs  # the json_schema refusal was no transient failure
    result = report["result"]
    assert result["model_failed"] is None
    assert sorted(result["files_reviewed"]) == sorted(after)
    if real:  # a 2,048-token window holds less than this pull request: chunks
        assert result["model_calls"] >= 3
    body = c["body"]
    walkthrough = body.split("### Walkthrough")[1].split("###")[0]
    for path in after:
        assert f"| `{path}` |" in walkthrough
    for p in (p for planted in chosen for p in planted.problems):
        if p.rule != "model":
            assert f"`{p.path}` L{p.start}" in body, p
