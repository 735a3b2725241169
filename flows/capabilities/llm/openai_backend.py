"""OpenAI and any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, LlamaEdge)."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import openai

from flows.capabilities.llm.backend import Completion, Message, estimate_tokens
from flows.project.config import OpenAIConfig
from flows.sandbox.capability import HostError

MODES = ("json_schema", "json_object", "prompt")


class _Unsupported(Exception):
    """The server refused this way of asking for JSON; try the next one."""


def _retry_after(e: openai.APIStatusError) -> float | None:
    value = e.response.headers.get("retry-after", "") if e.response is not None else ""
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _message(e: openai.APIStatusError) -> str:
    body = e.body if isinstance(e.body, dict) else {}
    err = body.get("error") if isinstance(body.get("error"), dict) else body
    return str(err.get("message") or e.message or "").strip()


class OpenAIBackend:
    name = "openai"

    def __init__(self, cfg: OpenAIConfig) -> None:
        self.cfg = cfg
        key = cfg.api_key.get_secret_value() if cfg.api_key else "not-set"
        self._client = openai.OpenAI(
            base_url=cfg.base_url,
            api_key=key,
            organization=cfg.organization,
            default_headers=cfg.headers or None,
            timeout=cfg.timeout_s,
            max_retries=0,  # retries are ours: bounded by the run's deadline
        )
        # the structured-output mode this server accepted last (auto learns it once)
        self._mode: str | None = None if cfg.structured_output == "auto" else cfg.structured_output

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def context_window(self) -> int:
        return self.cfg.context_window

    def complete(
        self,
        messages: list[Message],
        max_tokens: int,
        temperature: float | None,
        schema: dict[str, Any] | None,
        deadline: float,
    ) -> Completion:
        if schema is None:
            return self._call(messages, max_tokens, temperature, None, None, deadline)
        modes = [self._mode] if self._mode else list(MODES)
        for mode in modes:
            try:
                done = self._call(messages, max_tokens, temperature, schema, mode, deadline)
            except _Unsupported:
                continue
            self._mode = mode
            return done
        raise HostError(
            "the LLM server accepted no way of asking for JSON (llm.openai.structured_output)"
        )

    def _request(self, messages, max_tokens, temperature, schema, mode) -> dict[str, Any]:
        req: dict[str, Any] = {"model": self.cfg.model, "messages": messages,
                               "max_tokens": max_tokens}  # fmt: skip
        if temperature is not None:
            req["temperature"] = temperature
        if mode == "json_schema":
            req["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": schema, "strict": False},
            }
        elif mode == "json_object":
            req["response_format"] = {"type": "json_object"}
        if mode in ("json_object", "prompt"):
            note = "Reply with only a JSON value that matches this JSON Schema:\n" + json.dumps(
                schema
            )
            req["messages"] = [{"role": "system", "content": note}, *messages]
        return req

    def _call(self, messages, max_tokens, temperature, schema, mode, deadline) -> Completion:
        req = self._request(messages, max_tokens, temperature, schema, mode)
        where = f"llm.openai.base_url {self.cfg.base_url}"
        last = ""
        wait: float | None = None
        for attempt in range(self.cfg.max_retries + 1):
            remaining = deadline - time.monotonic()
            if remaining < 1:
                why = f" ({last})" if last else ""
                raise HostError(f"the run's deadline passed before the LLM answered{why}")
            t0 = time.perf_counter()
            try:
                resp = self._client.chat.completions.create(
                    **req, timeout=min(self.cfg.timeout_s, remaining)
                )
            except openai.APITimeoutError:
                last, wait = f"no answer from {where} in time", None
            except openai.APIConnectionError as e:
                cause = e.__cause__ or e
                last, wait = f"cannot reach {where}: {type(cause).__name__}: {cause}", None
            except openai.AuthenticationError as e:
                raise HostError(f"llm.openai.api_key was refused (401): {_message(e)}") from None
            except openai.PermissionDeniedError as e:
                raise HostError(f"the LLM server refused access (403): {_message(e)}") from None
            except openai.NotFoundError as e:
                raise HostError(
                    f"not found (404) at {where} for llm.openai.model {self.cfg.model!r}: "
                    f"{_message(e)}"
                ) from None
            except openai.RateLimitError as e:
                last, wait = f"rate limited (429): {_message(e)}", _retry_after(e)
            except openai.APIStatusError as e:
                text = _message(e)
                if e.status_code >= 500:
                    last, wait = f"server error ({e.status_code}): {text}", _retry_after(e)
                elif "context" in text.lower() and (
                    "length" in text.lower() or "window" in text.lower()
                ):
                    raise HostError(
                        f"the prompt is over the model's context window "
                        f"(llm.openai.context_window {self.cfg.context_window}): {text}"
                    ) from None
                elif mode in ("json_schema", "json_object") and "response_format" in text.lower():
                    raise _Unsupported from None
                else:
                    raise HostError(
                        f"the LLM server refused the request ({e.status_code}): {text}"
                    ) from None
            else:
                return self._completion(resp, time.perf_counter() - t0)
            if attempt == self.cfg.max_retries:
                break
            delay = min(30.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)
            if wait is not None:
                delay = max(delay, wait)
            if time.monotonic() + delay > deadline - 1:
                break  # waiting would pass the deadline: the job is retried later
            time.sleep(delay)
        raise HostError(f"the LLM failed after {attempt + 1} attempts: {last}",
                        transient=True, retry_after=wait)  # fmt: skip

    def _completion(self, resp: Any, seconds: float) -> Completion:
        if not resp.choices:
            raise HostError("the LLM server sent a reply with no choices", transient=True)
        choice = resp.choices[0]
        usage = resp.usage
        text = choice.message.content or ""
        return Completion(
            text=text,
            model=resp.model or self.cfg.model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else estimate_tokens(text),
            latency_ms=round(seconds * 1000, 1),
            finish_reason=choice.finish_reason or "",
        )
