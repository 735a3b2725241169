"""Recorded GitHub reads and model answers, so a flow runs offline on a sample event.

`flows run --record FILE` writes the event with everything the run read from
GitHub (GET responses, the bot's login) and every model completion. Running
an event file that holds such a `recording` replays it: GitHub and the model
are not contacted, and writes are reported, never sent (a dry run).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from flows.capabilities.github.client import GithubClient, NoToken
from flows.capabilities.llm.backend import Backend, Completion, Message
from flows.errors import EventError
from flows.project.events import Event
from flows.sandbox.capability import HostError

RECORDING_KEY = "recording"


def request_key(method: str, path: str, query: dict[str, str] | None) -> str:
    q = "&".join(f"{k}={v}" for k, v in sorted((query or {}).items()))
    return f"{method.upper()} {path}" + (f"?{q}" if q else "")


def _body_fields(text: str) -> dict[str, Any]:
    try:
        return {"json": json.loads(text)} if text else {"text": ""}
    except ValueError:
        return {"text": text}


def _body_in(entry: dict[str, Any]) -> str:
    if "json" in entry:
        return json.dumps(entry["json"])
    return str(entry.get("text", ""))


class Recording:
    """GitHub responses (by method, path and query) and model answers (in order)."""

    def __init__(self, data: dict[str, Any] | None = None, source: str = "recording") -> None:
        data = data or {}
        self.source = source
        self.viewer: str | None = data.get("viewer")
        self.context_window: int = int(data.get("context_window") or 128000)
        self.github: list[dict[str, Any]] = list(data.get("github") or [])
        self.llm: list[dict[str, Any]] = list(data.get("llm") or [])
        self._lock = threading.Lock()

    def to_dict(self) -> dict[str, Any]:
        return {
            "viewer": self.viewer,
            "context_window": self.context_window,
            "github": self.github,
            "llm": self.llm,
        }

    # -- recording -------------------------------------------------------
    def add_response(self, method, path, query, status, headers, text) -> None:
        keep = {k.lower(): v for k, v in headers.items() if k.lower() in ("link", "content-type")}
        entry = {"method": method, "path": path, "query": dict(query or {}), "status": status}
        entry.update(headers=keep, **_body_fields(text))
        with self._lock:
            self.github.append(entry)

    def add_completion(self, done: Completion) -> None:
        with self._lock:
            self.llm.append(
                {
                    "text": done.text,
                    "model": done.model,
                    "prompt_tokens": done.prompt_tokens,
                    "completion_tokens": done.completion_tokens,
                    "finish_reason": done.finish_reason,
                }
            )


def load_recording(path: str | Path) -> Recording | None:
    """The recording inside an event file, or None when it has none."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # load_event reports what is wrong with the file
    rec = data.get(RECORDING_KEY) if isinstance(data, dict) else None
    if rec is None:
        return None
    if not isinstance(rec, dict):
        raise EventError(f"{path}: `recording` must be an object")
    return Recording(rec, source=str(path))


