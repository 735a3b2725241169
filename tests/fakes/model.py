"""A scripted stand-in for an OpenAI-compatible chat model (served by respx in
tests, called directly by the benchmark). It answers instantly and reads what
the review sends the way a model would: the JSON schema in response_format,
the numbered diff inside the data markers. Its findings come from rules a
test sets (a regex on added lines -> a risk at that line), so a test can
assert exactly what the review does with them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

_BLOCK = re.compile(r'<<<DATA label="([^"]*)" tag=(\w+)>>>\n(.*?)\n<<<END DATA tag=\2>>>', re.S)
_ADDED = re.compile(r"^\s*(\d+) \+(.*)$")


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

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        if self.fail_with:
            return httpx.Response(
                self.fail_with, json={"error": {"message": "overloaded", "type": "server_error"}}
            )
        text = self.answer(body)
        prompt = sum(len(m["content"]) for m in body["messages"]) // 4
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
                    "completion_tokens": len(text) // 4,
                    "total_tokens": prompt + len(text) // 4,
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
        paths = props["files"]["items"]["properties"]["path"]["enum"]
        out: dict[str, Any] = {
            "summary": self.summary,
            "files": [{"path": p, "change": f"Changes {p}."} for p in paths],
        }
        blocks = {label: text for label, _tag, text in _BLOCK.findall(user)}
        if "risks" in props:
            out["risks"] = []
            for path in paths:
                for line in (blocks.get(path) or "").splitlines():
                    m = _ADDED.match(line)
                    for r in self.rules:
                        if m and re.search(r.pattern, m.group(2)):
                            out["risks"].append(
                                {
                                    "path": path,
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
            out["breaking"] = [b for b in self.breaking if b["path"] in paths]
        return json.dumps(out)
