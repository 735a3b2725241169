"""What a repository's reviews learn: findings and what maintainers said of
them, conventions the team states, and summaries of merged pull requests.
Partitioned by installation and repository like all memory."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, and_, delete, func, or_, select, text
from sqlalchemy.orm import Session

from flows.capabilities.memory.store import BadMemoryInput, Tenant
from flows.db import is_sqlite, sessions, transaction
from flows.db.models import Finding, Knowledge

STATUSES = ("open", "dismissed", "accepted")
MAX_TEXT = 4000
MAX_KNOWLEDGE = 2000  # per repository; the oldest go first
_WORD = re.compile(r"[A-Za-z0-9_]{3,}")


@dataclass
class FindingIn:
    fingerprint: str
    rule: str
    path: str
    symbol: str
    title: str
    severity: str
    comment_id: int | None = None


@dataclass
class Recalled:
    kind: str
    ref: str
    text: str
    paths: list[str]


def _paths(paths: list[str]) -> str:
    return "\n" + "\n".join(p.strip() for p in paths if p.strip()) + "\n"


class KnowledgeStore:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self.session = sessions(engine)
        self._sqlite = is_sqlite(engine)

    # -- findings ---------------------------------------------------------------

    def record_findings(self, t: Tenant, pr: int, found: list[FindingIn]) -> None:
        """Remember reported findings; a known fingerprint keeps its status."""
        now = self.clock()
        with transaction(self.session) as s:
            for f in found:
                if not f.fingerprint or len(f.fingerprint) > 128:
                    raise BadMemoryInput("a finding's fingerprint is 1 to 128 characters")
                row = s.scalar(
                    select(Finding).where(_mine(Finding, t), Finding.fingerprint == f.fingerprint)
                )
                if row is None:
                    row = Finding(
                        installation_id=t.installation_id,
                        repository=t.repository,
                        fingerprint=f.fingerprint,
                        status="open",
                        created_at=now,
                    )
                    s.add(row)
                row.rule, row.path, row.symbol = f.rule[:128], f.path[:1024], f.symbol[:255]
                row.title, row.severity = f.title[:MAX_TEXT], f.severity[:16]
                row.pr_number, row.updated_at = pr, now
                if f.comment_id is not None:
                    row.comment_id = f.comment_id

    def suppressed(self, t: Tenant, candidates: list[FindingIn]) -> list[str]:
        """Fingerprints not to raise again: dismissed before, or the same rule on
        the same file and symbol dismissed before, anywhere in the repository."""
        if not candidates:
            return []
        with transaction(self.session) as s:
            rows = s.execute(
                select(Finding.fingerprint, Finding.rule, Finding.path, Finding.symbol).where(
                    _mine(Finding, t), Finding.status == "dismissed"
                )
            ).all()
        fps = {r.fingerprint for r in rows}
        shapes = {(r.rule, r.path, r.symbol) for r in rows}
        return [
            c.fingerprint
            for c in candidates
            if c.fingerprint in fps or (c.rule, c.path, c.symbol) in shapes
        ]

    def set_status(
        self,
        t: Tenant,
        status: str,
        reason: str | None = None,
        fingerprint: str | None = None,
        comment_ids: list[int] | None = None,
    ) -> int:
        """Mark findings (by fingerprint, or by the review comments that carry
        them) dismissed, accepted or open again; returns how many changed."""
        if status not in STATUSES:
            raise BadMemoryInput(f"status {status!r}: use one of {list(STATUSES)}")
        with transaction(self.session) as s:
            return mark(s, t, status, reason, self.clock(), fingerprint, comment_ids)

    def findings(self, repository: str) -> list[Finding]:
        with transaction(self.session) as s:
            q = select(Finding).where(Finding.repository == repository.lower())
            return list(s.scalars(q.order_by(Finding.updated_at)))

    # -- knowledge ------------------------------------------------------------------

    def add(self, t: Tenant, kind: str, ref: str, body: str, paths: list[str]) -> int:
        """Store a convention or a PR summary (a PR's replaces its earlier one)."""
        body = body.strip()
        if not body:
            raise BadMemoryInput("nothing to remember: the text is empty")
        if len(body) > MAX_TEXT:
            raise BadMemoryInput(f"the text is {len(body)} characters, over {MAX_TEXT}")
        with transaction(self.session) as s:
            return put(s, t, kind, ref, body, paths, self.clock())

    def recall(self, t: Tenant, query: str, paths: list[str], limit: int = 10) -> list[Recalled]:
        """Conventions first (the most relevant to `query`), then the history of
        these paths (newest first), then other text relevant to `query`."""
        limit = max(1, min(limit, 50))
        with transaction(self.session) as s:
            ranked = self._search(s, t, query, limit * 3)
            conventions = list(
                s.scalars(
                    select(Knowledge)
                    .where(_mine(Knowledge, t), Knowledge.kind == "convention")
                    .order_by(Knowledge.created_at.desc())
                    .limit(200)
                )
            )
            touching = []
            if paths:
                like = [Knowledge.paths.contains(f"\n{p}\n") for p in paths[:50]]
                touching = list(
                    s.scalars(
                        select(Knowledge)
                        .where(_mine(Knowledge, t), Knowledge.kind == "pr", or_(*like))
                        .order_by(Knowledge.created_at.desc())
                        .limit(limit)
                    )
                )
        order = {row_id: i for i, row_id in enumerate(ranked)}
        conventions.sort(key=lambda r: order.get(r.id, len(order)))
        out, seen = [], set()
        others = [r for r in self._rows_by_id(t, ranked) if r.kind != "convention"]
        for row in [*conventions, *touching, *others]:
            if row.id not in seen and len(out) < limit:
                seen.add(row.id)
                out.append(
                    Recalled(row.kind, row.ref, row.text, [p for p in row.paths.split("\n") if p])
                )
        return out

    def _rows_by_id(self, t: Tenant, ids: list[int]) -> list[Knowledge]:
        if not ids:
            return []
        with transaction(self.session) as s:
            rows = {
                r.id: r
                for r in s.scalars(
                    select(Knowledge).where(_mine(Knowledge, t), Knowledge.id.in_(ids))
                )
            }
        return [rows[i] for i in ids if i in rows]

    def _search(self, s: Session, t: Tenant, query: str, limit: int) -> list[int]:
        """Ids of this tenant's knowledge, most relevant to `query` first."""
        words = _WORD.findall(query)[:30]
        if not words:
            return []
        params = {"inst": t.installation_id, "repo": t.repository, "limit": limit}
        if self._sqlite:
            params["q"] = " OR ".join(f'"{w}"' for w in words)
            sql = (
                "SELECT k.id FROM knowledge_fts JOIN knowledge k ON k.id = knowledge_fts.rowid "
                "WHERE knowledge_fts MATCH :q AND k.installation_id = :inst "
                "AND k.repository = :repo ORDER BY bm25(knowledge_fts) LIMIT :limit"
            )
        else:
            params["q"] = " | ".join(words)
            sql = (
                "SELECT id FROM knowledge WHERE installation_id = :inst AND repository = :repo "
                "AND to_tsvector('english', text) @@ to_tsquery('english', :q) "
                "ORDER BY ts_rank(to_tsvector('english', text), to_tsquery('english', :q)) DESC "
                "LIMIT :limit"
            )
        return list(s.scalars(text(sql), params))

    def entries(self, repository: str) -> list[Knowledge]:
        with transaction(self.session) as s:
            q = select(Knowledge).where(Knowledge.repository == repository.lower())
            return list(s.scalars(q.order_by(Knowledge.kind, Knowledge.created_at)))

    def forget(
        self,
        repository: str,
        finding: str | None = None,
        knowledge_id: int | None = None,
        everything: bool = False,
    ) -> int:
        """Delete a finding's record (undoing a dismissal), one entry, or all."""
        repo = repository.lower()
        n = 0
        with transaction(self.session) as s:
            if finding is not None or everything:
                q = delete(Finding).where(Finding.repository == repo)
                if finding is not None:
                    q = q.where(Finding.fingerprint == finding)
                n += s.execute(q).rowcount
            if knowledge_id is not None or everything:
                q = delete(Knowledge).where(Knowledge.repository == repo)
                if knowledge_id is not None:
                    q = q.where(Knowledge.id == knowledge_id)
                n += s.execute(q).rowcount
        return n

    @staticmethod
    def delete_installation(s: Session, installation_id: int) -> None:
        s.execute(delete(Finding).where(Finding.installation_id == installation_id))
        s.execute(delete(Knowledge).where(Knowledge.installation_id == installation_id))


# -- within a caller's transaction (the service's ingress uses these too) -------


def _mine(model, t: Tenant):  # type: ignore[no-untyped-def]
    return and_(model.installation_id == t.installation_id, model.repository == t.repository)


def mark(
    s: Session,
    t: Tenant,
    status: str,
    reason: str | None,
    now: float,
    fingerprint: str | None = None,
    comment_ids: list[int] | None = None,
) -> int:
    """Set the status of findings chosen by fingerprint or by their review comments."""
    which = []
    if fingerprint is not None:
        which.append(Finding.fingerprint == fingerprint)
    if comment_ids:
        which.append(Finding.comment_id.in_(comment_ids))
    if not which:
        return 0
    rows = list(s.scalars(select(Finding).where(_mine(Finding, t), or_(*which))))
    for row in rows:
        row.status, row.reason, row.updated_at = status, reason, now
    return len(rows)


def drop_pr(s: Session, t: Tenant, number: int) -> None:
    """A pull request closed without merging: its summary is not history."""
    kind = and_(Knowledge.kind == "pr", Knowledge.ref == str(number))
    s.execute(delete(Knowledge).where(_mine(Knowledge, t), kind))


def put(s: Session, t: Tenant, kind: str, ref: str, body: str, paths: list[str], now: float) -> int:
    """Store a convention or a PR summary (a PR's replaces its earlier one); the
    repository's oldest entries go when it is over its cap."""
    if kind == "pr":
        drop_pr(s, t, int(ref))
    row = Knowledge(
        installation_id=t.installation_id,
        repository=t.repository,
        kind=kind,
        ref=ref[:255],
        text=body[:MAX_TEXT],
        paths=_paths(paths),
        created_at=now,
    )
    s.add(row)
    s.flush()
    n = s.scalar(select(func.count()).where(_mine(Knowledge, t)))
    if n > MAX_KNOWLEDGE:
        oldest = select(Knowledge.id).where(_mine(Knowledge, t))
        oldest = oldest.order_by(Knowledge.created_at, Knowledge.id).limit(n - MAX_KNOWLEDGE)
        s.execute(delete(Knowledge).where(Knowledge.id.in_(list(s.scalars(oldest)))))
    return row.id
