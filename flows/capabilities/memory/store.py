"""Memory in SQL, partitioned by installation and repository.

A thread is a pull request (or issue) number: short-term memory, forgotten a
retention period after it closes. Thread 0 is the repository's long-term
memory. Per-repository caps evict the least recently written items first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from flows.db import insert, sessions, transaction
from flows.db.models import MemoryItem
from flows.project.config import MemoryConfig

MAX_KEY = 512
REPO_THREAD = 0
_KEY_COLUMNS = ["installation_id", "repository", "thread", "key"]


class BadMemoryInput(ValueError):
    """A key or value the store refuses (the message says why)."""


@dataclass(frozen=True)
class Tenant:
    """Whose memory: fixed by the host from the event, never by a flow."""

    installation_id: int
    repository: str

    @staticmethod
    def of(installation_id: int | None, repository: str) -> Tenant:
        return Tenant(installation_id or 0, repository.lower())


def check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY:
        raise BadMemoryInput(f"a key is 1 to {MAX_KEY} characters (got {len(key)})")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise BadMemoryInput("a key cannot contain control characters")


class MemoryStore:
    def __init__(
        self, engine: Engine, cfg: MemoryConfig, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.cfg = cfg
        self.clock = clock
        self.session = sessions(engine)
        self._insert = insert(engine)

    def _where(self, t: Tenant, thread: int, key: str | None = None):
        conds = [
            MemoryItem.installation_id == t.installation_id,
            MemoryItem.repository == t.repository,
            MemoryItem.thread == thread,
        ]
        if key is not None:
            conds.append(MemoryItem.key == key)
        return conds

    def _live(self, now: float):
        return (MemoryItem.expires_at.is_(None)) | (MemoryItem.expires_at > now)

    def _check_value(self, value: str) -> int:
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > self.cfg.max_value_kb * 1024:
            raise BadMemoryInput(
                f"the value is {size} bytes, over the limit of {self.cfg.max_value_kb} KiB "
                "(memory.max_value_kb)"
            )
        return size

    def _new(self, t: Tenant, thread: int, key: str, value: str, size: int, now: float):  # type: ignore[no-untyped-def]
        """An INSERT of one item (the caller adds what to do on a conflict)."""
        return self._insert(MemoryItem).values(
            installation_id=t.installation_id,
            repository=t.repository,
            thread=thread,
            key=key,
            value=value,
            size=size,
            created_at=now,
            updated_at=now,
        )

    def get(self, t: Tenant, thread: int, key: str) -> str | None:
        check_key(key)
        with transaction(self.session) as s:
            q = select(MemoryItem.value).where(
                *self._where(t, thread, key), self._live(self.clock())
            )
            return s.scalar(q)

    def put(self, t: Tenant, thread: int, key: str, value: str) -> None:
        check_key(key)
        size = self._check_value(value)
        now = self.clock()
        with transaction(self.session) as s:
            ins = self._new(t, thread, key, value, size, now)
            s.execute(ins.on_conflict_do_update(
                index_elements=_KEY_COLUMNS,
                set_={"value": value, "size": size, "updated_at": now},
            ))  # fmt: skip
            self._evict(s, t, keep=(thread, key))

    def put_if(self, t: Tenant, thread: int, key: str, expected: str | None, value: str) -> bool:
        """Write only if the current value is `expected` (None: absent), atomically."""
        check_key(key)
        size = self._check_value(value)
        now = self.clock()
        with transaction(self.session) as s:
            if expected is None:
                ins = self._new(t, thread, key, value, size, now).on_conflict_do_nothing()
                wrote = s.execute(ins.returning(MemoryItem.id)).first() is not None
            else:
                upd = (
                    update(MemoryItem)
                    .where(*self._where(t, thread, key), MemoryItem.value == expected)
                    .values(value=value, size=size, updated_at=now)
                )
                wrote = s.execute(upd.returning(MemoryItem.id)).first() is not None
            if wrote:
                self._evict(s, t, keep=(thread, key))
                return True
            return False

    def delete(self, t: Tenant, thread: int, key: str) -> bool:
        check_key(key)
        with transaction(self.session) as s:
            return s.execute(delete(MemoryItem).where(*self._where(t, thread, key))).rowcount > 0

    def list_keys(self, t: Tenant, thread: int, prefix: str, limit: int = 1000) -> list[str]:
        with transaction(self.session) as s:
            q = (
                select(MemoryItem.key)
                .where(*self._where(t, thread), self._live(self.clock()))
                .order_by(MemoryItem.key)
                .limit(limit)
            )
            if prefix:
                q = q.where(func.substr(MemoryItem.key, 1, len(prefix)) == prefix)
            return list(s.scalars(q))

    def _evict(self, s: Session, t: Tenant, keep: tuple[int, str]) -> None:
        """Drop the least recently written items while the repository is over its caps."""
        mine = [MemoryItem.installation_id == t.installation_id,
                MemoryItem.repository == t.repository]  # fmt: skip
        count, total = s.execute(
            select(func.count(), func.coalesce(func.sum(MemoryItem.size), 0)).where(*mine)
        ).one()
        limit_bytes = self.cfg.max_repo_mb * 1024 * 1024
        if count <= self.cfg.max_repo_items and total <= limit_bytes:
            return
        oldest = s.execute(
            select(MemoryItem.id, MemoryItem.size, MemoryItem.thread, MemoryItem.key)
            .where(*mine)
            .order_by(MemoryItem.updated_at, MemoryItem.id)
        )
        doomed = []
        for ident, size, thread, key in oldest:
            if count <= self.cfg.max_repo_items and total <= limit_bytes:
                break
            if (thread, key) == keep:
                continue
            doomed.append(ident)
            count, total = count - 1, total - size
        if doomed:
            s.execute(delete(MemoryItem).where(MemoryItem.id.in_(doomed)))

    # -- lifecycle ---------------------------------------------------------

    def close_thread(self, s: Session, t: Tenant, thread: int, now: float) -> None:
        """A pull request closed: its memory expires after the retention period."""
        s.execute(
            update(MemoryItem)
            .where(*self._where(t, thread))
            .values(expires_at=now + self.cfg.pr_retention_days * 86400)
        )

    def reopen_thread(self, s: Session, t: Tenant, thread: int) -> None:
        s.execute(update(MemoryItem).where(*self._where(t, thread)).values(expires_at=None))

    def purge_expired(self) -> int:
        with transaction(self.session) as s:
            q = delete(MemoryItem).where(MemoryItem.expires_at <= self.clock())
            return s.execute(q).rowcount

    @staticmethod
    def delete_installation(s: Session, installation_id: int) -> None:
        s.execute(delete(MemoryItem).where(MemoryItem.installation_id == installation_id))

    # -- for `flows memory` ------------------------------------------------------

    def items(self, repository: str, thread: int | None = None) -> list[MemoryItem]:
        with transaction(self.session) as s:
            q = select(MemoryItem).where(MemoryItem.repository == repository.lower())
            if thread is not None:
                q = q.where(MemoryItem.thread == thread)
            return list(s.scalars(q.order_by(MemoryItem.thread, MemoryItem.key)))

    def forget(self, repository: str, thread: int | None = None, key: str | None = None) -> int:
        with transaction(self.session) as s:
            q = delete(MemoryItem).where(MemoryItem.repository == repository.lower())
            if thread is not None:
                q = q.where(MemoryItem.thread == thread)
            if key is not None:
                q = q.where(MemoryItem.key == key)
            return s.execute(q).rowcount
