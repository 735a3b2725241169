"""Language-model backends behind flows:host/llm-backend: OpenAI-compatible
servers (the openai SDK) and local GGUF models (llama-cpp-python)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flows.capabilities.llm.tokens import (  # noqa: F401  (estimate_tokens: re-exported)
    ESTIMATE,
    MESSAGE_OVERHEAD,
    REPLY_PRIMING,
    estimate_tokens,
)
from flows.project.config import LLMConfig
from flows.sandbox.capability import HostError

Message = dict[str, str]  # {"role": ..., "content": ...}
ROLES = {"system", "user", "assistant"}
# the line a prompt-mode request adds before the schema (openai_backend)
SCHEMA_NOTE = "Reply with only a JSON value that matches this JSON Schema:\n"


class TooLong(HostError):
    """The request does not fit the model's context window: send less."""


@dataclass
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    finish_reason: str


@dataclass
class Request:
    messages: list[Message]
    max_tokens: int
    temperature: float | None
    schema: dict[str, Any] | None


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)


class Backend:
    """A model: one completion at a time, token counts by its tokenizer, its
    window. `concurrency` is how many completions it takes at once."""

    name = "backend"
    concurrency = 1

    def complete(
        self,
        messages: list[Message],
        max_tokens: int,
        temperature: float | None,
        schema: dict[str, Any] | None,
        deadline: float,
    ) -> Completion:
        """One chat completion; `deadline` is a time.monotonic() value. Raises
        HostError (TooLong when the request does not fit the window)."""
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        return ESTIMATE(text)

    def count_request(self, messages: list[Message], schema: dict[str, Any] | None) -> int:
        """The tokens a request takes in the window before the reply: every
        message in the chat template, and the schema wherever the server puts it."""
        n = REPLY_PRIMING + sum(MESSAGE_OVERHEAD + self.count_tokens(m["content"])
                                for m in messages)  # fmt: skip
        if schema is not None:  # as sent in the request body (spaced), or compact in the prompt
            n += self.count_tokens(SCHEMA_NOTE + json.dumps(schema))
        return n

    def context_window(self) -> int:
        raise NotImplementedError

    def fits(self, messages: list[Message], max_tokens: int, schema: dict[str, Any] | None,
             setting: str) -> int:  # fmt: skip
        """The request's prompt tokens; TooLong when they and `max_tokens` are
        over the window, naming the `setting` that sets it."""
        prompt = self.count_request(messages, schema)
        window = self.context_window()
        if prompt + max_tokens > window:
            raise TooLong(
                f"the prompt ({prompt} tokens) plus max_tokens {max_tokens} is over the "
                f"context window of {window} tokens ({setting})"
            )
        return prompt


def make_backend(cfg: LLMConfig) -> Backend:
    if cfg.backend == "llama":
        from flows.capabilities.llm.llama_backend import LlamaBackend

        return LlamaBackend(cfg.llama)
    from flows.capabilities.llm.openai_backend import OpenAIBackend

    return OpenAIBackend(cfg.openai)
