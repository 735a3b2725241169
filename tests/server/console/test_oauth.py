"""Sign-in with GitHub: the web flow against the fake GitHub's OAuth endpoints."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from flows.capabilities.github.app import AppCredentials
from flows.server.http import create_app
from tests.server.console.test_pages import make_service

CLIENT = ("Iv1.flows-test", "oauth-secret-" + "x" * 20)


@pytest.fixture
def client(db_url, tmp_path, fake_github):
    svc = make_service(db_url, tmp_path)
    svc.cfg.github.api_url = fake_github.url
    svc.cfg.console.admins = ["Ana"]
    svc.capabilities.app = AppCredentials(1, "unused", client_id=CLIENT[0], client_secret=CLIENT[1])
    fake_github.oauth_client = CLIENT
    with TestClient(create_app(svc), base_url="http://127.0.0.1") as c:
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
    assert r.status_code == 403 and "@mallory is not in console.admins" in r.text
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
