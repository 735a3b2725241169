"""What maintainers tell flows through GitHub, applied as deliveries arrive:
`/dismiss [reason]` in reply to a finding's review comment, a resolved (or
unresolved) review thread, and `/remember <convention>` in a comment."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from flows.capabilities.memory import knowledge
from flows.capabilities.memory.store import Tenant

# who may teach: people with write access (GitHub's author_association)
MAINTAINERS = ("OWNER", "MEMBER", "COLLABORATOR")


def apply(
    s: Session, t: Tenant, event: str, action: str | None, payload: dict[str, Any], now: float
) -> str | None:
    """Apply feedback in this delivery, if it has any; returns a note for the record."""
    comment = payload.get("comment") if isinstance(payload.get("comment"), dict) else {}
    body = str(comment.get("body") or "").strip()
    trusted = comment.get("author_association") in MAINTAINERS
    who = str((comment.get("user") or {}).get("login") or "")
    if event == "pull_request_review_comment" and action == "created" and trusted:
        parent = comment.get("in_reply_to_id")
        if body.lower().startswith("/dismiss") and isinstance(parent, int):
            reason = body[len("/dismiss") :].strip() or None
            n = knowledge.mark(s, t, "dismissed", reason, now, comment_ids=[parent])
            return f"dismissed {n} finding(s) at {who}'s request"
    if event == "pull_request_review_thread" and action in ("resolved", "unresolved"):
        thread = payload.get("thread") if isinstance(payload.get("thread"), dict) else {}
        ids = [c.get("id") for c in thread.get("comments") or [] if isinstance(c, dict)]
        ids = [i for i in ids if isinstance(i, int)]
        status = "dismissed" if action == "resolved" else "open"
        n = knowledge.mark(s, t, status, f"review thread {action}", now, comment_ids=ids)
        return f"{status} {n} finding(s): thread {action}" if n else None
    remembered = body[len("/remember ") :].strip() if body.lower().startswith("/remember ") else ""
    if event == "issue_comment" and action == "created" and trusted and remembered:
        knowledge.put(s, t, "convention", who, remembered, [], now)
        return f"remembered a convention from {who}"
    if event == "pull_request" and action == "closed":
        pr = payload.get("pull_request") if isinstance(payload.get("pull_request"), dict) else {}
        if not pr.get("merged") and isinstance(pr.get("number"), int):
            knowledge.drop_pr(s, t, pr["number"])
    return None
