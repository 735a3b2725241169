"""Workers: claim a job, run its flow in a sandbox, record the run, finish."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from typing import Any

from flows.db import transaction
from flows.db.models import Delivery, Installation, Run
from flows.errors import FlowsError
from flows.project.events import Event
from flows.runtime import Runtime
from flows.sandbox.report import RunReport, new_run_id
from flows.server.metrics import Metrics
from flows.server.payload import Malformed, parse
from flows.server.queue import Claim, Queue

log = logging.getLogger("flows.worker")


def worker_name(n: int) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{n}"


class Worker:
    """Processes jobs one at a time; `process_one` is one claim-run-finish cycle."""

    def __init__(
        self, runtime: Runtime, queue: Queue, name: str, metrics: Metrics | None = None
    ) -> None:
        self.runtime = runtime
        self.queue = queue
        self.name = name
        self.metrics = metrics or Metrics()
        self.processed = 0

    def process_one(self) -> bool:
        """Run one job if there is one; returns whether there was."""
        claim = self.queue.claim(self.name)
        if claim is None:
            return False
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(claim, stop), daemon=True)
        beat.start()
        try:
            self._process(claim)
        except Exception as e:  # never lose the worker; the job is retried
            log.exception("job %s: host error", claim.id)
            self.queue.retry(claim, f"host error: {type(e).__name__}: {e}")
        finally:
            stop.set()
            beat.join()
            self.processed += 1
        return True

    def _heartbeat(self, claim: Claim, stop: threading.Event) -> None:
        every = max(0.2, self.queue.cfg.lease_s / 3)
        while not stop.wait(every):
            if not self.queue.heartbeat(claim):
                log.warning("job %s: lease lost to another worker", claim.id)
                return

    def _process(self, claim: Claim) -> None:
        with transaction(self.queue.session) as s:
            delivery = s.get(Delivery, claim.delivery_id)
            inst = (
                s.get(Installation, delivery.installation_id)
                if delivery and delivery.installation_id
                else None
            )
        if delivery is None:
            self.queue.finish(claim, "failed", "the delivery is gone")
            return
        if inst is not None and inst.status != "active":
            self.queue.finish(claim, "skipped", f"installation {inst.id} is {inst.status}")
            return
        try:
            payload = parse(delivery.body)
        except Malformed as e:  # stored by an older version, or edited: no retry will help
            self.queue.finish(claim, "failed", f"the stored payload cannot be read: {e}")
            return
        body = delivery.body.decode("utf-8")
        event = Event(claim.event, payload, claim.delivery_id, raw=body)
        run_id = new_run_id()
        started = time.time()
        try:
            report = self.runtime.run(claim.flow, event, run_id=run_id)
        except FlowsError as e:  # the flow cannot be built or linked: retrying will not help
            self._record(claim, run_id, started, None, "link_error", str(e))
            self.queue.finish(claim, "failed", str(e))
            return
        self._record(claim, run_id, started, report)
        self.metrics.inc(
            "flows_runs_total",
            "Flow runs by flow and status",
            flow=claim.flow,
            status=report.status,
        )
        if report.ok:
            self.queue.finish(claim, "done")
            log.info("job %s %s: ok in %.0f ms", claim.id, claim.flow, report.duration_ms)
            return
        assert report.error is not None
        reason = f"{report.error.kind}: {report.error.message}"
        if report.retry is not None:
            state = self.queue.retry(claim, reason, report.retry.get("after_s"))
            log.warning("job %s %s: %s (%s)", claim.id, claim.flow, reason, state)
        else:
            self.queue.finish(claim, "failed", reason)
            log.warning("job %s %s: failed: %s", claim.id, claim.flow, reason)

    def _record(
        self,
        claim: Claim,
        run_id: str,
        started: float,
        report: RunReport | None,
        kind: str | None = None,
        error: str | None = None,
    ) -> None:
        data: dict[str, Any] = report.to_dict() if report else {"error": error}
        llm = report.llm if report else {}
        row = Run(
            id=run_id,
            job_id=claim.id,
            flow=claim.flow,
            repository=report.repository if report else None,
            status=report.status if report else "failed",
            error_kind=report.error.kind if report and report.error else kind,
            error=report.error.message if report and report.error else error,
            started_at=started,
            duration_ms=report.duration_ms if report else 0.0,
            prompt_tokens=llm.get("prompt_tokens", 0),
            completion_tokens=llm.get("completion_tokens", 0),
            report=json.dumps(data, default=str),
        )
        with transaction(self.queue.session) as s:
            s.add(row)

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if not self.process_one():
                    stop.wait(self.queue.cfg.poll_s)
            except Exception:  # the database went away: wait and try again
                log.exception("worker %s: cannot reach the queue", self.name)
                stop.wait(min(30.0, self.queue.cfg.poll_s * 10))


class WorkerPool:
    """Worker threads in this process."""

    def __init__(
        self, runtime: Runtime, queue: Queue, threads: int, metrics: Metrics | None = None
    ) -> None:
        self.workers = [Worker(runtime, queue, worker_name(i), metrics) for i in range(threads)]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for w in self.workers:
            t = threading.Thread(target=w.run_forever, args=(self._stop,), name=w.name, daemon=True)
            t.start()
            self._threads.append(t)

    def alive(self) -> int:
        """Worker threads running now."""
        return sum(t.is_alive() for t in self._threads)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming; wait for running jobs (a job cut off is reclaimed after its lease)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
