"""Workers run queued jobs in sandboxes: done, retried, dead-lettered, failed."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from flows.db import transaction
from flows.db.migrate import upgrade
from flows.db.models import Delivery, Job, Run
from flows.project.config import load_config
from flows.server.service import Service
from flows.server.worker import Worker
from tests.conftest import PR_SIZE, configure, make_project, pull_request

pytestmark = pytest.mark.slow
BROKEN = """
  pr-size-broken:
    function: functions/pr_size
    integrations: [github]
    on:
      pull_request: [opened]
    settings: {thresholds: {S: -1}}
"""
_numbers = iter(range(3000, 4000))


@pytest.fixture
def service(tmp_path, db_url, fake_github):
    path = make_project(tmp_path / "proj", PR_SIZE + BROKEN,
                        "queue: {backoff_base_s: 30, max_attempts: 2}")  # fmt: skip
    cfg = configure(load_config(path), fake_github)
    cfg.database.url = db_url
    svc = Service(cfg)
    upgrade(svc.engine)
    return svc


def pr_payload(fake_github):
    return pull_request(fake_github, next(_numbers))


def deliver(service, event, payload) -> str:
    delivery = str(uuid.uuid4())
    out = service.ingest.accept(delivery, event, json.dumps(payload).encode())
    assert out.status_code == 202, out.body
    return delivery


def jobs(service, flow="pr-size") -> list[Job]:
    with service.queue.session() as s:
        return list(s.scalars(select(Job).where(Job.flow == flow).order_by(Job.id)))


def runs(service) -> list[Run]:
    with service.queue.session() as s:
        return list(s.scalars(select(Run).order_by(Run.started_at)))


def drain(worker: Worker) -> int:
    n = 0
    while worker.process_one():
        n += 1
    return n


def test_a_delivery_runs_and_a_second_push_edits_the_same_comment(service, fake_github):
    repo, payload = pr_payload(fake_github)
    n = payload["number"]
    deliver(service, "pull_request", payload)
    worker = Worker(service.runtime, service.queue, "w")
    assert drain(worker) == 2  # pr-size and pr-size-broken
    (job,) = jobs(service)
    assert job.state == "done" and job.attempts == 1
    (comment,) = repo.comments[n]
    assert "PR size: size/S" in comment["body"] and comment["user"]["login"] == "flows-test-user"
    assert repo.labels[n] == ["size/S"]

    repo.files[n][0]["additions"] = 400
    deliver(service, "pull_request", {**payload, "action": "synchronize"})
    drain(worker)
    (again,) = repo.comments[n]
    assert again["id"] == comment["id"] and "PR size: size/L" in again["body"]
    assert repo.labels[n] == ["size/L"]
    ok = [r for r in runs(service) if r.flow == "pr-size"]
    assert [r.status for r in ok] == ["ok", "ok"]
    report = json.loads(ok[0].report)
    assert report["result"]["label"] == "size/S" and report["logs"]


def test_a_broken_flow_fails_clearly_and_the_others_still_run(service, fake_github):
    _repo, payload = pr_payload(fake_github)
    deliver(service, "pull_request", payload)
    drain(Worker(service.runtime, service.queue, "w"))
    (bad,) = jobs(service, "pr-size-broken")
    assert bad.state == "failed" and "settings.thresholds" in bad.last_error
    assert jobs(service)[0].state == "done"
    (failed,) = [r for r in runs(service) if r.status == "failed"]
    assert failed.error_kind == "flow_error"


def test_a_payload_without_the_fields_the_flow_needs(service, fake_github):
    _repo, payload = pr_payload(fake_github)
    del payload["pull_request"]
    deliver(service, "pull_request", payload)
    drain(Worker(service.runtime, service.queue, "w"))
    job = jobs(service)[0]
    assert job.state == "failed" and "no pull_request.number" in job.last_error


def test_a_stored_payload_that_cannot_be_read_fails_at_once(service, fake_github):
    # a body stored before ingest checked bodies (here: rewritten as UTF-16) is
    # failed on the first attempt with the reason, not retried until dead
    _repo, payload = pr_payload(fake_github)
    delivery = deliver(service, "pull_request", payload)
    with transaction(service.queue.session) as s:
        s.get(Delivery, delivery).body = json.dumps(payload).encode("utf-16")
    drain(Worker(service.runtime, service.queue, "w"))
    for job in jobs(service) + jobs(service, "pr-size-broken"):
        assert job.state == "failed" and job.attempts == 1
        assert "the stored payload cannot be read: not UTF-8" in job.last_error


def test_github_5xx_is_retried_with_backoff_then_dead_lettered(service, fake_github):
    repo, payload = pr_payload(fake_github)
    files = f"/repos/{repo.full_name}/pulls/{payload['number']}/files"
    fake_github.fail_next(files, *[502] * 6)
    deliver(service, "pull_request", payload)
    worker = Worker(service.runtime, service.queue, "w")
    drain(worker)
    job = jobs(service)[0]
    assert job.state == "queued" and job.attempts == 1
    assert "retries exhausted" in job.last_error and "retrying in" in job.last_error
    assert 15 <= job.next_attempt_at - service.queue.clock() <= 30
    service.queue.clock = lambda: job.next_attempt_at + 1
    drain(worker)
    job = jobs(service)[0]
    assert job.state == "dead" and job.last_error.startswith("gave up after 2 attempts")
    assert [r.status for r in runs(service) if r.flow == "pr-size"] == ["failed", "failed"]


def test_a_rate_limit_waits_as_long_as_github_asks(service, fake_github):
    repo, payload = pr_payload(fake_github)
    files = f"/repos/{repo.full_name}/pulls/{payload['number']}/files"
    fake_github.fail_next(files, 429, headers={"Retry-After": "600"})
    deliver(service, "pull_request", payload)
    drain(Worker(service.runtime, service.queue, "w"))
    job = jobs(service)[0]
    assert job.state == "queued"
    assert job.next_attempt_at - service.queue.clock() == pytest.approx(600, abs=5)


def test_a_primary_rate_limit_waits_for_the_reset(service, fake_github):
    import time

    repo, payload = pr_payload(fake_github)
    files = f"/repos/{repo.full_name}/pulls/{payload['number']}/files"
    reset = str(int(time.time()) + 900)
    limited = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    message = "API rate limit exceeded for installation ID 1."
    fake_github.fail_next(files, 403, 403, 403, headers=limited, message=message)
    deliver(service, "pull_request", payload)
    drain(Worker(service.runtime, service.queue, "w"))
    job = jobs(service)[0]
    assert job.state == "queued"
    assert job.next_attempt_at - service.queue.clock() == pytest.approx(900, abs=10)


def test_a_plain_403_is_not_retried(service, fake_github):
    repo, payload = pr_payload(fake_github)
    files = f"/repos/{repo.full_name}/pulls/{payload['number']}/files"
    fake_github.fail_next(files, 403, message="Resource not accessible by integration")
    deliver(service, "pull_request", payload)
    drain(Worker(service.runtime, service.queue, "w"))
    job = jobs(service)[0]
    assert job.state == "failed"
    assert "403 Resource not accessible by integration" in job.last_error
