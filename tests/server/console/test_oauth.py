"""Sign-in with GitHub: the web flow against the fake GitHub's OAuth endpoints."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from flows.capabilities.github.app import AppCredentials
from flows.db import sessions, transaction
from flows.db.models import Delivery, Installation, Job, Repository, Run
from flows.server.http import create_app
from tests.server.console.test_pages import make_service

CLIENT = ("Iv1.flows-test", "oauth-secret-" + "x" * 20)


@pytest.fixture
def client(db_url, tmp_path, fake_github):
    svc = make_service(db_url, tmp_path, fake_github=fake_github)
    svc.cfg.console.admins = ["Ana"]
    svc.capabilities.app = AppCredentials(1, "unused", client_id=CLIENT[0], client_secret=CLIENT[1])
    fake_github.oauth_client = CLIENT
    with TestClient(create_app(svc), base_url="http://127.0.0.1") as c:
        c.service = svc
        yield c


def sign_in(client, fake_github, login: str | None):
    """Follow the web flow by hand: us -> GitHub's authorize -> our callback."""
    fake_github.oauth_user = login
    start = client.get("/console/sign-in/github?next=/flows", follow_redirects=False)
    assert start.status_code == 303
    assert (
        "flows_oauth" in start.headers["set-cookie"]
        and "SameSite=lax" in start.headers["set-cookie"]
    )
    authorize = start.headers["location"]
    assert authorize.startswith(f"{fake_github.url}/login/oauth/authorize?client_id=Iv1.flows-test")
    import httpx

    back = httpx.get(authorize, follow_redirects=False)
    assert back.status_code == 302
    return client.get(
        back.headers["location"].replace("http://127.0.0.1", ""), follow_redirects=False
    )


def test_an_admin_signs_in_with_github(client, fake_github):
    assert "Sign in with GitHub" in client.get("/console/sign-in").text
    done = sign_in(client, fake_github, "ana")
    assert done.status_code == 303 and done.headers["location"] == "/flows"
    assert "SameSite=strict" in done.headers["set-cookie"]
    page = client.get("/flows")
    assert page.status_code == 200 and "@ana" in page.text
    assert CLIENT[1] not in page.text


def test_a_login_not_in_admins_is_refused(client, fake_github):
    r = sign_in(client, fake_github, "mallory")
    assert r.status_code == 403
    assert "@mallory is not in console.admins and administers no installation" in r.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_declined_forged_or_replayed_sign_ins_are_refused(client, fake_github):
    declined = sign_in(client, fake_github, None)
    assert declined.status_code == 401 and "access_denied" in declined.text
    client.get("/console/sign-in/github", follow_redirects=False)
    forged = client.get("/console/oauth/callback?code=abc&state=not-ours")
    assert forged.status_code == 400 and "not started here" in forged.text
    fresh = TestClient(client.app, base_url="http://127.0.0.1")  # no state cookie at all
    assert fresh.get("/console/oauth/callback?code=abc&state=x").status_code == 400


def test_a_bad_code_is_a_clear_message(client, fake_github):
    fake_github.oauth_user = "ana"
    start = client.get("/console/sign-in/github", follow_redirects=False)
    state = start.headers["location"].split("state=")[1].split("&")[0]
    r = client.get(f"/console/oauth/callback?code=wrong&state={state}")
    assert r.status_code == 502 and "The code passed is incorrect or expired." in r.text


def test_without_the_apps_oauth_client_github_sign_in_says_how(db_url, tmp_path):
    svc = make_service(db_url, tmp_path)
    svc.cfg.console.admins = ["ana"]
    with TestClient(create_app(svc)) as c:
        r = c.get("/console/sign-in/github")
        assert r.status_code == 409 and "register the App at /setup" in r.text
        assert "Sign in with GitHub" not in c.get("/console/sign-in").text
        svc.cfg.console.admin_token = None
        page = c.get("/console/sign-in").text
        assert "Nobody can sign in yet" in page and 'name="token"' not in page


def _seed(service, installation: int, repo: str) -> tuple[str, int, str]:
    """A delivery for this installation with a failed job and run, and a repository row."""
    factory = sessions(service.engine)
    now = time.time()
    delivery, run_id = f"d-{installation}", f"run-{installation}"
    with transaction(factory) as s:
        if s.get(Installation, installation) is None:
            s.add(Installation(id=installation, account=repo.split("/")[0], updated_at=now))
        s.add(Repository(id=installation * 100, installation_id=installation, full_name=repo))
        s.add(Delivery(id=delivery, event="pull_request", installation_id=installation,
                       repository=repo, status="accepted", body=b"{}",
                       received_at=now))  # fmt: skip
        s.flush()
        job = Job(delivery_id=delivery, flow="probe", event="pull_request", state="failed",
                  attempts=1, next_attempt_at=now, created_at=now)  # fmt: skip
        s.add(job)
        s.flush()
        s.add(Run(id=run_id, job_id=job.id, flow="probe", repository=repo, status="failed",
                  error_kind="github", error="boom", started_at=now, duration_ms=1.0,
                  report="{}"))  # fmt: skip
        return delivery, job.id, run_id


def test_an_installation_admin_sees_and_steers_only_their_installations(client, fake_github):
    service = client.service
    fake_github.user_installations["bo"] = [
        {"id": 11, "account": {"login": "bo", "type": "User"}},
        {"id": 12, "account": {"login": "acme", "type": "Organization"}},
        {"id": 13, "account": {"login": "other", "type": "Organization"}},
    ]
    fake_github.org_roles[("acme", "bo")] = "admin"
    fake_github.org_roles[("other", "bo")] = "member"
    mine, theirs = _seed(service, 11, "bo/app"), _seed(service, 13, "other/app")
    done = sign_in(client, fake_github, "bo")
    assert done.status_code == 303
    page = client.get("/")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    assert mine[2] in page.text and theirs[2] not in page.text
    listing = client.get("/deliveries").text
    assert mine[0] in listing and theirs[0] not in listing
    for path in (f"/deliveries/{theirs[0]}", f"/jobs/{theirs[1]}", f"/runs/{theirs[2]}",
                 "/repos/other/app"):  # fmt: skip
        assert client.get(path).status_code == 404, path
    assert client.get(f"/runs/{mine[2]}").status_code == 200
    assert client.get("/repos/bo/app").status_code == 200
    refused = client.post(f"/jobs/{theirs[1]}/retry", data={"csrf": csrf})
    assert refused.status_code == 409 and f"no job {theirs[1]}" in refused.text
    assert client.post(f"/deliveries/{theirs[0]}/redeliver", data={"csrf": csrf}).status_code == 409
    assert client.post("/repos/other/app/forget",
                       data={"csrf": csrf, "what": "everything"}).status_code == 409  # fmt: skip
    assert client.post(f"/jobs/{mine[1]}/retry", data={"csrf": csrf}).status_code == 200
    insts = client.get("/installations").text
    assert "bo/app" in insts and "other/app" not in insts
