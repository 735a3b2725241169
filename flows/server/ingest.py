"""Webhook ingress: verify, store the delivery and its jobs in one transaction."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flows.capabilities.memory import feedback
from flows.capabilities.memory.knowledge import KnowledgeStore
from flows.capabilities.memory.store import MemoryStore, Tenant
from flows.db import sessions, transaction
from flows.db.models import Delivery
from flows.project.config import AppConfig
from flows.project.events import Event
from flows.server import installations
from flows.server.payload import Malformed, parse
from flows.server.queue import enqueue

INSTALLATION_EVENTS = ("installation", "installation_repositories")
# a conflict other than the delivery id's own (a row another delivery made
# meanwhile) is retried this many times in all
STORE_ATTEMPTS = 3
log = logging.getLogger("flows.ingest")


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Check X-Hub-Signature-256 (HMAC-SHA256 of the raw body), in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode("utf-8", "replace"))


def sign(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 GitHub would send (tests and the benchmark use it)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _stored(s: Session, delivery_id: str) -> bool:
    return s.scalar(select(Delivery.id).where(Delivery.id == delivery_id)) is not None


def concurrency_key(flow: str, event: Event) -> str | None:
    """Runs of one flow on one PR or issue share a key and never overlap."""
    if event.repository is None or event.thread is None:
        return None
    return f"{flow}:{event.repository.lower()}#{event.thread}"


@dataclass
class Outcome:
    """What the endpoint answers."""

    status_code: int
    body: dict[str, Any] = field(default_factory=dict)


class Ingest:
    def __init__(
        self,
        cfg: AppConfig,
        engine: Engine,
        memory: MemoryStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.session = sessions(engine)
        self.memory = memory
        self.clock = clock

    def accept(self, delivery_id: str, event: str, body: bytes) -> Outcome:
        """Store one verified delivery and the jobs of every matching flow."""
        now = self.clock()
        try:
            payload = parse(body)
        except Malformed as e:
            note = str(e)
            self._store(Delivery(id=delivery_id, event=event, action=None, status="malformed",
                                 note=note, body=body, received_at=now))  # fmt: skip
            return Outcome(400, {"error": note, "delivery": delivery_id})
        ev = Event(event, payload, delivery_id)
        conflict = ""
        for _attempt in range(STORE_ATTEMPTS):
            try:
                return self._store_with_jobs(ev, body, now)
            except IntegrityError as e:
                if self._exists(delivery_id):  # the same delivery stored meanwhile
                    return Outcome(202, {"delivery": delivery_id, "duplicate": True, "jobs": 0})
                conflict = str(e.orig).splitlines()[0] if e.orig is not None else str(e)
                log.warning("delivery %s: %s; storing it again", delivery_id, conflict)
        # answered as a failure, so GitHub shows it and it can be redelivered
        return Outcome(503, {"error": f"could not store the delivery: {conflict}",
                             "delivery": delivery_id})  # fmt: skip

    def _exists(self, delivery_id: str) -> bool:
        with transaction(self.session) as s:
            return _stored(s, delivery_id)

    def _store_with_jobs(self, ev: Event, body: bytes, now: float) -> Outcome:
        """One transaction: the delivery, what it changes, and its jobs."""
        event, delivery_id, payload = ev.name, ev.delivery_id, ev.payload
        action, inst_id, repo_name = ev.action, ev.installation_id, ev.repository
        delivery = Delivery(id=delivery_id, event=event, action=action, installation_id=inst_id,
                            repository=repo_name, status="accepted", note=None, body=body,
                            received_at=now)  # fmt: skip
        with transaction(self.session) as s:
            if _stored(s, delivery_id):
                return Outcome(202, {"delivery": delivery_id, "duplicate": True, "jobs": 0})
            if event == "ping":
                delivery.status = "ping"
                s.add(delivery)
                return Outcome(200, {"pong": True, "zen": payload.get("zen")})
            if event in INSTALLATION_EVENTS:
                delivery.note = installations.apply_event(s, event, payload, now)
                if event == "installation" and action == "deleted" and inst_id is not None:
                    MemoryStore.delete_installation(s, inst_id)
                    KnowledgeStore.delete_installation(s, inst_id)
            elif inst_id is not None:
                state = installations.seen(s, inst_id, now).status
                if state != "active":
                    delivery.status = "skipped"
                    delivery.note = f"installation {inst_id} is {state}"
                    s.add(delivery)
                    return Outcome(202, {"delivery": delivery_id, "skipped": delivery.note})
            s.add(delivery)
            s.flush()
            if repo_name is not None:
                tenant = Tenant.of(inst_id, repo_name)
                self._thread_state(s, ev, tenant, now)
                delivery.note = feedback.apply(s, tenant, event, action, payload, now)
            flows = [n for n, f in self.cfg.flows.items() if f.triggered_by(event, action)]
            for name in flows:
                enqueue(s, delivery_id, name, event, action, concurrency_key(name, ev), now)
            return Outcome(202, {"delivery": delivery_id, "jobs": len(flows), "flows": flows})

    def _thread_state(self, s: Session, ev: Event, tenant: Tenant, now: float) -> None:
        """A closed pull request or issue starts its memory's retention period."""
        if self.memory is None or ev.thread is None or ev.name not in ("pull_request", "issues"):
            return
        if ev.action == "closed":
            self.memory.close_thread(s, tenant, ev.thread, now)
        elif ev.action == "reopened":
            self.memory.reopen_thread(s, tenant, ev.thread)

    def _store(self, delivery: Delivery) -> None:
        try:
            with transaction(self.session) as s:
                if not _stored(s, delivery.id):
                    s.add(delivery)
        except IntegrityError:
            pass
