"""Benchmark: edit -> result in `flows dev`, against the path it replaced.

A project made by `flows init --template issue-triage` in a temporary folder,
with its own empty component cache (FLOWS_CACHE_DIR). Three measurements,
one JSON line each (then a summary line):

- `dev_first_run`: `flows dev` started, until its first result is printed
  (a dev build, compiled with the fast compiler).
- `dev_edit` (x --edits): app.py edited while `flows dev` runs, until the
  result that shows the edit is printed: what a developer waits for. The
  edit changes the comment the flow would post, and the line is only
  counted once the new text appears in it.
- `rebuild_optimized`: the same kind of edit on the production path (the
  only path before): a production build of the changed function and an
  optimized compile, then the run (build_s, compile_s, run_s).

    python bench/dev_loop.py [--edits 5]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FLOW = "issue-triage"
ANCHOR = "<sub>issue-triage: looks"


def emit(**row) -> None:
    print(json.dumps({"bench": "dev_loop", **row}), flush=True)


def _lines(stream, out: queue.Queue) -> None:
    for line in stream:
        out.put((time.perf_counter(), line.rstrip("\n")))
    out.put((time.perf_counter(), None))


def _wait_for(lines: queue.Queue, want: str, timeout: float) -> tuple[float, list[str]]:
    """Read lines until one contains `want`, then until the run's closing
    "(N s ...)" line; return when `want` was seen and the lines read."""
    seen_at, read = None, []
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            at, line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            raise RuntimeError("flows dev ended:\n" + "\n".join(read))
        read.append(line)
        if seen_at is None and want in line:
            seen_at = at
        if seen_at is not None and line.startswith("  (") and line.endswith(")"):
            return seen_at, read
    raise TimeoutError(f"no line with {want!r} in {timeout} s:\n" + "\n".join(read[-20:]))


def edit(app: Path, text: str, marker: str) -> None:
    app.write_text(text.replace(ANCHOR, f"<sub>{marker}: looks"), encoding="utf-8")


def rebuild_optimized(project: Path, app: Path, original: str, marker: str) -> dict:
    """The production path for an edit: build, optimized compile, run. The
    flow first runs once unedited, so only the edited function is new."""
    from flows.capabilities.replay import load_recording
    from flows.project.config import load_config
    from flows.project.events import load_event
    from flows.runtime import Runtime
    from flows.sandbox.build import build_one, flow_sources
    from flows.sandbox.engine import Engine

    cfg = load_config(project / "app.yaml")
    path = app.parent / "samples" / "issues.opened.json"
    sample, recording = load_event(path), load_recording(path)
    engine = Engine("optimized")

    def runtime() -> Runtime:
        rt = Runtime(cfg, engine=engine)
        rt.capabilities.replay(recording)  # the sample's recorded answers, offline
        return rt

    app.write_text(original, encoding="utf-8")
    runtime().run(FLOW, sample, dry_run=True)
    edit(app, original, marker)
    t0 = time.perf_counter()
    built = build_one(flow_sources(cfg, FLOW)[0])
    t1 = time.perf_counter()
    engine.load(built)
    t2 = time.perf_counter()
    report = runtime().run(FLOW, sample, dry_run=True)
    t3 = time.perf_counter()
    engine.close()
    return {
        "build_s": round(t1 - t0, 2),
        "compile_s": round(t2 - t1, 2),
        "run_s": round(t3 - t2, 2),
        "seconds": round(t3 - t0, 2),
        "cached_build": built.cached,
        "edit_shown": marker in json.dumps(report.writes),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--edits", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="flows-bench-dev-") as tmp:
        project, cache = Path(tmp) / "project", Path(tmp) / "cache"
        os.environ["FLOWS_CACHE_DIR"] = str(cache)
        flows = [sys.executable, "-m", "flows.cli"]
        subprocess.run([*flows, "init", str(project), "--template", FLOW], check=True)
        app = project / "functions" / "issue_triage" / "app.py"
        original = app.read_text(encoding="utf-8")
        proc = subprocess.Popen(
            [*flows, "dev", FLOW, "--config", str(project / "app.yaml")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
        try:
            t0 = time.perf_counter()
            at, _ = _wait_for(lines, ANCHOR, timeout=600)
            emit(metric="dev_first_run", seconds=round(at - t0, 2))
            times = []
            for i in range(1, args.edits + 1):
                marker = f"edit-{i}"
                time.sleep(0.5)  # a person does not save twice in one poll
                t0 = time.perf_counter()
                edit(app, original, marker)
                at, read = _wait_for(lines, f"<sub>{marker}: looks", timeout=120)
                rebuilt = any("; rebuilt" in line for line in read)
                times.append(at - t0)
                emit(metric="dev_edit", edit=i, seconds=round(at - t0, 3), rebuilt=rebuilt)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        old = rebuild_optimized(project, app, original, "edit-production")
        emit(metric="rebuild_optimized", **old)
        times.sort()
        emit(
            metric="summary",
            dev_edit_median_s=round(times[len(times) // 2], 3),
            dev_edit_max_s=round(times[-1], 3),
            rebuild_optimized_s=old["seconds"],
            cores=os.cpu_count(),
        )


if __name__ == "__main__":
    main()
