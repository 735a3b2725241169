"""GitHub App auth (JWT, installation tokens) and registration through /setup."""

from __future__ import annotations

import json
import re
import stat

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from flows.capabilities.github.app import AppCredentials, InstallationTokens, load_credentials
from flows.capabilities.provider import Capabilities
from flows.db.migrate import upgrade
from flows.errors import ConfigError
from flows.project.config import load_config
from flows.sandbox.capability import HostError
from flows.server.http import create_app
from flows.server.service import Service
from tests.conftest import COMPONENTS


@pytest.fixture
def fake(app_github):
    return app_github


@pytest.fixture
def creds(app_key) -> AppCredentials:
    return AppCredentials(4242, app_key[0].read_text(), "whsec")


def test_installation_tokens_are_minted_with_a_jwt_and_cached(fake, creds):
    seen = []
    tokens = InstallationTokens(creds, fake.url, on_new_token=seen.append)
    t1 = tokens.token(1)
    assert t1 == fake.minted[0] and t1.startswith("ghs_")
    assert tokens.token(1) == t1 and len(fake.minted) == 1
    assert tokens.token(2) != t1 and len(fake.minted) == 2
    assert seen == fake.minted
    mint = [r for r in fake.requests if r["path"] == "/app/installations/1/access_tokens"]
    assert mint[0]["authorization"].startswith("Bearer ey")
    assert tokens.login() == "flows-test[bot]"


def test_a_token_close_to_expiry_is_replaced(fake, creds):
    fake.app.token_ttl_s = 120  # less than the refresh margin
    tokens = InstallationTokens(creds, fake.url)
    assert tokens.token(1) != tokens.token(1)
    assert len(fake.minted) == 2


def test_github_enterprise_server_api_url(fake, creds):
    tokens = InstallationTokens(creds, fake.url + "/api/v3")
    assert tokens.token(3).startswith("ghs_")
    assert fake.requests[-1]["path"] == "/app/installations/3/access_tokens"


def test_suspended_unknown_and_missing_installations_give_clear_errors(fake, creds):
    fake.app.suspended.add(2)
    tokens = InstallationTokens(creds, fake.url)
    with pytest.raises(
        HostError, match=r"installation 2: 403 This installation has been suspended"
    ):
        tokens.token(2)
    with pytest.raises(HostError, match="installation 99: 404"):
        tokens.token(99)
    with pytest.raises(HostError, match="no installation"):
        tokens.token(None)


def test_a_wrong_key_is_refused_by_github(fake, creds):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()  # fmt: skip
    tokens = InstallationTokens(AppCredentials(4242, pem), fake.url)
    with pytest.raises(HostError, match="401"):
        tokens.token(1)


def test_github_5xx_while_minting_is_transient(fake, creds):
    path = "/app/installations/1/access_tokens"
    fake.fail_next(path, 502, 502, 502)
    with pytest.raises(HostError) as err:
        InstallationTokens(creds, fake.url).token(1)
    assert err.value.transient


def test_credentials_come_from_app_yaml_or_the_setup_file(tmp_path, app_key):
    cfg = load_config(COMPONENTS / "app.yaml")
    cfg.github.credentials_file = tmp_path / "github-app.json"
    assert load_credentials(cfg.github) is None
    cfg.github.app_id = 7
    with pytest.raises(ConfigError, match="private_key_path: required"):
        load_credentials(cfg.github)
    cfg.github.private_key_path = tmp_path / "missing.pem"
    with pytest.raises(ConfigError, match="cannot read"):
        load_credentials(cfg.github)
    cfg.github.private_key_path = app_key[0]
    cfg.github.webhook_secret = SecretStr("s3")
    got = load_credentials(cfg.github)
    assert (got.app_id, got.webhook_secret) == (7, "s3")


def test_a_host_with_an_app_uses_installation_tokens_and_masks_them(fake, creds, tmp_path):
    cfg = load_config(COMPONENTS / "app.yaml")
    cfg.github.api_url = fake.url
    cfg.github.credentials_file = tmp_path / "none.json"
    host = Capabilities(cfg)
    host.use_app(creds)
    token = host.tokens.token(1)
    assert host.redactor(f"x {token} y") == "x [redacted] y"
    assert host.redactor(creds.private_key) == "[redacted]"
    assert host.webhook_secret == "whsec"


# -- /setup -----------------------------------------------------------------------


