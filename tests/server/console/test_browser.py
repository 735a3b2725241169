"""The console in a real browser (Playwright driving Debian's chromium): sign
in, follow a failed run from its delivery, read its logs, retry it and see it
succeed; hostile content never runs; refused without a session or CSRF."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import uuid

import pytest
import uvicorn

from flows.server.http import create_app
from tests.fakes.github import load_fixture
from tests.server.console.test_pages import ADMIN, HOSTILE, failed_job, make_service, remember

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def served(tmp_path, fake_github):
    """A real server (no worker yet) and its service."""
    svc = make_service(f"sqlite:///{tmp_path}/flows.db", tmp_path, fake_github=fake_github)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(svc), host="127.0.0.1", port=port,
                                        log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", svc
    svc.stop_workers()
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def browser():
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def test_follow_a_failed_run_read_its_logs_retry_it(served, browser, fake_github):
    base, service = served
    payload = load_fixture("pull_request.opened.json")
    fake_github.add_repo_from_event(payload)
    payload["pull_request"]["title"] = payload["pull_request"]["body"] = HOSTILE
    delivery = str(uuid.uuid4())
    out = service.ingest.accept(delivery, "pull_request", json.dumps(payload).encode())
    assert out.status_code == 202, out.body
    job_id, run_id = failed_job(service, delivery)
    service.start_workers(1)  # the retry below is run for real

    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(base + "/")
    assert "/console/sign-in" in page.url
    page.fill("input[name=token]", ADMIN)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("h1:has-text('Overview')")

    page.click("text=Deliveries")
    page.click(f"a:has-text('{delivery}')")  # 1: the delivery
    page.click(f"a[href='/jobs/{job_id}']")  # 2: its job
    page.click(f"a:has-text('{run_id}')")  # 3: the failed run
    assert page.inner_text("#error").strip() == "GitHub answered 502"
    logs = page.inner_text("table >> nth=0")
    assert HOSTILE in logs  # shown as text, not as markup
    assert page.eval_on_selector_all("img[src=x], script:not([src])", "els => els.length") == 0

    page.click(f"a[href='/jobs/{job_id}']")
    page.click("button:has-text('Retry')")
    assert "queued again" in page.inner_text("#message")
    deadline = time.time() + 60
    while time.time() < deadline:
        page.goto(f"{base}/jobs/{job_id}")
        if page.inner_text("#state") == "done":
            break
        time.sleep(0.5)
    assert page.inner_text("#state") == "done"
    assert page.locator("td.status-ok").count() == 1  # the new run, beside the failed one
    assert dialogs == []  # nothing hostile ever ran

    # forget a dismissed finding
    repo, _ = remember(service)
    page.goto(f"{base}/repos/{repo}")
    assert "dismissed" in page.inner_text("#findings")
    page.click("#findings button:has-text('Forget')")
    assert "forgot 1 item(s)" in page.inner_text("#message")
    page.goto(f"{base}/repos/{repo}")
    assert "dismissed" not in page.inner_text("#findings")
    assert service.capabilities.knowledge_store().findings(repo) == []
    assert dialogs == []

    # refused: without CSRF (a request that carries the session), without a session
    r = page.context.request.post(f"{base}/jobs/{job_id}/retry", form={"csrf": "forged"})
    assert r.status == 403 and "CSRF" in r.text()
    anon = browser.new_context()
    r = anon.request.post(f"{base}/jobs/{job_id}/retry", max_redirects=0)
    assert r.status == 303 and r.headers["location"].startswith("/console/sign-in")
    anon.close()


def test_sign_in_with_github_in_the_browser(served, browser, fake_github):
    from flows.capabilities.github.app import AppCredentials

    base, service = served
    client = ("Iv1.browser", "oauth-secret-" + "y" * 20)
    service.cfg.console.admins = ["octo-admin"]
    service.capabilities.app = AppCredentials(1, "unused", client_id=client[0],
                                              client_secret=client[1])  # fmt: skip
    fake_github.oauth_client, fake_github.oauth_user = client, "octo-admin"
    page = browser.new_page()
    page.goto(f"{base}/flows")
    page.click("#github")  # -> GitHub's authorize (the fake approves) -> our callback
    page.wait_for_selector("h1:has-text('Flows')")
    assert page.url == f"{base}/flows" and "@octo-admin" in page.inner_text("header")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["flows_session"]["httpOnly"] and cookies["flows_session"]["sameSite"] == "Strict"
    assert "flows_oauth" not in cookies  # the sign-in's state is gone once used
