"""Language-model backends behind flows:host/llm-backend: OpenAI-compatible
servers (the openai SDK) and local GGUF models (llama-cpp-python)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from flows.project.config import LLMConfig

Message = dict[str, str]  # {"role": ..., "content": ...}
ROLES = {"system", "user", "assistant"}


@dataclass
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    finish_reason: str


class Backend(Protocol):
    name: str

    def complete(
        self,
        messages: list[Message],
        max_tokens: int,
        temperature: float | None,
        schema: dict[str, Any] | None,
        deadline: float,
    ) -> Completion:
        """One chat completion; `deadline` is a time.monotonic() value. Raises HostError."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def context_window(self) -> int: ...


def estimate_tokens(text: str) -> int:
    """Where there is no tokenizer: about 4 bytes of UTF-8 per token, rounded up
    (BPE tokenizers average 3.5-4.5 bytes per token on English and code)."""
    return math.ceil(len(text.encode("utf-8")) / 4)


def make_backend(cfg: LLMConfig) -> Backend:
    if cfg.backend == "llama":
        from flows.capabilities.llm.llama_backend import LlamaBackend

        return LlamaBackend(cfg.llama)
    from flows.capabilities.llm.openai_backend import OpenAIBackend

    return OpenAIBackend(cfg.openai)
