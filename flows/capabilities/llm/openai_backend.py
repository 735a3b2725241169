"""OpenAI and any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, LlamaEdge)."""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from typing import Any

import httpx
import openai

from flows.capabilities.llm.backend import (
    SCHEMA_NOTE,
    Backend,
    Completion,
    Message,
    TooLong,
    estimate_tokens,
    schema_text,
)
from flows.capabilities.llm.tokens import ESTIMATE, Counter, server_counter, tiktoken_counter
from flows.project.config import OpenAIConfig
from flows.sandbox.capability import HostError

log = logging.getLogger(__name__)

# ways of asking for JSON, strictest first: response_format json_schema; json_object
# with a `schema` (llama-cpp-python, Anyscale); plain json_object with the schema in
# the prompt; the schema in the prompt alone
MODES = ("json_schema", "json_object_schema", "json_object", "prompt")
_FORMAT_WORDS = ("response_format", "json_schema", "grammar")
_WINDOW_SAID = re.compile(r"maximum context length is (\d+)|context window of (\d+)", re.I)
_TOO_LONG = re.compile(
    r"context[ _](length|window|size)|maximum context|exceeds? (the )?(available )?context"
    r"|prompt is too long|too many tokens|input is too long|reduce the length",
    re.I,
)

# per server (base_url, model): the JSON mode it accepted and the tokenizer that
# counts for it, learned once per process
_servers: dict[tuple[str, str], dict[str, Any]] = {}
_servers_lock = threading.Lock()


def forget_servers() -> None:
    """Forget what was learned about servers (for tests, and after a config reload)."""
    with _servers_lock:
        _servers.clear()


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
    text = err.get("message") or e.message or ""
    if not isinstance(text, str):  # FastAPI validation errors: a list of details
        text = json.dumps(text)
    return text.strip()


def _refuses_format(status: int, text: str, mode: str | None) -> bool:
    """A refusal of the request's way of asking for JSON (400, 422 or 500
    naming response_format, json_schema or grammar): not supported here."""
    low = text.lower()
    return (
        mode not in (None, "prompt")
        and status in (400, 422, 500)
        and (any(w in low for w in _FORMAT_WORDS))
    )


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, cfg: OpenAIConfig) -> None:
        self.cfg = cfg
        self.concurrency = cfg.max_concurrency
        key = cfg.api_key.get_secret_value() if cfg.api_key else "not-set"
        self._headers = {**(cfg.headers or {}), "Authorization": f"Bearer {key}"}
        self._client = openai.OpenAI(
            base_url=cfg.base_url,
            api_key=key,
            organization=cfg.organization,
            default_headers=cfg.headers or None,
            timeout=cfg.timeout_s,
            max_retries=0,  # retries are ours: bounded by the run's deadline
        )
        with _servers_lock:
            self._server = _servers.setdefault((cfg.base_url, cfg.model), {})
        if cfg.structured_output != "auto":
            self._server["mode"] = cfg.structured_output

    # -- tokens --------------------------------------------------------------------

    @property
    def counter(self) -> Counter:
        """The tokenizer for this server, chosen once (llm.openai.tokenizer)."""
        with _servers_lock:
            found = self._server.get("counter")
        if found is not None:
            return found
        choice, why = self.cfg.tokenizer, []
        counter = None
        if choice in ("auto", "server"):
            counter, reason = server_counter(self.cfg.base_url, self.cfg.model, self._headers,
                                             min(10.0, self.cfg.timeout_s))  # fmt: skip
            why.append(reason)
        if counter is None and choice in ("auto", "tiktoken"):
            counter, reason = tiktoken_counter(self.cfg.model)
            why.append(reason)
        if counter is None:
            counter = ESTIMATE
            if choice not in ("auto", "estimate"):
                log.warning("llm.openai.tokenizer %s is not usable here (%s); estimating",
                            choice, "; ".join(w for w in why if w))  # fmt: skip
        with _servers_lock:
            self._server["counter"] = counter
        return counter

    def count_tokens(self, text: str) -> int:
        try:
            return self.counter(text)
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return ESTIMATE(text)  # the tokenizer went away: never undercount for it

    def context_window(self) -> int:
        """llm.openai.context_window, or the server's own window where it said
        it is smaller (learned from a refusal, remembered per server)."""
        return min(self.cfg.context_window, self._server.get("window") or self.cfg.context_window)

    def _learn_window(self, text: str) -> None:
        m = _WINDOW_SAID.search(text)
        said = int(m.group(1) or m.group(2)) if m else 0
        if 0 < said < self.context_window():
            log.warning("the LLM server at %s says its context window is %d tokens, smaller "
                        "than llm.openai.context_window %d; using %d", self.cfg.base_url, said,
                        self.cfg.context_window, said)  # fmt: skip
            with _servers_lock:
                self._server["window"] = said

    # -- completions ---------------------------------------------------------------

    def complete(
        self,
        messages: list[Message],
        max_tokens: int,
        temperature: float | None,
        schema: dict[str, Any] | None,
        deadline: float,
    ) -> Completion:
        prompt = self.fits(messages, max_tokens, schema, "llm.openai.context_window")
        if schema is None:
            return self._call(messages, max_tokens, temperature, None, None, deadline, prompt)
        known = self._server.get("mode")
        modes = MODES[MODES.index(known) :] if known else MODES
        for mode in modes:
            try:
                done = self._call(messages, max_tokens, temperature, schema, mode, deadline,
                                  prompt)  # fmt: skip
            except _Unsupported:
                with _servers_lock:  # remembered: the next call starts at the next mode
                    nxt = MODES.index(mode) + 1
                    if nxt < len(MODES):
                        self._server["mode"] = MODES[nxt]
                continue
            with _servers_lock:
                self._server["mode"] = mode
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
        elif mode == "json_object_schema":
            req["response_format"] = {"type": "json_object", "schema": schema}
        elif mode == "json_object":
            req["response_format"] = {"type": "json_object"}
        if mode in ("json_object", "prompt"):
            note = {"role": "system", "content": SCHEMA_NOTE + schema_text(schema)}
            req["messages"] = [note, *messages]
        return req

    def _call(self, messages, max_tokens, temperature, schema, mode, deadline,
              prompt: int) -> Completion:  # fmt: skip
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
                if _TOO_LONG.search(text) and e.status_code in (400, 413, 422, 500):
                    self._learn_window(text)
                    raise TooLong(
                        f"the LLM server says the prompt is over the model's context window "
                        f"(llm.openai.context_window {self.cfg.context_window}): {text}"
                    ) from None
                if _refuses_format(e.status_code, text, mode):
                    raise _Unsupported from None
                if e.status_code >= 500:
                    last, wait = f"server error ({e.status_code}): {text}", _retry_after(e)
                else:
                    raise HostError(
                        f"the LLM server refused the request ({e.status_code}): {text}"
                    ) from None
            else:
                return self._completion(resp, time.perf_counter() - t0, prompt)
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

    def _completion(self, resp: Any, seconds: float, prompt: int) -> Completion:
        if not resp.choices:
            raise HostError("the LLM server sent a reply with no choices", transient=True)
        choice = resp.choices[0]
        usage = resp.usage
        text = choice.message.content or ""
        return Completion(
            text=text,
            model=resp.model or self.cfg.model,
            prompt_tokens=usage.prompt_tokens if usage else prompt,
            completion_tokens=usage.completion_tokens if usage else estimate_tokens(text),
            latency_ms=round(seconds * 1000, 1),
            finish_reason=choice.finish_reason or "",
        )
