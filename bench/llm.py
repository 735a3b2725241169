"""LLM path benchmark: tokens/s through flows (function -> llm integration ->
host llm-backend -> llama-cpp-python) versus llama-cpp-python called directly
in the same process, and the per-call overhead of the flows path. Prints JSON lines.

    python bench/llm.py [--model PATH.gguf] [--n-gpu-layers 0|-1] [--calls 20] [--max-tokens 128]

Without --model it generates the tiny random-weight test model (tests/tiny_gguf.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.project.config import LlamaConfig, load_config  # noqa: E402
from flows.project.events import Event  # noqa: E402
from flows.runtime import Runtime  # noqa: E402
from tests.tiny_gguf import write_tiny_llama  # noqa: E402

MESSAGES = [
    {"role": "system", "content": "You review code changes."},
    {"role": "user", "content": "Summarize: the function parse() now returns None on empty input."},
]


def direct(model_path: Path, args) -> list[tuple[int, float]]:
    """The same messages the llm integration sends (its data guard included)."""
    from llama_cpp import Llama

    sys.path.insert(0, str(ROOT / "integrations" / "llm"))
    import prompt

    messages = prompt.guarded(MESSAGES)

    llm = Llama(model_path=str(model_path), n_ctx=args.n_ctx, n_gpu_layers=args.n_gpu_layers,
                seed=0, verbose=False)  # fmt: skip
    out = []
    for _ in range(args.calls):
        t0 = time.perf_counter()
        r = llm.create_chat_completion(messages=messages, max_tokens=args.max_tokens,
                                       temperature=0.0)  # fmt: skip
        out.append((r["usage"]["completion_tokens"], time.perf_counter() - t0))
    return out


def through_flows(model_path: Path, args) -> list[tuple[int, float, float]]:
    cfg = load_config(ROOT / "tests" / "components" / "app.yaml")
    cfg.llm.backend = "llama"
    cfg.llm.llama = LlamaConfig(model_path=model_path, n_ctx=args.n_ctx,
                                n_gpu_layers=args.n_gpu_layers)  # fmt: skip
    runtime = Runtime(cfg)
    msgs = [[m["role"], m["content"]] for m in MESSAGES]
    op = ["chat", {"messages": msgs, "opts": {"max_tokens": args.max_tokens, "temperature": 0.0}}]
    event = Event("pull_request", {"ops": [op]})
    runtime.run("llm-probe", event)  # load the model and the components once
    out = []
    for _ in range(args.calls):
        t0 = time.perf_counter()
        report = runtime.run("llm-probe", event)
        wall = time.perf_counter() - t0
        if not report.ok:
            raise SystemExit(f"flows run failed: {report.error}")
        call = report.llm["by_call"][0]
        out.append((call["completion_tokens"], wall, call["latency_ms"] / 1000))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path)
    ap.add_argument("--n-gpu-layers", type=int, default=0)
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--max-tokens", type=int, default=128)
    args = ap.parse_args()
    model = args.model or write_tiny_llama(Path(tempfile.mkdtemp()) / "tiny.gguf")
    d = direct(model, args)
    f = through_flows(model, args)
    d_tps = sum(n for n, _ in d) / sum(s for _, s in d)
    f_tps = sum(n for n, _, _ in f) / sum(s for _, s, _ in f)
    overhead = [(wall - gen) * 1000 for _, wall, gen in f]
    print(json.dumps({
        "bench": "llm", "model": model.name, "n_gpu_layers": args.n_gpu_layers,
        "calls": args.calls, "max_tokens": args.max_tokens,
        "direct_tokens_per_s": round(d_tps, 1), "flows_tokens_per_s": round(f_tps, 1),
        "flows_over_direct": round(f_tps / d_tps, 3),
        "direct_call_ms_p50": round(statistics.median(s for _, s in d) * 1000, 2),
        "flows_run_ms_p50": round(statistics.median(w for _, w, _ in f) * 1000, 2),
        "flows_overhead_ms_p50": round(statistics.median(overhead), 2),
        "completion_tokens_per_call": round(statistics.mean(n for n, _, _ in f), 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
