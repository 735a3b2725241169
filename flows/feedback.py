"""What maintainers tell flows through GitHub, applied as deliveries arrive:
`/dismiss [reason]` in reply to a finding's review comment, a resolved (or
unresolved) review thread, and `/remember <convention>` in a comment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from flows.db.models import Finding, Knowledge
from flows.knowledge import MAX_TEXT
from flows.memory import Tenant

# who may teach: people with write access (GitHub's author_association)
MAINTAINERS = ("OWNER", "MEMBER", "COLLABORATOR")


def _findings(s: Session, t: Tenant, comment_ids: list[int]) -> list[Finding]:
    if not comment_ids:
        return []
    q = select(Finding).where(
        Finding.installation_id == t.installation_id,
        Finding.repository == t.repository,
        Finding.comment_id.in_(comment_ids),
    )
    return list(s.scalars(q))


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
            rows = _findings(s, t, [parent])
            for row in rows:
                row.status, row.reason, row.updated_at = "dismissed", reason, now
            return f"dismissed {len(rows)} finding(s) at {who}'s request"
    if event == "pull_request_review_thread" and action in ("resolved", "unresolved"):
        thread = payload.get("thread") if isinstance(payload.get("thread"), dict) else {}
        ids = [c.get("id") for c in thread.get("comments") or [] if isinstance(c, dict)]
        rows = _findings(s, t, [i for i in ids if isinstance(i, int)])
        status = "dismissed" if action == "resolved" else "open"
        for row in rows:
            row.status, row.reason, row.updated_at = status, f"review thread {action}", now
        return f"{status} {len(rows)} finding(s): thread {action}" if rows else None
    remembered = body[len("/remember ") :].strip() if body.lower().startswith("/remember ") else ""
    if event == "issue_comment" and action == "created" and trusted and remembered:
        s.add(
            Knowledge(
                installation_id=t.installation_id,
                repository=t.repository,
                kind="convention",
                ref=who,
                text=remembered[:MAX_TEXT],
                paths="\n",
                created_at=now,
            )
        )
        return f"remembered a convention from {who}"
    if event == "pull_request" and action == "closed":
        pr = payload.get("pull_request") if isinstance(payload.get("pull_request"), dict) else {}
        if not pr.get("merged") and isinstance(pr.get("number"), int):
            s.execute(
                delete(Knowledge).where(
                    Knowledge.installation_id == t.installation_id,
                    Knowledge.repository == t.repository,
                    Knowledge.kind == "pr",
                    Knowledge.ref == str(pr["number"]),
                )
            )
    return None
