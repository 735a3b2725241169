"""flows:host/llm-backend: the configured model, with usage recorded per call."""

from __future__ import annotations

import json
from typing import Any

from wasmtime.component import Record

from flows.capabilities.llm.backend import ROLES, Backend
from flows.sandbox.capability import HOST_LLM, HostError
from flows.sandbox.report import RunContext, RunJournal
from flows.sandbox.values import wit_record

DEFAULT_MAX_TOKENS = 1024
MAX_PROMPT_BYTES = 4 * 1024 * 1024


class LlmApi:
    interface = HOST_LLM

    def __init__(self, backend: Backend, ctx: RunContext, journal: RunJournal) -> None:
        self._backend = backend
        self._ctx = ctx
        self._journal = journal

    def complete(self, req: Record) -> Record:
        messages = []
        size = 0
        for m in req.messages:
            if m.role not in ROLES:
                raise HostError(f"message role {m.role!r}: use one of {sorted(ROLES)}")
            messages.append({"role": m.role, "content": m.content})
            size += len(m.content)
        if not messages:
            raise HostError("a completion needs at least one message")
        if size > MAX_PROMPT_BYTES:
            raise HostError(f"the prompt is {size} characters, over the host's limit of 4 MiB")
        schema: dict[str, Any] | None = None
        raw_schema = getattr(req, "json-schema")
        if raw_schema is not None:
            try:
                schema = json.loads(raw_schema)
            except ValueError as e:
                raise HostError(f"json-schema is not JSON: {e}") from None
            if not isinstance(schema, dict):
                raise HostError("json-schema must be a JSON object")
        max_tokens = getattr(req, "max-tokens") or DEFAULT_MAX_TOKENS
        try:
            done = self._backend.complete(
                messages, max_tokens, req.temperature, schema, self._ctx.deadline
            )
        except HostError as e:
            self._journal.llm_call({"backend": self._backend.name, "error": str(e)})
            raise
        self._journal.llm_call(
            {
                "backend": self._backend.name,
                "model": done.model,
                "prompt_tokens": done.prompt_tokens,
                "completion_tokens": done.completion_tokens,
                "latency_ms": done.latency_ms,
                "finish_reason": done.finish_reason,
                "json_schema": schema is not None,
            }
        )
        return wit_record(
            {
                "text": done.text,
                "model": done.model,
                "usage": wit_record(
                    {
                        "prompt-tokens": done.prompt_tokens,
                        "completion-tokens": done.completion_tokens,
                    }
                ),
                "latency-ms": int(done.latency_ms),
                "finish-reason": done.finish_reason,
            }
        )

    def count_tokens(self, text: str) -> int:
        return self._backend.count_tokens(text)

    def context_window(self) -> int:
        return self._backend.context_window()
