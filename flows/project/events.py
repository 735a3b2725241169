"""GitHub events as the host hands them to flows."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.errors import EventError
from flows.project.textfile import read_text

# Keys that only one event's payload has at the top level, in priority order.
_SHAPES = [
    ("zen", "ping"),
    ("review", "pull_request_review"),
    ("comment", None),  # issue_comment or pull_request_review_comment, below
    ("pull_request", "pull_request"),
    ("issue", "issues"),
    ("check_run", "check_run"),
    ("check_suite", "check_suite"),
    ("release", "release"),
    ("repositories_added", "installation_repositories"),
    ("pusher", "push"),
]


@dataclass
class Event:
    name: str
    payload: dict[str, Any]
    delivery_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    raw: str | None = None

    @property
    def action(self) -> str | None:
        action = self.payload.get("action")
        return action if isinstance(action, str) else None

    @property
    def repository(self) -> str | None:
        repo = self.payload.get("repository")
        name = repo.get("full_name") if isinstance(repo, dict) else None
        return name if isinstance(name, str) else None

    @property
    def thread(self) -> int | None:
        """The pull request or issue number the event is about, if any."""
        for holder in ("pull_request", "issue"):
            obj = self.payload.get(holder)
            number = obj.get("number") if isinstance(obj, dict) else None
            if isinstance(number, int):
                return number
        return None

    @property
    def installation_id(self) -> int | None:
        inst = self.payload.get("installation")
        ident = inst.get("id") if isinstance(inst, dict) else None
        return ident if isinstance(ident, int) else None


def guess_event_name(payload: dict[str, Any]) -> str | None:
    """The X-GitHub-Event a payload was sent with, from its shape."""
    for key, name in _SHAPES:
        if key in payload:
            if key == "comment":
                return (
                    "pull_request_review_comment" if "pull_request" in payload else "issue_comment"
                )
            if key == "issue" and "comment" not in payload:
                return "issues"
            return name
    if "installation" in payload and payload.get("action") in {"created", "deleted", "suspend"}:
        return "installation"
    return None


def load_event(path: str | Path, event_name: str | None = None) -> Event:
    """Read a recorded event: a bare webhook payload, or an envelope
    `{"event": NAME, "payload": {...}, "delivery_id": ...}`."""
    path = Path(path)
    text = read_text(path, "event file", EventError)
    try:
        data = json.loads(text)
    except ValueError as e:
        raise EventError(f"{path}: not JSON: {e}") from None
    if not isinstance(data, dict):
        raise EventError(f"{path}: a webhook payload is a JSON object, not {type(data).__name__}")
    delivery = str(uuid.uuid4())
    raw: str | None = text
    if isinstance(data.get("payload"), dict) and isinstance(data.get("event"), str):
        event_name = event_name or data["event"]
        delivery = str(data.get("delivery_id") or delivery)
        data = data["payload"]
        raw = None
    name = event_name or guess_event_name(data)
    if not name:
        raise EventError(
            f"{path}: cannot tell which event this payload is; pass --event-name "
            "(e.g. pull_request)"
        )
    return Event(name=name, payload=data, delivery_id=delivery, raw=raw)
