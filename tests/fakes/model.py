"""A scripted stand-in for an OpenAI-compatible chat model (served by respx in
tests, called directly by the benchmark). It reads what the review sends the
way a model would: the JSON schema in response_format, the files by their
numbers in the data labels (`#3 src/x.py`), the numbered diff inside the
data markers. Its findings come from rules a test sets (a regex on added
lines -> a risk at that line), so a test can assert exactly what the review
does with them. It answers at once, or after `latency_s`; it counts prompt
tokens with `count` (a real tokenizer) through a ChatML-like template where
one is given, else as characters / 4."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

_BLOCK = re.compile(r'<<<DATA label="([^"]*)" tag=(\w+)>>>\n(.*?)\n<<<END DATA tag=\2>>>', re.S)
_ADDED = re.compile(r"^\s*(\d+) \+(.*)$")
_LABEL = re.compile(r"^#(\d+) (.*)$")


@dataclass
class Rule:
    pattern: str
    severity: str = "high"
    rule: str = "security"
    title: str = "Untrusted input reaches eval"
    why: str = "Anything a user sends is run as code."


@dataclass
class ScriptedModel:
    rules: list[Rule] = field(default_factory=list)
    breaking: list[dict[str, Any]] = field(default_factory=list)  # extra model findings
    summary: str = "Refactors the API of the package."
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None  # answer every call with this HTTP status
    raw: str | None = None  # answer every schema'd call with exactly this text
    latency_s: float = 0.0
    count: Callable[[str], int] | None = None
    # the server's real window: a longer request gets its "context length exceeded"
    window: int | None = None
    ignore_max_tokens: bool = False  # claim twice the tokens it was allowed
    in_flight: int = 0
    most_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def prompt_tokens(self, body: dict[str, Any]) -> int:
        """The request's prompt as a server counts it: ChatML's 3 tokens per
        message and 3 to prime the reply, and a schema sent as a grammar."""
        if self.count is None:
            return sum(len(m["content"]) for m in body["messages"]) // 4
        n = 3 + sum(5 + self.count(m["content"]) for m in body["messages"])
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema")
        return n + (self.count(json.dumps(schema)) if schema else 0)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        with self._lock:
            self.requests.append(body)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return self._answer(body)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, body: dict[str, Any]) -> httpx.Response:
        if self.latency_s:
            time.sleep(self.latency_s)
        asked = self.prompt_tokens(body) + body.get("max_tokens", 0)
        if self.window is not None and asked > self.window:
            message = (
                f"This model's maximum context length is {self.window} tokens. However, you "
                f"requested {asked} tokens. Please reduce the length of the messages."
            )
            error = {"message": message, "code": "context_length_exceeded"}
            return httpx.Response(400, json={"error": error})
        if self.fail_with:
            return httpx.Response(
                self.fail_with, json={"error": {"message": "overloaded", "type": "server_error"}}
            )
        text = self.answer(body)
        prompt = self.prompt_tokens(body)
        done = 2 * body["max_tokens"] if self.ignore_max_tokens else len(text) // 4
        return httpx.Response(
            200,
            json={
                "id": "c",
                "object": "chat.completion",
                "created": 0,
                "model": "scripted-model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": done,
                    "total_tokens": prompt + done,
                },
            },
        )

    def answer(self, body: dict[str, Any]) -> str:
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema")
        user = body["messages"][-1]["content"]
        if schema is None:
            return f"About that: the change is in the diff above ({len(user)} characters read)."
        if self.raw is not None and "files" in schema.get("properties", {}):
            return self.raw
        props = schema.get("properties", {})
        if "files" not in props:
            return json.dumps({"summary": self.summary})
        blocks = {}  # file number -> (path, numbered diff)
        for label, _tag, text in _BLOCK.findall(user):
            m = _LABEL.match(label)
            if m:
                blocks[int(m.group(1))] = (m.group(2), text)
        out: dict[str, Any] = {
            "files": [{"file": n, "change": f"Changes {p}."} for n, (p, _t) in blocks.items()],
        }
        if "summary" in props:
            out["summary"] = self.summary
        if "risks" in props:
            out["risks"] = []
            for n, (_path, text) in blocks.items():
                for line in text.splitlines():
                    m = _ADDED.match(line)
                    for r in self.rules:
                        if m and re.search(r.pattern, m.group(2)):
                            out["risks"].append(
                                {
                                    "file": n,
                                    "start_line": int(m.group(1)),
                                    "end_line": int(m.group(1)),
                                    "severity": r.severity,
                                    "rule": r.rule,
                                    "title": r.title,
                                    "why": r.why,
                                }
                            )
            out["risks"] = out["risks"][: props["risks"]["maxItems"]]
        if "breaking" in props:
            numbers = {p: n for n, (p, _t) in blocks.items()}
            out["breaking"] = [
                {"file": numbers[b["path"]], **{k: v for k, v in b.items() if k != "path"}}
                for b in self.breaking
                if b["path"] in numbers
            ]
        return json.dumps(out)
