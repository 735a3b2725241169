"""flows:host/llm-backend: the configured model, with usage recorded per call."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from wasmtime.component import Record, Variant

from flows.capabilities.llm.backend import ROLES, Backend, Completion, Request, TooLong
from flows.sandbox.capability import HOST_LLM, HostError
from flows.sandbox.report import RunContext, RunJournal
from flows.sandbox.values import wit_record

DEFAULT_MAX_TOKENS = 1024
MAX_PROMPT_BYTES = 4 * 1024 * 1024
MAX_BATCH = 256


def read_request(req: Record) -> Request:
    """A WIT request as the backends take it, or HostError saying what is wrong."""
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
    return Request(messages, max_tokens, req.temperature, schema)


def _completion(done: Completion) -> Record:
    return wit_record(
        {
            "text": done.text,
            "model": done.model,
            "usage": wit_record(
                {"prompt-tokens": done.prompt_tokens, "completion-tokens": done.completion_tokens}
            ),
            "latency-ms": int(done.latency_ms),
            "finish-reason": done.finish_reason,
        }
    )


class LlmApi:
    interface = HOST_LLM

    def __init__(self, backend: Backend, ctx: RunContext, journal: RunJournal) -> None:
        self._backend = backend
        self._ctx = ctx
        self._journal = journal

    def _one(self, r: Request) -> Completion:
        """One completion, journaled (its tokens, latency and when it ran)."""
        started = time.monotonic()
        entry: dict[str, Any] = {"backend": self._backend.name, "json_schema": r.schema is not None,
                                 "max_tokens": r.max_tokens,
                                 "start_ms": self._journal.elapsed_ms()}  # fmt: skip
        try:
            done = self._backend.complete(
                r.messages, r.max_tokens, r.temperature, r.schema, self._ctx.deadline
            )
        except HostError as e:
            entry.update({"error": str(e), "too_long": isinstance(e, TooLong),
                          "latency_ms": round((time.monotonic() - started) * 1000, 1)})  # fmt: skip
            self._journal.llm_call(entry)
            if e.transient:
                self._journal.transient(f"host:llm-backend complete: {e}", e.retry_after)
            raise
        entry.update(
            {
                "model": done.model,
                "prompt_tokens": done.prompt_tokens,
                "completion_tokens": done.completion_tokens,
                "latency_ms": done.latency_ms,
                "finish_reason": done.finish_reason,
            }
        )
        if done.completion_tokens > r.max_tokens:
            entry["over_max_tokens"] = r.max_tokens
            self._journal.log("host:llm-backend", "warn",
                              f"the model sent {done.completion_tokens} tokens, over the "
                              f"max_tokens {r.max_tokens} it was asked for")  # fmt: skip
        self._journal.llm_call(entry)
        return done

    def complete(self, req: Record) -> Record:
        return _completion(self._one(read_request(req)))

    def complete_batch(self, reqs: list[Record]) -> list[Variant]:
        if len(reqs) > MAX_BATCH:
            raise HostError(f"a batch of {len(reqs)} requests is over the host's limit of "
                            f"{MAX_BATCH}")  # fmt: skip

        def answer(req: Record) -> Variant:
            try:
                return Variant("ok", _completion(self._one(read_request(req))))
            except HostError as e:
                failure = {"too-long": isinstance(e, TooLong), "message": str(e)}
                return Variant("err", wit_record(failure))

        workers = max(1, min(self._backend.concurrency, len(reqs)))
        if workers == 1:
            return [answer(r) for r in reqs]
        with ThreadPoolExecutor(workers, thread_name_prefix="llm-batch") as pool:
            return list(pool.map(answer, reqs))

    def count_tokens(self, text: str) -> int:
        return self._backend.count_tokens(text)

    def count_request(self, req: Record) -> int:
        r = read_request(req)
        return self._backend.count_request(r.messages, r.schema)

    def context_window(self) -> int:
        return self._backend.context_window()
