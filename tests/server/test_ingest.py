"""POST /webhooks/github: signatures, storage, dedup, bad input, installations."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from flows.db.migrate import upgrade
from flows.db.models import Delivery, Installation, Job, Repository
from flows.project.config import load_config
from flows.server.bodies import MAX_BODY
from flows.server.http import create_app
from flows.server.ingest import sign
from flows.server.service import Service
from tests.conftest import COMPONENTS
from tests.fakes.github import load_fixture

SECRET = "whsec-" + uuid.uuid4().hex


@pytest.fixture
def service(db_url, tmp_path):
    cfg = load_config(COMPONENTS / "app.yaml")
    cfg.database.url = db_url
    cfg.github.webhook_secret = SecretStr(SECRET)
    cfg.github.credentials_file = tmp_path / "none.json"
    svc = Service(cfg)
    upgrade(svc.engine)
    return svc


@pytest.fixture
def client(service):
    with TestClient(create_app(service)) as c:
        yield c


def post(client, event: str, payload, delivery=None, secret=SECRET, raw=None, headers=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    h = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    if secret is not None:
        h["X-Hub-Signature-256"] = sign(secret, body)
    h.update(headers or {})
    return client.post("/webhooks/github", content=body, headers=h)


def rows(service, model):
    with service.queue.session() as s:
        return list(s.scalars(select(model)))


def test_a_signed_delivery_is_stored_with_its_jobs(client, service):
    payload = load_fixture("pull_request.opened.json")
    r = post(client, "pull_request", payload, delivery="d-1")
    assert r.status_code == 202, r.text
    assert r.json() == {"delivery": "d-1", "jobs": 1, "flows": ["probe"]}
    (d,) = rows(service, Delivery)
    assert (d.id, d.event, d.action, d.installation_id, d.repository, d.status) == (
        "d-1", "pull_request", "opened", 1, "Codertocat/Hello-World", "accepted",
    )  # fmt: skip
    assert json.loads(d.body) == payload
    (job,) = rows(service, Job)
    assert (job.flow, job.state, job.concurrency_key) == (
        "probe", "queued", "probe:codertocat/hello-world#2",
    )  # fmt: skip


def test_redelivery_creates_no_second_job(client, service):
    payload = load_fixture("pull_request.opened.json")
    assert post(client, "pull_request", payload, delivery="same").json()["jobs"] == 1
    again = post(client, "pull_request", payload, delivery="same")
    assert again.status_code == 202 and again.json()["duplicate"] is True
    assert len(rows(service, Job)) == 1 and len(rows(service, Delivery)) == 1


def test_concurrent_redeliveries_store_one_delivery(client, service):
    payload = load_fixture("pull_request.opened.json")
    codes = []

    def send():
        codes.append(post(client, "pull_request", payload, delivery="racy").status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [202] * 6
    assert len(rows(service, Job)) == 1


def test_concurrent_first_deliveries_from_a_new_installation_are_all_stored(service):
    # the first delivery of an installation makes its row; deliveries racing to
    # make it must all be stored (a lost race is not a duplicate delivery)
    for round_ in range(3):
        installation = 9000 + round_
        barrier = threading.Barrier(8)
        answers = []

        def send(i: int, installation: int = installation, barrier=barrier, answers=answers):
            payload = load_fixture("pull_request.opened.json")
            payload["installation"] = {"id": installation}
            payload["pull_request"]["number"] = 100 + i
            body = json.dumps(payload).encode()
            barrier.wait()
            answers.append(service.ingest.accept(f"first-{installation}-{i}", "pull_request", body))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [a.status_code for a in answers] == [202] * 8
        assert not any(a.body.get("duplicate") for a in answers), answers
        stored = {d.id for d in rows(service, Delivery) if d.installation_id == installation}
        assert len(stored) == 8
        assert sum(1 for i in rows(service, Installation) if i.id == installation) == 1


@pytest.mark.parametrize(
    ("secret", "extra"),
    [(None, {}), ("wrong-secret", {}), (SECRET, {"X-Hub-Signature-256": "sha1=abc"})],
)
def test_bad_or_missing_signature_is_refused_and_nothing_stored(client, service, secret, extra):
    payload = load_fixture("pull_request.opened.json")
    r = post(client, "pull_request", payload, secret=secret, headers=extra)
    assert r.status_code == 401
    assert "X-Hub-Signature-256" in r.json()["error"]
    assert rows(service, Delivery) == [] and rows(service, Job) == []


def test_tampered_body_fails_the_signature(client, service):
    body = json.dumps(load_fixture("pull_request.opened.json")).encode()
    h = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "t",
         "X-Hub-Signature-256": sign(SECRET, body)}  # fmt: skip
    r = client.post("/webhooks/github", content=body.replace(b"opened", b"closed"), headers=h)
    assert r.status_code == 401 and rows(service, Delivery) == []


def test_malformed_json_is_400_and_kept_for_inspection(client, service):
    r = post(client, "pull_request", None, delivery="bad", raw=b'{"action": "opened",')
    assert r.status_code == 400 and "malformed JSON" in r.json()["error"]
    (d,) = rows(service, Delivery)
    assert (d.id, d.status, d.body) == ("bad", "malformed", b'{"action": "opened",')
    assert rows(service, Job) == []
    r = post(client, "pull_request", None, raw=b"[1, 2]")
    assert r.status_code == 400 and "not an object" in r.json()["error"]


def test_missing_event_header_is_400(client, service):
    r = post(client, "", {"a": 1})
    assert r.status_code == 400 and "X-GitHub-Event" in r.json()["error"]
    assert rows(service, Job) == []


def test_oversized_body_is_413(client, service):
    big = b'{"x": "' + b"a" * MAX_BODY + b'"}'
    r = post(client, "push", None, raw=big)
    assert r.status_code == 413 and rows(service, Delivery) == []


def test_ping_is_answered(client, service):
    r = post(client, "ping", load_fixture("ping.json"))
    assert r.status_code == 200 and r.json()["pong"] is True
    assert [d.status for d in rows(service, Delivery)] == ["ping"]


def test_unknown_events_are_stored_and_acknowledged(client, service):
    r = post(client, "star", {"action": "created", "repository": {"full_name": "o/r"}})
    assert r.status_code == 202 and r.json()["jobs"] == 0
    assert [d.event for d in rows(service, Delivery)] == ["star"]


def test_webhooks_refused_until_a_secret_is_configured(service):
    service.cfg.github.webhook_secret = None
    with TestClient(create_app(service)) as c:
        r = post(c, "ping", {"zen": "z"})
    assert r.status_code == 503 and "/setup" in r.json()["error"]


def test_installation_events_keep_the_table_current(client, service):
    created = load_fixture("installation.created.json")
    inst_id = created["installation"]["id"]
    assert post(client, "installation", created).status_code == 202
    (inst,) = rows(service, Installation)
    assert (inst.status, inst.account) == ("active", created["installation"]["account"]["login"])
    assert {r.full_name for r in rows(service, Repository)} == {
        r["full_name"] for r in created["repositories"]
    }
    pr = load_fixture("pull_request.opened.json")
    pr["installation"]["id"] = inst_id
    suspend = {**created, "action": "suspend"}
    post(client, "installation", suspend)
    r = post(client, "pull_request", pr)
    assert r.status_code == 202 and "suspended" in r.json()["skipped"]
    assert rows(service, Job) == []
    post(client, "installation", {**created, "action": "unsuspend"})
    assert post(client, "pull_request", pr).json()["jobs"] == 1
    post(client, "installation", {**created, "action": "deleted"})
    assert "deleted" in post(client, "pull_request", pr).json()["skipped"]
    assert all(r.removed for r in rows(service, Repository))


def test_installation_repositories_added_and_removed(client, service):
    created = load_fixture("installation.created.json")
    post(client, "installation", created)
    inst = created["installation"]
    added = {"action": "added", "installation": inst, "repository_selection": "selected",
             "repositories_added": [{"id": 77, "full_name": "o/new"}],
             "repositories_removed": [{"id": created["repositories"][0]["id"]}]}  # fmt: skip
    assert post(client, "installation_repositories", added).status_code == 202
    repos = {r.id: r for r in rows(service, Repository)}
    assert repos[77].full_name == "o/new" and not repos[77].removed
    assert repos[created["repositories"][0]["id"]].removed


def test_healthz_and_metrics(client, service):
    post(client, "pull_request", load_fixture("pull_request.opened.json"))
    post(client, "pull_request", {}, secret="nope")
    h = client.get("/healthz")
    assert h.status_code == 200 and h.json() == {"ok": True, "database": "ok"}  # nothing more
    m = client.get("/metrics").text
    assert 'flows_webhooks_total{outcome="accepted"} 1' in m
    assert 'flows_webhooks_total{outcome="bad_signature"} 1' in m
    assert 'flows_jobs{state="queued"} 1' in m
    with service.queue.session() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1
