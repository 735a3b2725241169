"""What an operator can change: retry or cancel a job, redeliver a delivery.

Each is one conditional UPDATE, so when two operators act on the same job at
once one wins and the other is told why nothing happened."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from flows.capabilities.memory.knowledge import KnowledgeStore
from flows.capabilities.memory.store import MemoryStore
from flows.db.models import Delivery, Installation, Job
from flows.server.console.data import Scope, visible_delivery, visible_job

RETRYABLE = ("failed", "dead", "superseded")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str


def _requeued(now: float, note: str) -> dict:
    """The columns of a job queued again by an operator, with a fresh attempt budget."""
    return dict(state="queued", attempts=0, next_attempt_at=now, finished_at=None,
                lease_expires_at=None, leased_by=None, last_error=note)  # fmt: skip


def _move(s: Session, job_id: int, scope: Scope, only: tuple[str, ...], values: dict,
          done: str, refused: str) -> Outcome:  # fmt: skip
    """One conditional UPDATE of a job in one of the `only` states; when it
    matches nothing (another operator won), say the state it is in now."""
    if not visible_job(s, job_id, scope):
        return Outcome(False, f"no job {job_id}")
    res = s.execute(
        update(Job)
        .where(Job.id == job_id, Job.state.in_(only))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:
        state = s.scalar(select(Job.state).where(Job.id == job_id))  # as the winner left it
        return Outcome(False, f"job {job_id} is {state}: {refused}")
    return Outcome(True, f"job {job_id} {done}")


def retry(
    s: Session, job_id: int, who: str, scope: Scope = None, now: float | None = None
) -> Outcome:
    """Queue a finished-unsuccessfully job again, with a fresh attempt budget."""
    values = _requeued(now or time.time(), f"retried by {who}")
    return _move(s, job_id, scope, RETRYABLE, values, "queued again",
                 "only a failed, dead or superseded job can be retried "
                 "(someone may have retried it already)")  # fmt: skip


def cancel(
    s: Session, job_id: int, who: str, scope: Scope = None, now: float | None = None
) -> Outcome:
    """Take a queued job off the queue (a running one finishes its attempt)."""
    values = dict(state="skipped", finished_at=now or time.time(), last_error=f"cancelled by {who}")
    return _move(s, job_id, scope, ("queued",), values, "cancelled",
                 "only a queued job can be cancelled")  # fmt: skip


def redeliver(
    s: Session, delivery_id: str, who: str, scope: Scope = None, now: float | None = None
) -> Outcome:
    """Run every job of a delivery again (those not queued or running)."""
    now = now or time.time()
    d = s.get(Delivery, delivery_id)
    if d is None or not visible_delivery(s, delivery_id, scope):
        return Outcome(False, f"no delivery {delivery_id}")
    if d.installation_id is not None:
        inst = s.get(Installation, d.installation_id)
        if inst is None or inst.status != "active":
            state = "removed" if inst is None or inst.status == "deleted" else inst.status
            return Outcome(False, f"installation {d.installation_id} is {state}: the App can "
                           "no longer act there, so the delivery is not run again")  # fmt: skip
    res = s.execute(
        update(Job)
        .where(Job.delivery_id == delivery_id, Job.state.notin_(("queued", "running")))
        .values(**_requeued(now, f"redelivered by {who}"))
        .execution_options(synchronize_session=False)
    )
    if res.rowcount == 0:
        return Outcome(False, f"delivery {delivery_id} has no finished job to run again")
    return Outcome(True, f"delivery {delivery_id}: {res.rowcount} job(s) queued again")


def forget(memory: MemoryStore, knowledge: KnowledgeStore, repo: str, form: dict) -> Outcome:
    """What `flows memory forget` does, for one form: `what` is finding
    (with `fingerprint`), knowledge (`id`), key (`thread`, `key`) or everything."""
    what = str(form.get("what") or "")
    try:
        if what == "finding" and form.get("fingerprint"):
            n = knowledge.forget(repo, finding=str(form["fingerprint"]))
        elif what == "knowledge" and form.get("id"):
            n = knowledge.forget(repo, knowledge_id=int(str(form["id"])))
        elif what == "key" and form.get("key"):
            n = memory.forget(repo, int(str(form.get("thread") or 0)), str(form["key"]))
        elif what == "everything":
            n = memory.forget(repo) + knowledge.forget(repo, everything=True)
        else:
            return Outcome(False, "say what to forget: what=finding&fingerprint=..., "
                           "knowledge&id=N, key&thread=N&key=K, or everything")  # fmt: skip
    except ValueError:
        return Outcome(False, "id and thread are numbers")
    if n == 0:
        return Outcome(False, f"{repo}: nothing of that is remembered (already forgotten?)")
    return Outcome(True, f"{repo}: forgot {n} item(s)")
