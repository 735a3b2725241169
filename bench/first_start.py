"""Benchmark: `flows serve` from start to `/healthz`, with an empty component
cache (the first start) and again with it filled (every later start).

Projects: `clone` (a `git clone` of this checkout's HEAD, served with its own
app.yaml: the README's quick start) and `init` (a folder made by `flows
init` with the default templates: what a wheel install serves). Each start
gets a fresh SQLite database, so the migrations run too. One JSON line per
start: seconds to /healthz, components built and cached, then the server is
stopped.

    python bench/first_start.py [--project clone|init] [--install]

`--install` first times `pip install -e .` into a fresh venv (pip's wheel
cache warm: what the quick start's install costs on a machine that has
installed flows before).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def emit(**row) -> None:
    print(json.dumps({"bench": "first_start", **row}), flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def start(python: str, config: Path, cache: Path) -> dict:
    """One `flows serve` until /healthz answers; the counts from its lines."""
    port = free_port()
    log = config.parent / f"serve-{port}.log"
    env = {**os.environ, "FLOWS_CACHE_DIR": str(cache)}
    with log.open("w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [python, "-m", "flows.cli", "serve", "--config", str(config), "--port", str(port)],
            cwd=config.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            while not healthy(port):
                if proc.poll() is not None:
                    raise RuntimeError(f"flows serve exited {proc.returncode}:\n{log.read_text()}")
                if time.perf_counter() - t0 > 900:
                    raise TimeoutError(log.read_text()[-3000:])
                time.sleep(0.1)
            seconds = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    text = log.read_text()
    lines = [ln for ln in text.splitlines() if ln.startswith("build [")]
    return {
        "seconds_to_healthz": round(seconds, 1),
        "components": len(lines),
        "built": sum(": built" in ln for ln in lines),
        "cached": sum(": cached" in ln for ln in lines),
        "migrations": sum(ln.startswith("migrate [") for ln in text.splitlines()),
    }


def project(kind: str, where: Path, python: str) -> Path:
    if kind == "clone":
        subprocess.run(["git", "clone", "-q", str(ROOT), str(where)], check=True)
        return where / "app.yaml"
    subprocess.run([python, "-m", "flows.cli", "init", str(where)], check=True)
    return where / "app.yaml"


def install(tmp: Path) -> str:
    venv = tmp / "venv"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-e", str(ROOT)]
    subprocess.run(pip, check=True)
    emit(metric="install", seconds=round(time.perf_counter() - t0, 1), pip_cache="warm")
    return str(venv / "bin" / "python")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", choices=["clone", "init"], action="append")
    ap.add_argument("--install", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="flows-bench-start-") as tmp:
        python = install(Path(tmp)) if args.install else sys.executable
        for kind in args.project or ["clone", "init"]:
            config = project(kind, Path(tmp) / kind, python)
            cache = Path(tmp) / f"cache-{kind}"
            for cache_state in ("empty", "filled"):
                db = config.parent / "flows.db"
                db.unlink(missing_ok=True)
                row = start(python, config, cache)
                emit(project=kind, cache=cache_state, cores=os.cpu_count(), **row)


if __name__ == "__main__":
    main()
