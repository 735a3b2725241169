"""The code-review flow through `flows serve` (a real process, as the GitHub
App) with the llama backend on a tiny generated model: its prose is noise,
but the comment's structure, the deterministic breaking changes and the
one-comment-per-PR behaviour across pushes must hold exactly."""

from __future__ import annotations

import re

import pytest

from tests.functions.code_review.fixtures import app_server, make_git, ours, pr_payload
from tests.server.test_service import wait_for
from tests.tiny_gguf import write_tiny_llama

pytestmark = pytest.mark.slow


def done(repo, n, head: str):
    """The comment once it shows the review of `head` (not the placeholder)."""
    found = ours(repo, n)
    if found and f'"head": "{head}"' in found[0]["body"]:
        return found
    return None


def test_review_with_a_local_model_through_flows_serve(tmp_path, app_github, app_key):
    fake = app_github
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    llm = f"""
llm:
  backend: llama
  llama: {{model_path: "{model}", n_ctx: 16384, n_gpu_layers: 0}}
"""
    server = app_server(tmp_path, fake, app_key[0], llm)
    try:
        git = make_git(tmp_path / "repo")
        payload = pr_payload(41, git, fake)
        repo = fake.repos["codertocat/hello-world"]
        assert server.deliver("pull_request", payload).status_code == 202
        (c,) = wait_for(lambda: done(repo, 41, git.sha("feature")), timeout=240)
        body = c["body"]
        assert c["user"]["login"] == "flows-test[bot]"
        heads = re.findall(r"^### (.+)$", body, re.M)
        assert heads[0] == "Summary" and heads[-3:] == ["Risks", "Breaking changes", "Not reviewed"]
        exact = [
            r.split(" | ")[:2]
            for r in body.splitlines()
            if r.startswith("| `") and r.endswith(("| API diff |", "| migration |"))
        ]
        assert exact == [
            ["| `shop.api.cancel_order`", "Public object was removed"],
            ["| `shop.api.get_order`", "Parameter was removed: include_items"],
            ["| `shop.api.list_orders`", "Parameter was added as required: currency"],
            ["| `coupons`", "table coupons is dropped"],
        ]
        assert "- `poetry.lock`: ignored by the settings (`*.lock`)" in body
        assert "<script" not in body and "\x1b" not in body

        git.commit("Add a util", {"src/shop/util.py": "def parse(text):\n    return text\n"})
        assert (
            server.deliver("pull_request", {**payload, "action": "synchronize"}).status_code == 202
        )
        (c2,) = wait_for(lambda: done(repo, 41, git.sha("feature")), timeout=240)
        assert c2["id"] == c["id"] and "last push reviewed incrementally" in c2["body"]
    finally:
        server.stop()
