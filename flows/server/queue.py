"""The durable job queue in SQL: enqueue, claim with a lease, finish, retry.

On PostgreSQL a claim is `SELECT ... FOR UPDATE SKIP LOCKED` plus an advisory
lock on the job's concurrency key, so racing workers never run two jobs of the
same key. On SQLite every transaction is `BEGIN IMMEDIATE` (see flows.db), so
claims are serialized by the database itself, across threads and processes.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, and_, exists, func, insert, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from flows.db import is_sqlite, sessions, transaction
from flows.db.models import Job
from flows.project.config import QueueConfig

# pull_request actions that mean "the code changed": a newer one supersedes older queued ones
PUSH_ACTIONS = ("opened", "reopened", "synchronize", "ready_for_review")
MAX_RETRY_AFTER_S = 3600.0
FINAL_STATES = ("done", "failed", "dead", "superseded", "skipped")


@dataclass(frozen=True)
class Claim:
    """A job this worker holds until its lease runs out."""

    id: int
    delivery_id: str
    flow: str
    event: str
    action: str | None
    attempts: int
    lease: str  # the lease token: finishing needs it


def enqueue(
    session: Session,
    delivery_id: str,
    flow: str,
    event: str,
    action: str | None,
    key: str | None,
    now: float,
) -> int:
    """Add a job in the caller's transaction (a newer push supersedes queued older
    ones of the same key); returns its id."""
    if key is not None and event == "pull_request" and action in PUSH_ACTIONS:
        session.execute(
            update(Job)
            .where(
                Job.concurrency_key == key,
                Job.state == "queued",
                Job.event == "pull_request",
                Job.action.in_(PUSH_ACTIONS),
            )
            .values(state="superseded", finished_at=now, last_error=f"superseded by {delivery_id}")
            .execution_options(synchronize_session=False)
        )
    values = dict(delivery_id=delivery_id, flow=flow, event=event, action=action,
                  concurrency_key=key, state="queued", attempts=0, next_attempt_at=now,
                  created_at=now)  # fmt: skip
    return session.execute(insert(Job).values(**values).returning(Job.id)).scalar_one()


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: half fixed, half random, capped."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay / 2 + (rng or random).uniform(0, delay / 2)


class Queue:
    def __init__(
        self, engine: Engine, cfg: QueueConfig, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.cfg = cfg
        self.clock = clock
        self.session = sessions(engine)
        self._pg = not is_sqlite(engine)

    # -- claiming ------------------------------------------------------------

    def claim(self, worker: str) -> Claim | None:
        """Take the oldest runnable job, or None. A job whose lease ran out
        (its worker died) is runnable again."""
        skip: list[int] = []
        for _ in range(20):
            with transaction(self.session) as s:
                now = self.clock()
                job = self._candidate(s, now, skip)
                if job is None:
                    return None
                if job.concurrency_key is not None and self._pg:
                    s.execute(
                        text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                        {"k": job.concurrency_key},
                    )
                    if self._key_busy(s, job, now):
                        skip.append(job.id)
                        continue
                if job.state == "running" and job.attempts >= self.cfg.max_attempts:
                    job.state, job.finished_at = "dead", now
                    job.last_error = (
                        f"its worker stopped {job.attempts} times mid-run (lease expired); "
                        f"{job.last_error or ''}"
                    ).rstrip("; ")
                    continue
                lease = f"{worker}/{uuid.uuid4().hex[:8]}"
                job.state = "running"
                job.attempts += 1
                job.leased_by = lease
                job.lease_expires_at = now + self.cfg.lease_s
                return Claim(
                    job.id, job.delivery_id, job.flow, job.event, job.action, job.attempts, lease
                )
        return None

    @staticmethod
    def _busy(key, ident, now: float):  # type: ignore[no-untyped-def]
        """Another job with this concurrency key is running under a live lease."""
        other = aliased(Job)
        return exists().where(
            other.concurrency_key == key,
            other.state == "running",
            other.lease_expires_at >= now,
            other.id != ident,
        )

    def _runnable(self, now: float):  # type: ignore[no-untyped-def]
        due = or_(
            and_(Job.state == "queued", Job.next_attempt_at <= now),
            and_(Job.state == "running", Job.lease_expires_at < now),
        )
        free = or_(Job.concurrency_key.is_(None), ~self._busy(Job.concurrency_key, Job.id, now))
        return and_(due, free)

    def _candidate(self, s: Session, now: float, skip: list[int]) -> Job | None:
        q = select(Job).where(self._runnable(now)).order_by(Job.id).limit(1)
        if skip:
            q = q.where(Job.id.notin_(skip))
        if self._pg:
            q = q.with_for_update(skip_locked=True, of=Job)
        return s.execute(q).scalar_one_or_none()

    def _key_busy(self, s: Session, job: Job, now: float) -> bool:
        return bool(s.scalar(select(self._busy(job.concurrency_key, job.id, now))))

    # -- while running -----------------------------------------------------

    def heartbeat(self, claim: Claim) -> bool:
        """Extend the lease; False if the job is no longer ours."""
        with transaction(self.session) as s:
            res = s.execute(
                update(Job)
                .where(Job.id == claim.id, Job.leased_by == claim.lease, Job.state == "running")
                .values(lease_expires_at=self.clock() + self.cfg.lease_s)
            )
            return res.rowcount == 1

    # -- finishing ---------------------------------------------------------

    def finish(self, claim: Claim, state: str, error: str | None = None) -> bool:
        """Move the job to a final state; False if the lease was lost meanwhile."""
        assert state in FINAL_STATES
        return self._update(
            claim, state=state, last_error=error, finished_at=self.clock(), lease_expires_at=None
        )

    def retry(self, claim: Claim, error: str, retry_after: float | None = None) -> str:
        """Queue the job again after a backoff, or dead-letter it when attempts
        are used up. Returns the new state ("queued" or "dead")."""
        if claim.attempts >= self.cfg.max_attempts:
            reason = f"gave up after {claim.attempts} attempts: {error}"
            self.finish(claim, "dead", reason)
            return "dead"
        delay = backoff(claim.attempts, self.cfg.backoff_base_s, self.cfg.backoff_max_s)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
        self._update(
            claim,
            state="queued",
            last_error=f"attempt {claim.attempts} failed, retrying in {delay:.0f} s: {error}",
            next_attempt_at=self.clock() + delay,
            lease_expires_at=None,
            leased_by=None,
        )
        return "queued"

    def _update(self, claim: Claim, **values: object) -> bool:
        with transaction(self.session) as s:
            res = s.execute(
                update(Job)
                .where(Job.id == claim.id, Job.leased_by == claim.lease, Job.state == "running")
                .values(**values)
            )
            return res.rowcount == 1

    # -- looking -----------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with transaction(self.session) as s:
            rows = s.execute(select(Job.state, func.count()).group_by(Job.state)).all()
        return {state: n for state, n in rows}
