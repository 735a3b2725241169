"""The console over HTTP: access, pages, hostile content, actions, bad input."""

from __future__ import annotations

import html
import json
import re
import threading
import time
import uuid

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from flows.capabilities.memory.knowledge import FindingIn
from flows.capabilities.memory.store import Tenant
from flows.db import sessions, transaction
from flows.db.migrate import upgrade
from flows.db.models import Delivery, Installation, Job, Run
from flows.project.config import load_config
from flows.server.console import actions
from flows.server.console.pages import github_link
from flows.server.http import create_app
from flows.server.ingest import sign
from flows.server.service import Service
from tests.conftest import COMPONENTS, configure
from tests.fakes.github import load_fixture

SECRET = "whsec-" + uuid.uuid4().hex
ADMIN = "admin-" + uuid.uuid4().hex
HOSTILE = (
    '<script>alert("x")</script><a href="javascript:alert(1)">click</a><img src=x onerror=alert(2)>'
)


def make_service(db_url, tmp_path, enabled=True, fake_github=None) -> Service:
    """The test project with the console on (GitHub: `fake_github`, if given)."""
    cfg = load_config(COMPONENTS / "app.yaml")
    if fake_github is not None:
        configure(cfg, fake_github)
    cfg.database.url = db_url
    cfg.github.webhook_secret = SecretStr(SECRET)
    cfg.github.credentials_file = tmp_path / "none.json"
    cfg.console.enabled = enabled
    cfg.console.admin_token = SecretStr(ADMIN)
    svc = Service(cfg)
    upgrade(svc.engine)
    return svc


@pytest.fixture
def service(db_url, tmp_path):
    return make_service(db_url, tmp_path)


@pytest.fixture
def client(service):
    with TestClient(create_app(service)) as c:
        yield c


