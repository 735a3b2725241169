"""Crash drill: signed deliveries while `flows serve` and `flows worker` are
killed with SIGKILL over and over. Prints one JSON line.

Sends N unique `pull_request` deliveries (each from a new installation half
the time, so first sightings race too) from C connections. Every few seconds
the server (and on PostgreSQL the worker processes) is killed and started
again; a delivery whose request failed is sent again once the server answers,
as GitHub's redelivery would. Then it waits for the queue to settle and
counts: acknowledged vs stored deliveries, jobs, duplicates, lost.

    python bench/drill.py [--db sqlite|postgresql] [--n 1000] [--kill-every 3] [--kills 10]
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingress import ROOT, SECRET, free_port, prepare, wait_up

from flows.db import get_engine
from flows.db.models import Delivery, Job
from flows.server.ingest import sign

FLOWS = [sys.executable, "-m", "flows.cli"]


class Fleet:
    """`flows serve` (and `flows worker`s on PostgreSQL), killed and restarted."""

    def __init__(self, config: Path, port: int, workers: int) -> None:
        self.config, self.port, self.workers = config, port, workers
        self.procs: list[subprocess.Popen] = []
        self.kills = 0

    def start(self) -> None:
        serve = [*FLOWS, "serve", "--config", str(self.config), "--port", str(self.port),
                 "--workers", "2" if self.workers == 0 else "0"]  # fmt: skip
        self.procs = [subprocess.Popen(serve, stderr=subprocess.DEVNULL)]
        for _ in range(self.workers):
            worker = [*FLOWS, "worker", "--config", str(self.config), "--threads", "2"]
            self.procs.append(subprocess.Popen(worker, stderr=subprocess.DEVNULL))

    def kill(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGKILL)
            p.wait()
        self.kills += 1

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()


def stub_github() -> str:
    """A loopback server answering every request 404 Not Found, as GitHub would
    for a repository the App cannot see."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"message": "Not Found"}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


async def send(base: str, bodies: list[tuple[str, bytes]], concurrency: int) -> dict:
    acked: set[str] = set()
    counts = {"sent": 0, "failed_requests": 0, "recognised_redeliveries": 0}
    queue: asyncio.Queue = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    async with httpx.AsyncClient(timeout=10) as client:

        async def one() -> None:
            while not queue.empty():
                delivery, body = queue.get_nowait()
                headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": delivery,
                           "X-Hub-Signature-256": sign(SECRET, body)}  # fmt: skip
                counts["sent"] += 1
                try:
                    r = await client.post(base + "/webhooks/github", content=body, headers=headers)
                except httpx.HTTPError:
                    r = None
                if r is None or r.status_code >= 500:
                    counts["failed_requests"] += 1  # GitHub shows it; redeliver later
                    await asyncio.sleep(0.5)
                    queue.put_nowait((delivery, body))
                    continue
                if r.json().get("duplicate"):
                    counts["recognised_redeliveries"] += 1
                acked.add(delivery)

        await asyncio.gather(*(one() for _ in range(concurrency)))
    return {"acked": acked, **counts}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="sqlite")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--kill-every", type=float, default=3.0)
    ap.add_argument("--kills", type=int, default=10)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="flows-drill-"))
    url, config = prepare(args.db, work)
    # a stand-in GitHub that knows no pull request: each run ends quickly
    # (failed), so the drill measures the queue, not the flow
    github = stub_github()
    config.write_text(config.read_text().replace(
        "github: {", f'github: {{api_url: "{github}", token: "drill", ') + (
        "queue: {lease_s: 5, backoff_base_s: 0.5, backoff_max_s: 2, max_attempts: 5}\n"
    ))  # fmt: skip
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fleet = Fleet(config, port, workers=2 if url.startswith("postgresql") else 0)
    template = json.loads((ROOT / "tests/fixtures/github/pull_request.opened.json").read_text())
    bodies = []
    for i in range(args.n):
        template["number"] = template["pull_request"]["number"] = i + 1
        template["installation"] = {"id": 10_000 + (i if i % 2 else 0)}
        bodies.append((str(uuid.uuid4()), json.dumps(template).encode()))
    fleet.start()
    wait_up(base)
    done = threading.Event()

    def killer() -> None:
        # kill while deliveries arrive, and on until --kills, so workers die mid-run too
        rng = random.Random(7)
        while fleet.kills < args.kills or not done.is_set():
            time.sleep(args.kill_every * (0.5 + rng.random()))
            fleet.kill()
            fleet.start()

    t0 = time.perf_counter()
    chaos = threading.Thread(target=killer, daemon=True)
    chaos.start()
    result = asyncio.run(send(base, bodies, args.concurrency))
    done.set()
    chaos.join()
    wait_up(base)
    again = asyncio.run(send(base, bodies[: args.n // 10], args.concurrency))  # redeliveries
    engine = get_engine(url)
    settle = time.time() + 600
    while time.time() < settle:  # every job leaves queued/running (its lease runs out)
        with engine.connect() as conn:
            open_jobs = conn.scalar(
                select(func.count()).select_from(Job).where(Job.state.in_(("queued", "running")))
            )
        if open_jobs == 0:
            break
        time.sleep(1)
    fleet.stop()
    elapsed = time.perf_counter() - t0
    with engine.connect() as conn:
        stored = {row[0] for row in conn.execute(select(Delivery.id))}
        jobs = conn.scalar(select(func.count()).select_from(Job))
        per_delivery = conn.scalar(select(func.count(func.distinct(Job.delivery_id))))
        states = dict(conn.execute(select(Job.state, func.count()).group_by(Job.state)).all())
    acked = result["acked"]
    out = {
        "bench": "drill", "db": engine.dialect.name, "deliveries": args.n,
        "kills": fleet.kills, "acknowledged": len(acked), "stored": len(stored),
        "lost": len(acked - stored), "jobs": jobs, "deliveries_with_jobs": per_delivery,
        "duplicate_jobs": jobs - per_delivery,
        "failed_requests_redelivered": result["failed_requests"],
        "redeliveries_recognised": again["recognised_redeliveries"],
        "redeliveries_sent": len(bodies[: args.n // 10]),
        "job_states": states, "seconds": round(elapsed, 1), "cpus": os.cpu_count(),
    }  # fmt: skip
    print(json.dumps(out))
    if out["lost"] or out["duplicate_jobs"] or jobs != len(stored) or len(acked) != args.n:
        sys.exit(1)


if __name__ == "__main__":
    main()