def save_recorded_event(path: str | Path, event: Event, recording: Recording) -> None:
    """Write the event and what its run read, ready to replay."""
    doc = {
        "event": event.name,
        "delivery_id": event.delivery_id,
        "payload": event.payload,
        RECORDING_KEY: recording.to_dict(),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


# -- replay ------------------------------------------------------------------
class _ReplayRequester:
    def __init__(self, recording: Recording) -> None:
        self._rec = recording
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()

    def requestJson(self, method, path, parameters=None, headers=None, input=None):
        key = request_key(method, path, parameters)
        matches = [
            e for e in self._rec.github if request_key(e["method"], e["path"], e["query"]) == key
        ]
        if not matches:
            raise HostError(
                f"{key} is not in the recording ({self._rec.source}); "
                "record the event again with `flows run --record`"
            )
        with self._lock:
            i = self._served.get(key, 0)
            self._served[key] = i + 1
        entry = matches[min(i, len(matches) - 1)]  # a repeated read gets the last answer again
        return int(entry["status"]), dict(entry.get("headers") or {}), _body_in(entry)


class ReplayGithub(GithubClient):
    """Answers GitHub reads from a recording; no socket is opened."""

    def __init__(self, recording: Recording) -> None:
        super().__init__("https://replay.invalid", NoToken(), 30.0, None, None)
        self._recording = recording

    def requester(self, installation_id: int | None, timeout_s: float) -> _ReplayRequester:
        return _ReplayRequester(self._recording)

    def viewer(self, installation_id: int | None, timeout_s: float) -> str:
        if not self._recording.viewer:
            raise HostError(f"the bot's login is not in the recording ({self._recording.source})")
        return self._recording.viewer


class ReplayBackend(Backend):
    """Gives the recorded model answers back in the order they were given
    (a batch is answered in its order, one request at a time)."""

    name = "replay"

    def __init__(self, recording: Recording) -> None:
        self._rec = recording
        self._next = 0
        self._lock = threading.Lock()
        # what the flow asked, for tests: {"messages": [...], "schema": {...} | None}
        self.calls: list[dict[str, Any]] = []

    def complete(
        self,
        messages: list[Message],
        max_tokens: int,
        temperature: float | None,
        schema: dict[str, Any] | None,
        deadline: float,
    ) -> Completion:
        with self._lock:
            i = self._next
            self._next += 1
            self.calls.append({"messages": messages, "schema": schema})
        if i >= len(self._rec.llm):
            raise HostError(
                f"model call {i + 1} is not in the recording ({self._rec.source} has "
                f"{len(self._rec.llm)}); record the event again with `flows run --record`"
            )
        a = self._rec.llm[i]
        return Completion(
            text=str(a.get("text", "")),
            model=str(a.get("model") or "recorded"),
            prompt_tokens=int(a.get("prompt_tokens") or 0),
            completion_tokens=int(a.get("completion_tokens") or 0),
            latency_ms=0.0,
            finish_reason=str(a.get("finish_reason") or "stop"),
        )

    def context_window(self) -> int:
        return self._rec.context_window


# -- recording wrappers ----------------------------------------------------
class _RecordingRequester:
    def __init__(self, inner: Any, recording: Recording) -> None:
        self._inner = inner
        self._rec = recording

    def requestJson(self, method, path, parameters=None, headers=None, input=None):
        status, resp_headers, text = self._inner.requestJson(
            method, path, parameters=parameters, headers=headers, input=input
        )
        if method.upper() == "GET":
            self._rec.add_response(method, path, parameters, status, resp_headers, text or "")
        return status, resp_headers, text


class RecordingGithub(GithubClient):
    """A GitHub client that also keeps every read it makes."""

    def __init__(self, inner: GithubClient, recording: Recording) -> None:
        super().__init__(inner.api_url, inner.tokens, inner.timeout_s, *inner.intervals)
        self._inner = inner
        self._recording = recording

    def requester(self, installation_id: int | None, timeout_s: float) -> _RecordingRequester:
        return _RecordingRequester(
            self._inner.requester(installation_id, timeout_s), self._recording
        )

    def viewer(self, installation_id: int | None, timeout_s: float) -> str:
        login = self._inner.viewer(installation_id, timeout_s)
        self._recording.viewer = login
        return login


class RecordingBackend(Backend):
    """A model backend that also keeps every answer it gives, in the order of
    the requests (so a batch is recorded one request at a time)."""

    def __init__(self, inner: Backend, recording: Recording) -> None:
        self._inner = inner
        self._rec = recording
        self.name = inner.name
        recording.context_window = inner.context_window()

    def complete(self, messages, max_tokens, temperature, schema, deadline) -> Completion:
        done = self._inner.complete(messages, max_tokens, temperature, schema, deadline)
        self._rec.add_completion(done)
        return done

    def count_tokens(self, text: str) -> int:
        return self._inner.count_tokens(text)

    def count_request(self, messages: list[Message], schema: dict[str, Any] | None) -> int:
        return self._inner.count_request(messages, schema)

    def context_window(self) -> int:
        return self._inner.context_window()
