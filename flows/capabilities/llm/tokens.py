"""Counting tokens as the model will: its own tokenizer where there is one
(a local GGUF's, a server's /tokenize, tiktoken's encodings for OpenAI
models), otherwise an estimate that does not undercount code."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

# a chat template wraps each message in a few special tokens, and primes the
# reply with a few more; these bound the common templates (ChatML, Llama 3,
# OpenAI's) from above
MESSAGE_OVERHEAD = 8
REPLY_PRIMING = 8

# pieces the way byte-level BPE tokenizers pre-split text (cl100k, o200k,
# Qwen2, Llama 3): a word with one leading non-letter, digits, punctuation
# runs, newlines, other whitespace
_PIECE = re.compile(r"(?:[^\r\n\w]|_)?[^\W\d_]+|\d+| ?[^\s\w]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+|_+")
_CAMEL = re.compile(r"(?<=[a-z])[A-Z]|(?<=[A-Z])[A-Z](?=[a-z])")


def estimate_tokens(text: str) -> int:
    """Where there is no tokenizer: an estimate from the pieces a BPE
    tokenizer splits text into. Against Qwen2.5's tokenizer (bench/tokens.py)
    it is 10% over in total on numbered diffs, under for 4% of files (by 13%
    at most); UTF-8 bytes / 4 is 19% under in total, and under for 93%."""
    n = 0
    for piece in _PIECE.findall(text):
        if not piece.isascii():
            n += len(piece.encode("utf-8")) // 2 + 1
        elif piece[0].isalpha() or piece[1:2].isalpha():
            word = piece.lstrip(" _.")
            n += 1 + max(0, len(word) - 4) // 4 + len(_CAMEL.findall(word))
            n += len(piece) - len(word) > 1
        elif piece[0].isdigit():
            n += len(piece)  # many tokenizers split digits one by one
        elif piece.isspace():
            n += 1 + (len(piece) // 16 if "\n" not in piece else piece.count("\n") // 4)
        else:
            run = piece.strip()
            n += len(run) if len(set(run)) > 1 else 1 + len(run) // 8
    return n


class Counter:
    """Token counts by one tokenizer, with recent results remembered
    (packing counts the same pieces again as it tries chunk sizes)."""

    def __init__(self, name: str, count: Callable[[str], int], size: int = 4096) -> None:
        self.name = name
        self._count = count
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __call__(self, text: str) -> int:
        if not text:
            return 0
        key = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).hexdigest()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        n = self._count(text)
        with self._lock:
            self._cache[key] = n
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return n


ESTIMATE = Counter("estimate", estimate_tokens)

# a probe with a known shape: a real tokenizer gives it between 1 token per
# 8 bytes and 1 token per byte; a count outside that is not believed
_PROBE = 'def total(items: list[int]) -> int:\n    """Sum them."""\n    return sum(items)  # 42\n'


def plausible(text: str, n: int) -> bool:
    size = len(text.encode("utf-8"))
    return size // 8 <= n <= size + 4


def server_counter(base_url: str, model: str, headers: dict[str, str],
                   timeout_s: float = 10.0) -> tuple[Counter | None, str]:  # fmt: skip
    """The server's own tokenizer, if it has a tokenize endpoint that gives
    believable counts: llama-cpp-python's /extras/tokenize/count, llama.cpp's
    and vLLM's /tokenize. (None, why) otherwise."""
    root = re.sub(r"/v1/?$", "", base_url.rstrip("/"))
    client = httpx.Client(timeout=timeout_s, headers=headers)

    def extras(text: str) -> int:
        r = client.post(f"{root}/extras/tokenize/count", json={"input": text, "model": model})
        r.raise_for_status()
        return int(r.json()["count"])

    def tokenize(text: str) -> int:
        r = client.post(f"{root}/tokenize", json={"content": text, "prompt": text,
                                                  "model": model})  # fmt: skip
        r.raise_for_status()
        body = r.json()
        if isinstance(body.get("count"), int):
            return body["count"]
        tokens = body["tokens"]
        if not isinstance(tokens, list):
            raise ValueError("tokens is not a list")
        return len(tokens)

    why = []
    for name, count in (("/extras/tokenize/count", extras), ("/tokenize", tokenize)):
        try:
            n = count(_PROBE)
        except Exception as e:  # no such endpoint, or not one that answers like these
            why.append(f"{name}: {type(e).__name__}")
            continue
        if plausible(_PROBE, n):
            return Counter(f"server {name}", count), ""
        why.append(f"{name}: {n} tokens for {len(_PROBE)} bytes is not believable")
    client.close()
    return None, "; ".join(why)


def tiktoken_counter(model: str, timeout_s: float = 10.0) -> tuple[Counter | None, str]:
    """tiktoken's encoding for an OpenAI model, when tiktoken is installed and
    the encoding is cached or can be fetched (once, into ~/.cache/flows/tiktoken)."""
    try:
        import tiktoken
    except ImportError:
        return None, "tiktoken is not installed"
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(Path.home() / ".cache/flows/tiktoken"))
    found: dict[str, Any] = {}

    def load() -> None:
        try:
            found["enc"] = tiktoken.encoding_for_model(model)
        except Exception as e:  # unknown model, or no network to fetch the encoding
            found["error"] = f"{type(e).__name__}: {e}"

    t = threading.Thread(target=load, name="tiktoken-load", daemon=True)
    t.start()
    t.join(timeout_s)
    if "enc" not in found:
        return None, f"tiktoken: {found.get('error', 'loading timed out')}"
    enc = found["enc"]

    def count(text: str) -> int:
        return len(enc.encode(text, disallowed_special=()))

    return Counter(f"tiktoken {enc.name}", count), ""
