"""Benchmark: token counts without the model's tokenizer, against a real one.

flows counts tokens with the model's own tokenizer where it has one; where
it has none (a hosted model, a server without /tokenize) it estimates. This
measures that estimate, and UTF-8 bytes / 4, against Qwen2.5's tokenizer (the
real model's, fetched as the tests fetch it) on text a review sends: the
diffs of this repository's own history, numbered as the review numbers them,
and the Python sources installed beside flows. One JSON line per corpus.

    python bench/tokens.py [--commits 300] [--files 600]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.capabilities.llm.tokens import estimate_tokens  # noqa: E402
from tests.functions.code_review.quality import real_model  # noqa: E402

sys.path.insert(0, str(ROOT / "functions" / "code_review"))
sys.path.insert(0, str(ROOT / "flows" / "guest"))
import diffmap  # noqa: E402


def history(commits: int) -> list[str]:
    """Each changed file of the last commits, as the review shows it to a model."""
    cmd = ["git", "-C", str(ROOT), "log", "-p", f"-n{commits}", "--format=tformat:@@@"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    docs = []
    for commit in out.split("@@@\n"):
        for part in commit.split("\ndiff --git ")[1:]:
            patch = part[part.find("\n@@") + 1 :] if "\n@@" in part else ""
            if patch.startswith("@@"):
                docs.append(diffmap.numbered("modified", diffmap.parse(patch)))
    return [d for d in docs if d.strip()]


def sources(files: int) -> list[str]:
    site = Path(json.__file__).parent.parent / "site-packages"
    site = next((p for p in sys.path if p.endswith("site-packages")), str(site))
    paths = sorted(Path(site).rglob("*.py"))
    random.Random(1).shuffle(paths)
    docs = []
    for p in paths[:files]:
        try:
            text = p.read_text(encoding="utf-8")[:8000]
        except (UnicodeDecodeError, OSError):
            continue
        if text.strip():
            docs.append(text)
    return docs


def measure(name: str, docs: list[str], real) -> dict:
    truth = [real(d) for d in docs]
    rows = {}
    for method, count in (("estimate", estimate_tokens),
                          ("bytes/4", lambda t: math.ceil(len(t.encode()) / 4))):  # fmt: skip
        ratios = sorted(count(d) / r for d, r in zip(docs, truth, strict=True) if r)
        rows[method] = {
            "mean_ratio": round(sum(ratios) / len(ratios), 3),
            "p1_ratio": round(ratios[len(ratios) // 100], 3),
            "min_ratio": round(ratios[0], 3),
            "share_under": round(sum(x < 1 for x in ratios) / len(ratios), 3),
            "total_ratio": round(sum(count(d) for d in docs) / sum(truth), 3),
        }
    return {"bench": "tokens", "corpus": name, "documents": len(docs),
            "real_tokens": sum(truth), "tokenizer": "qwen2.5", **rows}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=300)
    ap.add_argument("--files", type=int, default=600)
    args = ap.parse_args()
    path, why = real_model()
    if path is None:
        raise SystemExit(f"no real tokenizer here: {why}")
    from llama_cpp import Llama

    vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)

    def real(text: str) -> int:
        return len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    for name, docs in (("numbered diffs of this repository", history(args.commits)),
                       ("installed Python sources", sources(args.files))):  # fmt: skip
        print(json.dumps(measure(name, docs, real)), flush=True)


if __name__ == "__main__":
    main()
