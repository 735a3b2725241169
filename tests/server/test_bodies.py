"""Unauthenticated bodies through a real uvicorn server: bounded in time and,
together, in memory; a client that goes away is not an error."""

import json
import socket
import threading
import time
import uuid

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from flows.db.migrate import upgrade
from flows.project.config import load_config
from flows.server.http import create_app
from flows.server.ingest import sign
from flows.server.service import Service
from tests.conftest import COMPONENTS
from tests.fakes.github import load_fixture

SECRET = "whsec-" + uuid.uuid4().hex


@pytest.fixture
def server(tmp_path):
    cfg = load_config(COMPONENTS / "app.yaml")
    cfg.database.url = f"sqlite:///{tmp_path}/flows.db"
    cfg.github.webhook_secret = SecretStr(SECRET)
    cfg.github.credentials_file = tmp_path / "none.json"
    cfg.server.body_timeout_s = 1.0
    cfg.server.pending_bodies_mb = 1
    svc = Service(cfg)
    upgrade(svc.engine)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(svc), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield port
    srv.should_exit = True
    thread.join(10)


def _start(port: int, length: int, first: bytes) -> socket.socket:
    """A POST that announces `length` bytes and sends only `first`."""
    conn = socket.create_connection(("127.0.0.1", port))
    head = (f"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\n"
            f"X-Hub-Signature-256: sha256=00\r\nContent-Length: {length}\r\n\r\n")  # fmt: skip
    conn.sendall(head.encode() + first)
    return conn


def _answer(conn: socket.socket, timeout: float = 5.0) -> str:
    conn.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def _deliver(port: int, pad: int = 0) -> httpx.Response:
    payload = {**load_fixture("pull_request.opened.json"), "pad": "p" * pad}
    body = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": str(uuid.uuid4()),
               "X-Hub-Signature-256": sign(SECRET, body)}  # fmt: skip
    return httpx.post(f"http://127.0.0.1:{port}/webhooks/github", content=body,
                      headers=headers, timeout=10)  # fmt: skip


def test_a_slow_body_is_cut_off_at_the_timeout(server):
    start = time.monotonic()
    conn = _start(server, 1000, b'{"a": ')
    answer = _answer(conn)
    assert answer.startswith("HTTP/1.1 408"), answer
    assert time.monotonic() - start < 4
    conn.close()


def test_bodies_in_flight_share_a_memory_budget(server):
    # one stalled upload holds 0.8 MB of the 1 MB budget: a 0.5 MB delivery
    # meanwhile is refused with 503, and accepted once the stall is cut off
    stalled = _start(server, 900_000, b"x" * 800_000)
    time.sleep(0.3)
    busy = _deliver(server, pad=500_000)
    assert busy.status_code == 503 and "server.pending_bodies_mb" in busy.json()["error"]
    assert _answer(stalled).startswith("HTTP/1.1 408")
    stalled.close()
    assert _deliver(server, pad=500_000).status_code == 202


def test_a_client_that_goes_away_mid_body_is_counted_not_an_error(server):
    conn = _start(server, 1000, b'{"a": ')
    conn.close()
    time.sleep(0.3)
    metrics = httpx.get(f"http://127.0.0.1:{server}/metrics").text
    assert 'flows_webhooks_total{outcome="disconnected"} 1' in metrics
    assert _deliver(server).status_code == 202
