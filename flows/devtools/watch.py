"""`flows dev`: rebuild a flow's components when they change and replay its last event."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from flows.capabilities.replay import load_recording
from flows.errors import EventError, FlowsError
from flows.progress import Progress, quiet
from flows.project.config import AppConfig
from flows.project.events import Event, load_event
from flows.sandbox.build import build_all, digest, flow_sources
from flows.sandbox.engine import get_engine
from flows.sandbox.report import RunReport

Echo = Callable[[str], None]


def fingerprint(cfg: AppConfig, flow: str) -> str:
    """Changes whenever a source file of the flow's components changes."""
    return "".join(digest(s) for s in flow_sources(cfg, flow))


def last_delivery(cfg: AppConfig, flow: str) -> Event | None:
    """The newest webhook delivery that started a job for `flow`, if the database has one."""
    url = cfg.database.url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None  # no database yet: do not create one just to look
    from flows.db import get_engine
    from flows.db.models import Delivery, Job

    try:
        with get_engine(url).connect() as conn:
            row = conn.execute(
                select(Delivery.id, Delivery.event, Delivery.body)
                .join(Job, Job.delivery_id == Delivery.id)
                .where(Job.flow == flow)
                .order_by(Delivery.received_at.desc())
                .limit(1)
            ).first()
    except Exception:
        return None  # no tables yet, or the server is down: fall back to samples
    if row is None:
        return None
    text = bytes(row.body).decode("utf-8")
    return Event(row.event, json.loads(text), delivery_id=row.id, raw=text)


def pick_event(
    cfg: AppConfig, flow: str, event_path: Path | None
) -> tuple[Event, Path | None, str]:
    """The event to replay: --event, else the last delivery, else the function's first sample."""
    if event_path is not None:
        return load_event(event_path), event_path, str(event_path)
    got = last_delivery(cfg, flow)
    if got is not None:
        return got, None, f"the last delivery for {flow} ({got.delivery_id})"
    samples = sorted((cfg.flow(flow).function / "samples").glob("*.json"))
    if samples:
        return load_event(samples[0]), samples[0], str(samples[0])
    raise EventError(
        f"no event to replay for {flow}: pass --event FILE (no delivery in the database, "
        f"no samples/ in {cfg.flow(flow).function})"
    )


def _missing_module(report: RunReport) -> bool:
    """The run imported a module the dev build's snapshot lacks (a new
    standard-library import, say): only a rebuild can add it."""
    e = report.error
    return e is not None and e.kind == "exception" and "ModuleNotFoundError" in e.message


def run_once(
    cfg: AppConfig,
    flow: str,
    event: Event,
    event_path: Path | None,
    progress: Progress = quiet,
) -> tuple[RunReport, bool]:
    """Build (a cached dev build) and run the flow once, dry; a recorded event
    is replayed offline. Returns the report and whether anything was rebuilt.

    Dev builds compile with the fast compiler and run the components' Python
    sources from disk, so an edit to them needs no rebuild."""
    from flows.runtime import Runtime

    engine = get_engine("fast")
    recording = load_recording(event_path) if event_path is not None else None

    def attempt() -> tuple[RunReport, bool]:
        runtime = Runtime(cfg, engine=engine, dev=True)
        if recording is not None:
            runtime.capabilities.replay(recording)
        runtime.prepare([flow], progress)
        rebuilt = any(not b.cached for b in runtime.built.values())
        return runtime.run(flow, event, dry_run=True), rebuilt

    report, rebuilt = attempt()
    if _missing_module(report):
        sources = flow_sources(cfg, flow)
        for src in sources:
            engine.forget(digest(src, dev=True))
        build_all(sources, force=True, progress=progress, dev=True)
        report, _ = attempt()
        rebuilt = True
    return report, rebuilt


def describe(report: RunReport) -> list[str]:
    """A few lines a developer reads after each save."""
    lines = [f"{report.status} in {report.duration_ms:.0f} ms  (run {report.run_id})"]
    if report.error is not None:
        lines.append(f"  error [{report.error.kind}] {report.error.message}")
    for w in report.writes:
        body = w.get("body")
        text = body.get("body") if isinstance(body, dict) else None
        summary = (text or json.dumps(body))[:300].replace("\n", "\n      ")
        lines.append(f"  would {w['method']} {w['path']}\n      {summary}")
    for entry in report.logs:
        if entry["level"] in ("warn", "error"):
            lines.append(f"  {entry['level']}: {entry['component']}: {entry['message']}")
    if report.result is not None:
        lines.append(f"  result: {json.dumps(report.result)[:300]}")
    return lines


def watch(
    cfg: AppConfig,
    flow: str,
    event_path: Path | None,
    echo: Echo,
    interval_s: float = 0.2,
    max_runs: int | None = None,
    progress: Progress = quiet,
) -> None:
    """Run now, then again after every change to the flow's sources (Ctrl-C stops)."""
    event, path, origin = pick_event(cfg, flow, event_path)
    echo(f"flows dev: {flow} on {event.name} from {origin}; watching for changes (Ctrl-C stops)")
    seen: str | None = None
    runs = 0
    while max_runs is None or runs < max_runs:
        try:
            current = fingerprint(cfg, flow)
        except OSError:
            current = seen  # a file was mid-save: look again next time
        if current != seen:
            seen = current
            runs += 1
            start = time.perf_counter()
            echo(f"\n[{runs}] running {flow} ...")
            how = ""
            try:
                report, rebuilt = run_once(cfg, flow, event, path, progress)
            except FlowsError as e:
                echo(f"  error: {e}")
            else:
                for line in describe(report):
                    echo(line)
                how = "; rebuilt" if rebuilt else "; no rebuild: the Python sources ran from disk"
            echo(f"  ({time.perf_counter() - start:.1f} s{how})")
            continue
        time.sleep(interval_s)
