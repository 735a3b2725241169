"""The installations table, kept current by `installation` and
`installation_repositories` events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.db import insert
from flows.db.models import Installation, Repository

_STATUS = {
    "created": "active",
    "unsuspend": "active",
    "new_permissions_accepted": "active",
    "suspend": "suspended",
    "deleted": "deleted",
}


def status_of(session: Session, installation_id: int) -> str | None:
    row = session.get(Installation, installation_id)
    return row.status if row else None


def _insert_new(session: Session, model: Any, **values: Any) -> None:
    """INSERT … ON CONFLICT DO NOTHING: concurrent first sightings of the same
    row (deliveries arriving together) all succeed, and one row is made."""
    statement = insert(session.get_bind())(model)
    session.execute(statement.values(**values).on_conflict_do_nothing(index_elements=["id"]))


def seen(session: Session, installation_id: int, now: float) -> Installation:
    """The row for an installation, created as active the first time it is seen."""
    row = session.get(Installation, installation_id)
    if row is None:
        _insert_new(session, Installation, id=installation_id, account="", account_type="",
                    status="active", updated_at=now)  # fmt: skip
        row = session.get(Installation, installation_id)
    return row


def apply_event(session: Session, event: str, payload: dict[str, Any], now: float) -> str | None:
    """Apply an installation event; returns a note for the delivery record."""
    inst = payload.get("installation")
    if not isinstance(inst, dict) or not isinstance(inst.get("id"), int):
        return "no installation.id in the payload"
    row = seen(session, inst["id"], now)
    account = inst.get("account") if isinstance(inst.get("account"), dict) else {}
    row.account = str(account.get("login") or row.account)
    row.account_type = str(account.get("type") or row.account_type)
    row.updated_at = now
    action = payload.get("action")
    if event == "installation" and action in _STATUS:
        row.status = _STATUS[action]
        if action == "deleted":
            for repo in session.scalars(
                select(Repository).where(Repository.installation_id == row.id)
            ):
                repo.removed = True
    added = payload.get("repositories_added") or []
    if event == "installation" and action == "created":
        added = payload.get("repositories") or []
    for r in added:
        if isinstance(r, dict) and isinstance(r.get("id"), int):
            repo = session.get(Repository, r["id"])
            if repo is None:
                _insert_new(session, Repository, id=r["id"], installation_id=row.id,
                            full_name="", removed=False)  # fmt: skip
                repo = session.get(Repository, r["id"])
            repo.installation_id = row.id
            repo.full_name = str(r.get("full_name") or repo.full_name)
            repo.removed = False
    for r in payload.get("repositories_removed") or []:
        if isinstance(r, dict) and isinstance(r.get("id"), int):
            repo = session.get(Repository, r["id"])
            if repo is not None:
                repo.removed = True
    return f"installation {row.id} ({row.account or '?'}) is {row.status}"
