"""Webhook ingress benchmark against a running `flows serve`. Prints JSON lines.

Starts `flows serve --workers 0` on loopback (so only ingress is measured),
sends N signed, unique `pull_request` deliveries (28 KB each, GitHub's own
example payload) from C concurrent connections, then re-sends some of them
(GitHub redelivery) and checks in the database that every delivery is stored
exactly once and every job exists, once.

    python bench/ingress.py [--db sqlite|postgresql|URL] [--n 5000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.db import get_engine  # noqa: E402
from flows.db.models import Base, Delivery, Job  # noqa: E402
from flows.server.ingest import sign  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SECRET = "bench-" + uuid.uuid4().hex
APP_YAML = """
database: {url: "%s"}
github: {webhook_secret: "%s"}
flows:
  pr-size:
    function: functions/pr_size
    integrations: [github]
    on:
      pull_request: [opened, reopened, synchronize]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(base: str, timeout: float = 300) -> None:
    """Until `flows serve` at `base` answers /healthz."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("flows serve did not come up")


def prepare(db: str, work: Path) -> tuple[str, Path]:
    url = {"sqlite": f"sqlite:///{work}/flows.db", "postgresql": PG}.get(db, db)
    if url.startswith("postgresql"):
        engine = get_engine(url)
        with engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    for d in ("functions", "integrations"):
        (work / d).symlink_to(ROOT / d)
    config = work / "app.yaml"
    config.write_text(APP_YAML % (url, SECRET))
    if url.startswith("postgresql"):
        flows = [sys.executable, "-m", "flows.cli"]
        subprocess.run([*flows, "migrate", "--config", str(config)], check=True)
    return url, config


async def send_all(url: str, bodies: list[tuple[str, bytes]], concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue: asyncio.Queue = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                delivery, body = queue.get_nowait()
                headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": delivery,
                           "X-Hub-Signature-256": sign(SECRET, body),
                           "Content-Type": "application/json"}  # fmt: skip
                t0 = time.perf_counter()
                r = await client.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 202:
                    raise SystemExit(f"delivery {delivery}: {r.status_code} {r.text}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def pct(values: list[float], p: float) -> float:
    return round(sorted(values)[min(len(values) - 1, int(len(values) * p))] * 1000, 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="sqlite")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="flows-bench-"))
    url, config = prepare(args.db, work)
    port = free_port()
    cmd = [sys.executable, "-m", "flows.cli", "serve", "--config", str(config),
           "--port", str(port), "--workers", "0"]  # fmt: skip
    server = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(base)
        template = json.loads((ROOT / "tests/fixtures/github/pull_request.opened.json").read_text())
        bodies = []
        for i in range(args.n):
            template["number"] = template["pull_request"]["number"] = i + 1
            bodies.append((str(uuid.uuid4()), json.dumps(template).encode()))
        t0 = time.perf_counter()
        lat = asyncio.run(send_all(base + "/webhooks/github", bodies, args.concurrency))
        elapsed = time.perf_counter() - t0
        redelivered = bodies[: max(1, args.n // 10)]
        asyncio.run(send_all(base + "/webhooks/github", redelivered, args.concurrency))
    finally:
        server.terminate()
        server.wait(60)
    engine = get_engine(url)
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(Delivery))
        jobs = conn.scalar(select(func.count()).select_from(Job))
        distinct_jobs = conn.scalar(select(func.count(func.distinct(Job.delivery_id))))
        ids = {row[0] for row in conn.execute(select(Delivery.id))}
    ok = stored == jobs == distinct_jobs == args.n and ids == {d for d, _ in bodies}
    print(json.dumps({
        "bench": "ingress", "db": engine.dialect.name, "deliveries": args.n,
        "concurrency": args.concurrency, "payload_bytes": len(bodies[0][1]),
        "accepted_per_s": round(args.n / elapsed, 1), "ack_p50_ms": pct(lat, 0.50),
        "ack_p99_ms": pct(lat, 0.99), "ack_mean_ms": round(statistics.mean(lat) * 1000, 2),
        "redelivered": len(redelivered), "stored": stored, "jobs": jobs,
        "each_stored_once_with_its_job": ok, "cpus": os.cpu_count(),
    }))  # fmt: skip
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