def signed_in(client) -> str:
    """Sign in with the admin token; returns the CSRF token pages carry."""
    r = client.post("/console/sign-in", data={"token": ADMIN, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = client.get("/")
    assert page.status_code == 200 and "Overview" in page.text
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)


def deliver(client, payload, delivery=None) -> str:
    body = json.dumps(payload).encode()
    delivery = delivery or str(uuid.uuid4())
    r = client.post("/webhooks/github", content=body, headers={
        "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(SECRET, body), "Content-Type": "application/json",
    })  # fmt: skip
    assert r.status_code == 202, r.text
    return delivery


def failed_job(service, delivery: str, error: str = "GitHub answered 502") -> tuple[int, str]:
    """Mark the delivery's job failed, with a failed run, as a worker would."""
    now = time.time()
    run_id = uuid.uuid4().hex[:16]
    report = {"logs": [{"component": "function", "level": "error", "message": HOSTILE}],
              "timings_ms": {"instantiate": 4.25, "handle": 31.5},
              "writes": [{"method": "POST", "path": "/repos/o/r/issues/2/comments",
                          "body": {"body": "hi"}, "dry_run": False, "status": 201,
                          "html_url": f"{service.cfg.github.web_url}/o/r/pull/2#issuecomment-9"},
                         {"method": "POST", "path": "/repos/o/r/pulls/2/reviews", "body": {},
                          "dry_run": False, "status": 200, "html_url": "javascript:alert(3)"}],
              "llm": {"by_call": [{"prompt_tokens": 120, "completion_tokens": 30,
                                   "latency_ms": 812.5}]}}  # fmt: skip
    with transaction(sessions(service.engine)) as s:
        job = s.scalars(select(Job).where(Job.delivery_id == delivery)).one()
        job.state, job.attempts, job.last_error, job.finished_at = "failed", 1, error, now
        s.add(Run(id=run_id, job_id=job.id, flow=job.flow, repository="o/r", status="failed",
                  error_kind="github", error=error, started_at=now, duration_ms=42.0,
                  prompt_tokens=120, completion_tokens=30, report=json.dumps(report)))  # fmt: skip
        return job.id, run_id


def test_off_unless_enabled(db_url, tmp_path):
    with TestClient(create_app(make_service(db_url, tmp_path, enabled=False))) as c:
        r = c.get("/")
        assert r.status_code == 404 and "console.enabled" in r.text
        assert c.post("/console/sign-in", data={"token": ADMIN}).status_code == 404


def test_without_a_session_every_page_sends_to_sign_in(client):
    for path in ("/", "/deliveries", "/deliveries/x", "/jobs/1", "/runs/x"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in?next=")
    r = client.post("/jobs/1/retry", follow_redirects=False)
    assert r.status_code == 303
    bad = client.post("/console/sign-in", data={"token": "nope"})
    assert bad.status_code == 401 and "not the admin token" in bad.text
    client.cookies.set("flows_session", "e30=.00")  # {} with a wrong signature
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sign_in_returns_only_to_a_local_path(client):
    r = client.post("/console/sign-in", data={"token": ADMIN, "next": "//evil.example/x"},
                    follow_redirects=False)  # fmt: skip
    assert r.headers["location"] == "/"


def test_why_no_comment_in_three_clicks_then_retry(client, service):
    csrf = signed_in(client)
    payload = load_fixture("pull_request.opened.json")
    delivery = deliver(client, payload)
    job_id, run_id = failed_job(service, delivery)
    # 1: the overview lists the failure; 2: its run; 3: its job
    overview = client.get("/")
    assert run_id in overview.text and "GitHub answered 502" in overview.text
    run = client.get(f"/runs/{run_id}")
    assert run.status_code == 200 and "812.5" in run.text and "120 / 30" in run.text
    assert "handle 31.5 ms · instantiate 4.2 ms" in html.unescape(run.text)
    web = service.cfg.github.web_url  # github.com, or the GHES host
    assert f'href="{web}/o/r/pull/2#issuecomment-9"' in run.text  # the comment itself
    assert f'href="{web}/o/r/pull/2"' in run.text  # an answer that is no web address: its PR
    assert "javascript:alert(3)" not in run.text
    page = client.get(f"/jobs/{job_id}")
    assert "failed" in page.text and run_id in page.text
    assert f"/deliveries/{delivery}" in client.get("/deliveries").text

    no_csrf = client.post(f"/jobs/{job_id}/retry", data={})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    done = client.post(f"/jobs/{job_id}/retry", data={"csrf": csrf})
    assert done.status_code == 200 and "queued again" in done.text
    again = client.post(f"/jobs/{job_id}/retry", data={"csrf": csrf})
    assert again.status_code == 409 and "is queued" in again.text
    with transaction(sessions(service.engine)) as s:
        job = s.get(Job, job_id)
        assert (job.state, job.attempts, job.last_error) == ("queued", 0, "retried by admin")
        assert s.get(Run, run_id) is not None  # the failed run stays on record
    cancelled = client.post(f"/jobs/{job_id}/cancel", data={"csrf": csrf})
    assert cancelled.status_code == 200
    assert client.post(f"/jobs/{job_id}/cancel", data={"csrf": csrf}).status_code == 409


def test_hostile_content_is_escaped_and_scripts_are_off(client, service):
    signed_in(client)
    payload = load_fixture("pull_request.opened.json")
    payload["pull_request"]["title"] = HOSTILE
    payload["pull_request"]["body"] = HOSTILE
    delivery = deliver(client, payload)
    _, run_id = failed_job(service, delivery, error=HOSTILE)
    for path in ("/", f"/deliveries/{delivery}", f"/runs/{run_id}"):
        r = client.get(path)
        assert r.status_code == 200
        assert "<script>alert" not in r.text and "<img src=x" not in r.text
        assert 'href="javascript:' not in r.text
        assert "script-src 'none'" in r.headers["content-security-policy"]
    assert "&lt;script&gt;" in client.get(f"/runs/{run_id}").text


def test_secrets_are_never_rendered(client, service):
    signed_in(client)
    payload = load_fixture("pull_request.opened.json")
    payload["pull_request"]["body"] = f"leak {SECRET} and {ADMIN}"
    delivery = deliver(client, payload)
    text = client.get(f"/deliveries/{delivery}").text
    assert SECRET not in text and ADMIN not in text and "leak [redacted] and [redacted]" in text


def test_unknown_ids_are_404_pages(client):
    signed_in(client)
    for path, what in (("/jobs/999999", "no job 999999"), ("/runs/nope", "no run nope"),
                       ("/deliveries/nope", "no delivery nope")):  # fmt: skip
        r = client.get(path)
        assert r.status_code == 404 and what in r.text


@pytest.mark.parametrize(
    "query, message",
    [
        ("status=bogus", "status 'bogus' is not one of"),
        ("since_hours=abc", "since_hours is a number"),
        ("since_hours=-1", "more than 0"),
        ("page=0", "page starts at 1"),
        ("pr=abc", "pr and page numbers"),
        ("pr=0", "pr is a pull request number"),
        ("colour=red", "unknown filter 'colour'"),
    ],
)
def test_bad_filters_get_a_clear_message(client, query, message):
    signed_in(client)
    r = client.get(f"/deliveries?{query}")
    assert r.status_code == 400 and message in html.unescape(r.text)


def test_filters_select_deliveries(client):
    signed_in(client)
    d = deliver(client, load_fixture("pull_request.opened.json"))
    assert d in client.get("/deliveries?event=pull_request&status=accepted&since_hours=1").text
    assert d in client.get("/deliveries?repository=codertocat/hello-world").text
    assert d not in client.get("/deliveries?event=issues").text
    number = load_fixture("pull_request.opened.json")["number"]
    assert d in client.get(f"/deliveries?repository=Codertocat/Hello-World&pr={number}").text
    assert d in client.get(f"/deliveries?pr=%23{number}").text  # "#2" works too
    assert d not in client.get(f"/deliveries?pr={number}0").text


def test_redeliver_refused_when_the_installation_is_gone(client, service):
    csrf = signed_in(client)
    delivery = deliver(client, load_fixture("pull_request.opened.json"))
    failed_job(service, delivery)
    with transaction(sessions(service.engine)) as s:
        inst = s.get(Installation, s.get(Delivery, delivery).installation_id)
        if inst is None:
            s.add(Installation(id=1, account="c", status="deleted", updated_at=time.time()))
        else:
            inst.status = "deleted"
    r = client.post(f"/deliveries/{delivery}/redeliver", data={"csrf": csrf})
    assert r.status_code == 409 and "installation 1 is removed" in r.text
    with transaction(sessions(service.engine)) as s:
        s.get(Installation, 1).status = "active"
    ok = client.post(f"/deliveries/{delivery}/redeliver", data={"csrf": csrf})
    assert ok.status_code == 200 and "1 job(s) queued again" in ok.text


def test_a_large_payload_is_shown_a_page_at_a_time(client, service):
    signed_in(client)
    body = json.dumps({"blob": "x" * 700_000}).encode()
    with transaction(sessions(service.engine)) as s:
        s.add(Delivery(id="big", event="push", status="skipped", body=body,
                       received_at=time.time()))  # fmt: skip
    r = client.get("/deliveries/big")
    assert r.status_code == 200 and "page 1 of 11" in r.text and len(r.text) < 100_000
    last = client.get("/deliveries/big?page=11")
    assert "page 11 of 11" in last.text and "&#34;}</pre>" in last.text  # the body's end


def test_a_bearer_token_works_for_scripts_without_csrf(client, service):
    delivery = deliver(client, load_fixture("pull_request.opened.json"))
    job_id, _ = failed_job(service, delivery)
    auth = {"Authorization": f"Bearer {ADMIN}"}
    assert client.get("/", headers=auth).status_code == 200
    r = client.post(f"/jobs/{job_id}/retry", headers=auth)
    assert r.status_code == 200
    wrong = client.get("/", headers={"Authorization": "Bearer nope"}, follow_redirects=False)
    assert wrong.status_code == 303


def test_two_operators_retrying_at_once_one_wins(service):
    factory = sessions(service.engine)
    now = time.time()
    with transaction(factory) as s:
        s.add(Delivery(id="d", event="pull_request", status="accepted", body=b"{}",
                       received_at=now))  # fmt: skip
        s.flush()
        job = Job(delivery_id="d", flow="probe", event="pull_request", state="failed",
                  attempts=3, next_attempt_at=now, created_at=now)  # fmt: skip
        s.add(job)
        s.flush()
        job_id = job.id
    results: list[actions.Outcome] = []
    gate = threading.Barrier(2)

    def go(who: str) -> None:
        gate.wait()
        with transaction(factory) as s:
            results.append(actions.retry(s, job_id, who))

    threads = [threading.Thread(target=go, args=(w,)) for w in ("ana", "bo")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.ok for r in results) == [False, True]
    (lost,) = [r for r in results if not r.ok]
    assert "is queued" in lost.message and "already" in lost.message


def remember(service, repo="octo/app") -> tuple[str, int]:
    """A dismissed finding, a convention and a key, as the code-review flow leaves them."""
    t = Tenant.of(1, repo)
    knowledge = service.capabilities.knowledge_store()
    knowledge.record_findings(t, 7, [FindingIn("fp-1", "sql-injection", "app/db.py", "query",
                                               HOSTILE, "high")])  # fmt: skip
    assert knowledge.set_status(t, "dismissed", "not user input (said by @ana)", "fp-1") == 1
    kid = knowledge.add(t, "convention", "@ana", "we use parameterised queries", ["app/db.py"])
    service.memory.put(t, 7, "review-state", "{}")
    return repo, kid


def test_repository_memory_shown_and_forgotten(client, service):
    csrf = signed_in(client)
    repo, kid = remember(service)
    page = client.get(f"/repos/{repo}")
    assert page.status_code == 200 and "<script>alert" not in page.text
    assert "dismissed" in page.text and "not user input (said by @ana)" in page.text
    assert "we use parameterised queries" in page.text and "review-state" in page.text
    gone = client.post(f"/repos/{repo}/forget",
                       data={"csrf": csrf, "what": "finding", "fingerprint": "fp-1"})  # fmt: skip
    assert gone.status_code == 200 and "forgot 1 item(s)" in gone.text
    assert service.capabilities.knowledge_store().findings(repo) == []
    again = client.post(f"/repos/{repo}/forget",
                        data={"csrf": csrf, "what": "finding", "fingerprint": "fp-1"})  # fmt: skip
    assert again.status_code == 409 and "already forgotten" in again.text
    bad = client.post(f"/repos/{repo}/forget", data={"csrf": csrf, "what": "knowledge", "id": "x"})
    assert bad.status_code == 409 and "numbers" in bad.text
    no_csrf = client.post(f"/repos/{repo}/forget", data={"what": "everything"})
    assert no_csrf.status_code == 403
    rest = client.post(f"/repos/{repo}/forget", data={"csrf": csrf, "what": "everything"})
    assert rest.status_code == 200 and "forgot 2 item(s)" in rest.text
    assert service.memory.items(repo) == [] and kid not in [
        k.id for k in service.capabilities.knowledge_store().entries(repo)
    ]
    assert "parameterised" not in client.get(f"/repos/{repo}").text


def test_flows_and_installations_pages(client, service):
    signed_in(client)
    deliver(client, load_fixture("pull_request.opened.json"))
    flows = client.get("/flows")
    assert flows.status_code == 200
    assert "probe" in flows.text and "pull_request (opened, synchronize)" in flows.text
    assert "alpha, beta" in flows.text and "5 s, 128 MB" in flows.text
    insts = client.get("/installations")
    assert insts.status_code == 200


def test_overview_counts_health_tokens_and_latency(client, service):
    signed_in(client)
    now = time.time()
    with transaction(sessions(service.engine)) as s:
        for i, (ms, tokens) in enumerate([(1000.0, 100), (3000.0, 200), (9000.0, 300)]):
            s.add(Run(id=f"r{i}", flow="code-review", status="ok", started_at=now - 60,
                      duration_ms=ms, prompt_tokens=tokens, completion_tokens=0,
                      report="{}"))  # fmt: skip
        s.add(Run(id="old", flow="code-review", status="ok", started_at=now - 3 * 86400,
                  duration_ms=5.0, prompt_tokens=50, completion_tokens=0, report="{}"))  # fmt: skip
    page = client.get("/")
    assert "database ok" in page.text and "worker threads here 0 of 0" in page.text
    assert "3 runs, 0 failed" in page.text and "model tokens 600" in page.text
    assert "p50 3000 ms" in page.text and "p95 9000 ms" in page.text
    assert "<title>600 tokens</title>" in page.text and "<title>50 tokens</title>" in page.text


def test_links_to_github_follow_its_web_address():
    assert github_link("/repos/o/r/pulls/3/reviews", "https://ghe.example.com/") == (
        "https://ghe.example.com/o/r/pull/3"
    )
    assert github_link("/repos/o/r/issues/9/labels") == "https://github.com/o/r/pull/9"
    assert github_link("/repos/o/r/check-runs") == ""
