"""The job queue on SQLite and PostgreSQL: claims, leases, keys, retries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select

from flows.db import get_engine
from flows.db.migrate import upgrade
from flows.db.models import Delivery, Job
from flows.project.config import QueueConfig
from flows.server.queue import Queue, backoff, enqueue
from tests.conftest import Clock


@pytest.fixture
def engine(db_url):
    engine = get_engine(db_url)
    upgrade(engine)
    return engine


def make_queue(engine, clock=time.time, **cfg) -> Queue:
    base = {"lease_s": 30, "max_attempts": 3, "backoff_base_s": 10, "backoff_max_s": 100}
    return Queue(engine, QueueConfig(**{**base, **cfg}), clock)


def add(queue: Queue, n: int, flow="f", event="pull_request", action="opened", key=None, at=None):
    """n deliveries with one job each; returns the job ids."""
    ids = []
    with queue.session() as s, s.begin():
        for _ in range(n):
            d = f"d-{os.urandom(6).hex()}"
            now = at if at is not None else queue.clock()
            s.add(Delivery(id=d, event=event, action=action, status="accepted", body=b"{}",
                           received_at=now))  # fmt: skip
            s.flush()
            ids.append(enqueue(s, d, flow, event, action, key, now))
    return ids


def states(queue: Queue) -> dict[int, str]:
    with queue.session() as s:
        return {j.id: j.state for j in s.scalars(select(Job))}


def test_claims_oldest_first_and_finishes(engine):
    q = make_queue(engine)
    a, b = add(q, 2)
    first = q.claim("w1")
    assert first.id == a and first.attempts == 1
    assert q.claim("w2").id == b
    assert q.claim("w3") is None
    assert q.finish(first, "done")
    assert states(q)[a] == "done"
    assert q.counts() == {"done": 1, "running": 1}


def test_same_key_never_runs_twice_at_once(engine):
    q = make_queue(engine)
    a, b = add(q, 2, action="edited", key="f:o/r#1")
    (c,) = add(q, 1, key="f:o/r#2")
    first = q.claim("w1")
    assert first.id == a
    assert q.claim("w2").id == c  # b waits for a
    assert q.claim("w3") is None
    q.finish(first, "done")
    assert q.claim("w2").id == b


def test_newer_push_supersedes_a_queued_older_one(engine):
    q = make_queue(engine)
    (old,) = add(q, 1, action="opened", key="f:o/r#1")
    (cmd,) = add(q, 1, event="issue_comment", action="created", key="f:o/r#1")
    (new,) = add(q, 1, action="synchronize", key="f:o/r#1")
    (other,) = add(q, 1, action="opened", key="f:o/r#2")
    got = states(q)
    assert got[old] == "superseded"
    assert got[cmd] == got[new] == got[other] == "queued"
    running = q.claim("w")
    (newer,) = add(q, 1, action="synchronize", key="f:o/r#1")
    assert states(q)[running.id] == "running"  # a running job is never superseded
    assert states(q)[newer] == "queued"


def test_transient_failures_back_off_then_dead_letter(engine):
    clock = Clock()
    q = make_queue(engine, clock)
    (j,) = add(q, 1)
    claim = q.claim("w")
    assert q.retry(claim, "GitHub answered 502") == "queued"
    assert q.claim("w") is None  # not before its backoff
    with q.session() as s:
        job = s.get(Job, j)
        wait = job.next_attempt_at - clock.now
        assert 5 <= wait <= 10 and "retrying in" in job.last_error
    clock.now += 11
    claim = q.claim("w")
    assert claim.attempts == 2
    q.retry(claim, "rate limited", retry_after=500)
    with q.session() as s:
        assert s.get(Job, j).next_attempt_at - clock.now == pytest.approx(500)
    clock.now += 501
    claim = q.claim("w")
    assert q.retry(claim, "GitHub answered 503") == "dead"
    with q.session() as s:
        job = s.get(Job, j)
        assert job.state == "dead"
        assert job.last_error == "gave up after 3 attempts: GitHub answered 503"


def test_backoff_grows_with_jitter_up_to_the_cap():
    import random

    rng = random.Random(1)
    waits = [backoff(n, 10, 100, rng) for n in range(1, 8)]
    assert 5 <= waits[0] <= 10 and 10 <= waits[1] <= 20 and 20 <= waits[2] <= 40
    assert all(50 <= w <= 100 for w in waits[4:])
    assert len({round(w, 3) for w in waits}) == len(waits)


def test_a_lost_worker_loses_its_lease_and_the_job_is_claimed_again(engine):
    clock = Clock()
    q = make_queue(engine, clock, lease_s=30)
    (j,) = add(q, 1, key="f:o/r#1")
    lost = q.claim("w1")
    clock.now += 10
    assert q.heartbeat(lost)  # alive: lease extended to +40
    clock.now += 25
    assert q.claim("w2") is None
    clock.now += 10
    again = q.claim("w2")
    assert again.id == j and again.attempts == 2
    assert not q.heartbeat(lost) and not q.finish(lost, "done")  # too late for w1
    assert q.finish(again, "done")


def test_a_job_that_keeps_killing_workers_is_dead_lettered(engine):
    clock = Clock()
    q = make_queue(engine, clock, lease_s=5, max_attempts=2)
    (j,) = add(q, 1)
    for _ in range(2):
        assert q.claim("w") is not None
        clock.now += 6
    assert q.claim("w") is None
    with q.session() as s:
        job = s.get(Job, j)
        assert job.state == "dead" and "lease expired" in job.last_error


def test_racing_workers_claim_each_job_once_and_respect_keys(engine):
    q = make_queue(engine)
    ids = []
    for k in range(8):
        ids += add(q, 12, action="edited", key=f"f:o/r#{k}")
    ids += add(q, 40)
    claimed: Counter[int] = Counter()
    running: set[str] = set()
    overlaps = []
    lock = threading.Lock()
    keys = {}
    with q.session() as s:
        keys = {j.id: j.concurrency_key for j in s.scalars(select(Job))}

    def work(name: str) -> None:
        while (c := q.claim(name)) is not None:
            key = keys[c.id]
            with lock:
                claimed[c.id] += 1
                if key is not None and key in running:
                    overlaps.append(key)
                if key:
                    running.add(key)
            time.sleep(0.001)
            with lock:
                running.discard(key)
            assert q.finish(c, "done")

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)
    assert set(claimed.values()) == {1}
    assert overlaps == []
    assert q.counts() == {"done": len(ids)}


CLAIM_AND_HANG = """
import sys, time
from flows.project.config import QueueConfig
from flows.db import get_engine
from flows.server.queue import Queue
q = Queue(get_engine(sys.argv[1]), QueueConfig(lease_s=1))
c = q.claim("doomed")
print(c.id, flush=True)
time.sleep(600)
"""


def test_a_killed_worker_process_loses_nothing(engine, db_url):
    q = make_queue(engine, lease_s=1)
    (j,) = add(q, 1)
    proc = subprocess.Popen([sys.executable, "-c", CLAIM_AND_HANG, db_url],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert int(proc.stdout.readline()) == j
        assert q.claim("survivor") is None  # still leased by the doomed process
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.time() + 10
    while (c := q.claim("survivor")) is None and time.time() < deadline:
        time.sleep(0.1)
    assert c is not None and c.id == j and c.attempts == 2
    assert q.finish(c, "done")