@pytest.fixture
def setup_client(fake, tmp_path, app_key):
    cfg = load_config(COMPONENTS / "app.yaml")
    cfg.database.url = f"sqlite:///{tmp_path}/flows.db"
    cfg.github.api_url = fake.url
    cfg.github.credentials_file = tmp_path / ".flows" / "github-app.json"
    cfg.server.public_url = "https://flows.example.com"
    svc = Service(cfg)
    upgrade(svc.engine)
    fake.manifest_codes["good-code"] = {
        "id": 4242, "slug": "flows-test", "pem": app_key[0].read_text(),
        "webhook_secret": "fresh-secret", "client_id": "Iv1.x", "client_secret": "cs",
        "html_url": "https://github.com/apps/flows-test",
    }  # fmt: skip
    with TestClient(create_app(svc)) as c:
        yield c, svc, cfg


def test_setup_registers_the_app_through_the_manifest_flow(setup_client, fake):
    client, svc, cfg = setup_client
    page = client.get("/setup?name=my-flows")
    assert page.status_code == 200
    action = re.search(r"action='([^']+)'", page.text).group(1)
    assert action.startswith(f"{fake.url}/settings/apps/new?state=")
    manifest = json.loads(
        re.search(r'name=.manifest. value="([^"]+)"', page.text).group(1).replace("&quot;", '"')
    )
    assert manifest["name"] == "my-flows"
    assert manifest["hook_attributes"]["url"] == "https://flows.example.com/webhooks/github"
    assert manifest["callback_urls"] == ["https://flows.example.com/console/oauth/callback"]
    assert manifest["redirect_url"] == "https://flows.example.com/setup/callback"
    assert manifest["default_permissions"]["pull_requests"] == "write"
    assert "pull_request" in manifest["default_events"]
    state = action.split("state=")[1]

    assert client.get("/setup/callback?code=good-code&state=forged").status_code == 400
    done = client.get(f"/setup/callback?code=good-code&state={state}")
    assert done.status_code == 200 and "flows-test" in done.text
    assert "https://github.com/apps/flows-test/installations/new" in done.text
    stored = json.loads(cfg.github.credentials_file.read_text())
    assert stored["app_id"] == 4242 and "pem" not in stored and "private_key" not in stored
    key_file = cfg.github.credentials_file.with_suffix(".pem")
    for f in (cfg.github.credentials_file, key_file):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert svc.capabilities.app.app_id == 4242 and svc.capabilities.webhook_secret == "fresh-secret"
    assert load_credentials(cfg.github).webhook_secret == "fresh-secret"  # the next start

    assert "is GitHub App" in client.get("/setup").text
    assert client.get(f"/setup/callback?code=x&state={state}").status_code == 409


def test_setup_for_an_organisation_and_an_expired_code(setup_client, fake):
    client, _svc, _cfg = setup_client
    page = client.get("/setup?org=acme")
    assert f"{fake.url}/organizations/acme/settings/apps/new" in page.text
    state = re.search(r"state=([\w-]+)", page.text).group(1)
    r = client.get(f"/setup/callback?code=stale&state={state}")
    assert r.status_code == 502 and "Not Found" in r.text


@pytest.mark.parametrize("org", ["a/../../evil", "acme?x=1", "-acme", "a" * 40, "<b>"])
def test_setup_refuses_an_organisation_that_is_not_a_login(setup_client, org):
    client, svc, _cfg = setup_client
    r = client.get("/setup", params={"org": org})
    assert r.status_code == 400 and "organisation" in r.text
    assert svc.setup_states == {}


def test_pending_setup_states_are_bounded(setup_client):
    from flows.server.registration import MAX_STATES

    client, svc, _cfg = setup_client
    first = re.search(r"state=([\w-]+)", client.get("/setup").text).group(1)
    for _ in range(MAX_STATES + 20):
        client.get("/setup")
    assert len(svc.setup_states) == MAX_STATES and first not in svc.setup_states


def test_a_revoked_installation_token_is_dropped_and_the_run_retryable(fake, creds, tmp_path):
    import time

    from wasmtime.component import Record

    from flows.capabilities.github.api import GithubApi
    from flows.sandbox.report import RunContext

    fake.add_repo_from_event({"repository": {"full_name": "o/r", "id": 5, "name": "r"}})
    cfg = load_config(COMPONENTS / "app.yaml")
    cfg.github.api_url = fake.url
    cfg.github.credentials_file = tmp_path / "none.json"
    host = Capabilities(cfg)
    host.use_app(creds)
    ctx = RunContext("r1", "f", "push", "o/r", 1, False, time.monotonic() + 30)

    def get(journal):
        req = Record()
        req.method, req.path, req.query, req.body, req.accept = "GET", "/repos/o/r", [], None, None
        return GithubApi(host.github, ctx, journal).send(req)

    assert get(host.journal()).status == 200
    fake.identities.pop(fake.minted[0])  # revoked on GitHub's side
    rec = host.journal()
    assert get(rec).status == 401
    assert rec.retry is not None and "401" in rec.retry["reason"]
    assert get(host.journal()).status == 200 and len(fake.minted) == 2
