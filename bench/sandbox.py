"""Sandbox cold-start benchmark. Prints JSON lines.

A run = a function linked through the host to two integration components
that call host capabilities (tests/components: probe -> alpha, beta).

    python bench/sandbox.py [--runs 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.project.config import load_config  # noqa: E402
from flows.project.events import Event  # noqa: E402
from flows.runtime import Runtime  # noqa: E402
from flows.sandbox.build import build_one  # noqa: E402

CONFIG = ROOT / "tests" / "components" / "app.yaml"


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 3)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def event(mode: str, **extra) -> Event:
    return Event("pull_request", {"action": "opened", "mode": mode, **extra})


def load_times(rt: Runtime) -> None:
    """First start (compile) vs warm start (deserialize cached machine code)."""
    from importlib.metadata import version

    from wasmtime import component as wc

    for b in rt.built.values():
        engine = rt.engine.engine
        t = time.perf_counter()
        wc.Component.from_file(engine, str(b.wasm))
        compile_ms = (time.perf_counter() - t) * 1000
        path = rt.engine.compiled_path(b.digest)
        t = time.perf_counter()
        wc.Component.deserialize_file(engine, str(path))
        warm_ms = (time.perf_counter() - t) * 1000
        emit(
            metric="component_load",
            component=b.source.name,
            wasm_mb=round(b.wasm.stat().st_size / 2**20, 1),
            first_start_compile_ms=round(compile_ms, 1),
            warm_start_load_ms=round(warm_ms, 2),
            wasmtime=version("wasmtime"),
        )
    code = (
        "import time; t=time.perf_counter();"
        "from flows.config import load_config; from flows.runtime import Runtime;"
        f"Runtime(load_config({str(CONFIG)!r})).plan('probe');"
        "print((time.perf_counter()-t)*1000)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    emit(metric="warm_process_start", what="import + build check + load 3 components + link",
         ms=round(float(out.stdout.strip()), 1))  # fmt: skip


def instantiate(rt: Runtime, runs: int) -> None:
    inst, total = [], []
    for _ in range(runs):
        r = rt.run("probe", event("noop"))
        assert r.ok, r.error
        inst.append(r.timings_ms["instantiate"])
        total.append(r.duration_ms)
    emit(metric="instantiate", runs=runs, components=3,
         p50_ms=pct(inst, 50), p99_ms=pct(inst, 99),
         run_total_p50_ms=pct(total, 50), run_total_p99_ms=pct(total, 99))  # fmt: skip


def call_overhead(rt: Runtime) -> None:
    n = 2000
    base = statistics.median(
        rt.run("probe", event("echo", n=0)).timings_ms["call"] for _ in range(5)
    )
    many = statistics.median(
        rt.run("probe", event("echo", n=n)).timings_ms["call"] for _ in range(5)
    )
    emit(metric="call_overhead", path="function -> host -> integration -> back",
         calls=n, us_per_call=round((many - base) * 1000 / n, 1))  # fmt: skip


def concurrency(rt: Runtime, count: int) -> None:
    barrier = threading.Barrier(count)
    peak: list[float] = []

    def hold() -> None:
        if barrier.wait() == 0:
            peak.append(rss_mb())
        barrier.wait()

    before = rss_mb()
    with ThreadPoolExecutor(count) as pool:
        reports = list(
            pool.map(lambda _: rt.run("probe", event("noop"), inspect=hold), range(count))
        )
    assert all(r.ok for r in reports)
    emit(metric="concurrent_rss", sandboxes=count, components_per_sandbox=3,
         rss_before_mb=round(before, 1), rss_peak_mb=round(peak[0], 1),
         mb_per_sandbox=round((peak[0] - before) / count, 2))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300)
    args = ap.parse_args()
    rt = Runtime(load_config(CONFIG))
    t = time.perf_counter()
    rt.plan("probe")
    emit(metric="plan_probe", ms=round((time.perf_counter() - t) * 1000, 1))
    for _ in range(5):
        rt.run("probe", event("noop"))  # warm-up
    for c in (1, 8, 32):
        concurrency(rt, c)
    instantiate(rt, args.runs)
    call_overhead(rt)
    load_times(rt)
    assert all(build_one(b.source).cached for b in rt.built.values())


if __name__ == "__main__":
    main()
