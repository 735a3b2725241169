"""One run of a flow: its context, what it recorded, and the report."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from wasmtime.component import Record, Variant

MAX_LOG_LINES = 2000
MAX_MESSAGE = 8 * 1024  # a log line or a failure's message
MAX_RECORDED_TEXT = 64 * 1024  # one string in a recorded write or model call
MAX_RESULT = 256 * 1024  # what a run may return, as JSON text


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text`, cut to `limit` characters with a note saying how much went."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"... [{len(text) - limit} chars cut]"


def _clip_deep(value: Any) -> Any:
    if isinstance(value, str):
        return clip(value, MAX_RECORDED_TEXT)
    if isinstance(value, list):
        return [_clip_deep(v) for v in value]
    if isinstance(value, dict):
        return {k: _clip_deep(v) for k, v in value.items()}
    return value


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass
class RunContext:
    """What the host knows about the run; capabilities are scoped by it."""

    run_id: str
    flow: str
    event_name: str
    repository: str | None
    installation_id: int | None
    dry_run: bool
    deadline: float  # time.monotonic() by which the run must end
    # the pull request or issue number of the event (its memory thread)
    thread: int | None = None

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


@dataclass
class Failure:
    """Why a run failed. `kind` is one of: timeout, memory, fuel, exception,
    trap, blocked (a wait on the clock), bad_value (a value that does not fit a
    WIT type), flow_error, host_error, link_error, bad_input."""

    kind: str
    component: str
    message: str


class Redactor:
    """Replaces known secrets in anything that is recorded."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self._secrets: list[str] = []
        self.add(*(secrets or []))

    def add(self, *secrets: str) -> None:
        """Also mask these (e.g. an installation token minted just now)."""
        known = set(self._secrets) | {s for s in secrets if s and len(s) >= 4}
        self._secrets = sorted(known, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, "[redacted]")
        return text

    def deep(self, value: Any) -> Any:
        """`value` with every string in it masked: lists, tuples, dicts, and the
        records and variants that cross the WIT boundary."""
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.deep(v) for v in value)
        if isinstance(value, dict):
            return {self.deep(k): self.deep(v) for k, v in value.items()}
        if isinstance(value, Variant):
            return Variant(value.tag, self.deep(value.payload))
        if isinstance(value, Record):
            for name, field_value in vars(value).items():
                setattr(value, name, self.deep(field_value))
        return value


class RunJournal:
    """Collects logs, GitHub writes and LLM usage during a run (thread-safe)."""

    def __init__(self, redact: Redactor | None = None) -> None:
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._redact = redact or Redactor()
        self.logs: list[dict[str, Any]] = []
        self.writes: list[dict[str, Any]] = []
        self.llm_calls: list[dict[str, Any]] = []
        self.dropped_logs = 0
        self.failure: Failure | None = None
        # set when something failed that may work later (see HostError.transient)
        self.retry: dict[str, Any] | None = None

    def log(self, component: str, level: str, message: str) -> None:
        with self._lock:
            if len(self.logs) >= MAX_LOG_LINES:
                self.dropped_logs += 1
                return
            self.logs.append(
                {
                    "t_ms": round((time.monotonic() - self._start) * 1000, 1),
                    "component": component,
                    "level": level,
                    "message": clip(self._redact(message)),
                }
            )

    def elapsed_ms(self) -> float:
        return round((time.monotonic() - self._start) * 1000, 1)

    def redact(self, value: Any) -> Any:
        """What the host hands a guest or records: every known secret masked."""
        return self._redact.deep(value)

    def write(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Record a GitHub write as it is sent; returns the recorded entry."""
        entry = _clip_deep(self._redact.deep(entry))
        with self._lock:
            self.writes.append(entry)
        return entry

    def answered(self, entry: dict[str, Any], status: int, html_url: str | None) -> None:
        """What GitHub answered a recorded write: its status and, for a comment
        or review, where people read it."""
        with self._lock:
            entry["status"] = status
            if html_url:
                entry["html_url"] = clip(self._redact(html_url), 2000)

    def llm_call(self, entry: dict[str, Any]) -> None:
        entry = _clip_deep(self._redact.deep(entry))
        with self._lock:
            self.llm_calls.append(entry)

    def transient(self, reason: str, retry_after: float | None = None) -> None:
        """Note a failure worth retrying later; the longest wait asked for wins."""
        with self._lock:
            wait = retry_after
            if self.retry is not None and self.retry.get("after_s") is not None:
                wait = max(wait or 0.0, self.retry["after_s"])
            self.retry = {"reason": self._redact(reason), "after_s": wait}

    def fail(self, failure: Failure) -> None:
        """Record the first failure; later ones are consequences of it."""
        with self._lock:
            if self.failure is None:
                message = clip(self._redact(failure.message))
                self.failure = Failure(failure.kind, failure.component, message)


@dataclass
class RunReport:
    run_id: str
    flow: str
    event: str
    action: str | None
    delivery_id: str
    repository: str | None
    dry_run: bool
    status: str  # "ok" or "failed"
    error: Failure | None
    result: Any
    writes: list[dict[str, Any]]
    logs: list[dict[str, Any]]
    duration_ms: float
    timings_ms: dict[str, float]
    resources: dict[str, Any]
    llm: dict[str, Any] = field(default_factory=dict)
    # for a failed run: {"reason", "after_s"} when a retry later may succeed
    retry: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _wall_ms(calls: list[dict[str, Any]]) -> float:
    """How long the run waited on the model: calls side by side count once."""
    spans = sorted((c["start_ms"], c["start_ms"] + c.get("latency_ms", 0))
                   for c in calls if "start_ms" in c)  # fmt: skip
    total, end = 0.0, float("-inf")
    for a, b in spans:
        if b > end:
            total += b - max(a, end)
            end = b
    return round(total, 1)


def llm_summary(calls: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "calls": len(calls),
        "prompt_tokens": sum(c.get("prompt_tokens", 0) for c in calls),
        "completion_tokens": sum(c.get("completion_tokens", 0) for c in calls),
        # latency_ms adds every call's; wall_ms is the time spent waiting on them
        "latency_ms": round(sum(c.get("latency_ms", 0) for c in calls), 1),
        "wall_ms": _wall_ms(calls),
        "too_long": sum(bool(c.get("too_long")) for c in calls),
        "by_call": calls,
    }
