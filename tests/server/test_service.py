"""`flows serve` end to end, as GitHub App, on SQLite and PostgreSQL: a signed
delivery leads to a run that upserts one comment; a second push edits it;
killing the server mid-run and starting it again completes the job."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from sqlalchemy import select

from flows.db import get_engine
from flows.db.migrate import head
from flows.db.models import Job
from flows.server.ingest import sign
from tests.conftest import PR_SIZE, make_project, pull_request

pytestmark = pytest.mark.slow
SECRET = "whsec-" + uuid.uuid4().hex
SETTINGS = """
database: {url: "${FLOWS_DATABASE_URL}"}
github:
  api_url: ${GITHUB_API_URL}
  app_id: ${GITHUB_APP_ID}
  private_key_path: ${GITHUB_APP_PRIVATE_KEY_PATH}
  webhook_secret: ${GITHUB_WEBHOOK_SECRET}
  request_interval_s: 0
  write_interval_s: 0
queue: {lease_s: 2, poll_s: 0.1}
"""


@pytest.fixture
def fake(app_github):
    return app_github


class Server:
    def __init__(self, config, env) -> None:
        self.config, self.env = config, env
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        cmd = [sys.executable, "-m", "flows.cli", "serve", "--config", str(self.config),
               "--port", str(self.port), "--workers", "2"]  # fmt: skip
        self.proc = subprocess.Popen(cmd, env=self.env, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"flows serve exited: {self.proc.stderr.read()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("flows serve did not start")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def deliver(self, event: str, payload: dict) -> httpx.Response:
        body = json.dumps(payload).encode()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(SECRET, body),
            "Content-Type": "application/json",
        }
        return httpx.post(self.url + "/webhooks/github", content=body, headers=headers, timeout=10)


@pytest.fixture
def server(tmp_path, db_url, fake, app_key):
    config = make_project(tmp_path / "proj", PR_SIZE, SETTINGS)
    env = {**os.environ, "FLOWS_DATABASE_URL": db_url, "GITHUB_API_URL": fake.url,
           "GITHUB_APP_ID": "4242", "GITHUB_APP_PRIVATE_KEY_PATH": str(app_key[0]),
           "GITHUB_WEBHOOK_SECRET": SECRET}  # fmt: skip
    if db_url.startswith("postgresql"):  # serve migrates SQLite itself; PostgreSQL is explicit
        cmd = [sys.executable, "-m", "flows.cli", "migrate", "--config", str(config)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert f"upgraded from empty to {head()}" in out.stdout
    srv = Server(config, env)
    yield srv
    srv.stop()


def wait_for(check, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("timed out")


def job_states(db_url) -> list[tuple[str, int]]:
    with get_engine(db_url).connect() as conn:
        return [(j.state, j.attempts) for j in conn.execute(select(Job).order_by(Job.id))]


def test_a_signed_delivery_upserts_one_comment_as_the_app(server, fake, db_url):
    server.start()
    repo, payload = pull_request(fake, 7)
    r = server.deliver("pull_request", payload)
    assert r.status_code == 202 and r.json()["jobs"] == 1
    (comment,) = wait_for(lambda: repo.comments.get(7))
    assert comment["user"]["login"] == "flows-test[bot]"
    assert "size/S" in comment["body"]
    assert fake.minted and all(t not in comment["body"] for t in fake.minted)

    repo.files[7][0]["additions"] = 600
    assert server.deliver("pull_request", {**payload, "action": "synchronize"}).status_code == 202
    wait_for(lambda: "size/XL" in repo.comments[7][0]["body"])
    assert len(repo.comments[7]) == 1 and repo.comments[7][0]["id"] == comment["id"]
    wait_for(lambda: job_states(db_url) == [("done", 1), ("done", 1)])
    assert len(fake.minted) == 1  # the installation token was cached


def test_killing_the_server_mid_run_loses_nothing(server, fake, db_url):
    repo, payload = pull_request(fake, number=8)
    labels = f"/repos/{repo.full_name}/issues/8/labels"
    fake.delay(labels, 30)
    server.start()
    assert server.deliver("pull_request", payload).status_code == 202
    wait_for(lambda: labels in fake.held)
    server.kill()
    assert job_states(db_url) == [("running", 1)]
    fake.delays.clear()
    server.start()
    wait_for(lambda: job_states(db_url) == [("done", 2)])
    assert len(repo.comments[8]) == 1 and repo.labels[8] == ["size/S"]


def test_flows_worker_processes_take_the_jobs(server, fake, db_url):
    cmd = [sys.executable, "-m", "flows.cli", "serve", "--config", str(server.config),
           "--port", str(server.port), "--workers", "0"]  # fmt: skip
    server.proc = subprocess.Popen(cmd, env=server.env, stderr=subprocess.DEVNULL)
    wait_for(lambda: _healthy(server.url))
    repo, payload = pull_request(fake, number=9)
    assert server.deliver("pull_request", payload).json()["jobs"] == 1
    time.sleep(0.5)
    assert job_states(db_url) == [("queued", 0)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flows.cli",
                "worker",
                "--config",
                str(server.config),
                "--threads",
                "1",
            ],
            env=server.env,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        wait_for(lambda: job_states(db_url) == [("done", 1)])
        assert len(repo.comments[9]) == 1
    finally:
        for w in workers:
            w.terminate()
        codes = [w.wait(30) for w in workers]
        # 0: stopped cleanly; -15: SIGTERM came before it had finished starting up
        assert set(codes) <= {0, -signal.SIGTERM} and 0 in codes


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_serve_refuses_a_broken_flow_at_start(tmp_path):
    broken = PR_SIZE.replace("integrations: [github]", "integrations: [nope]")
    config = make_project(tmp_path / "p", broken)
    out = subprocess.run([sys.executable, "-m", "flows.cli", "serve", "--config", str(config)],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 2
    assert "flows.pr-size.integrations[0]: no integration 'nope'" in out.stderr
