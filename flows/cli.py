"""The `flows` command line."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from flows import __version__
from flows.errors import FlowsError
from flows.progress import Reporter, Step
from flows.project.config import AppConfig, load_config
from flows.sandbox.build import build_all, project_components

CONFIG = click.option(
    "--config",
    "config_path",
    default="app.yaml",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Path to app.yaml.",
)


FLOW = click.option(
    "--flow", "flow_name", help="The review flow in app.yaml (default: code_review's)."
)


def _load(config_path: Path) -> AppConfig:
    try:
        return load_config(config_path)
    except FlowsError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)


@click.group()
@click.version_option(__version__, prog_name="flows")
def main() -> None:
    """flows: GitHub App bots as sandboxed WebAssembly components."""


@main.command()
@CONFIG
@click.option("--force", is_flag=True, help="Rebuild even when the cache is current.")
@click.option("--jobs", "-j", type=int, help="Components built at once (default: one per core).")
def build(config_path: Path, force: bool, jobs: int | None) -> None:
    """Compile every function and integration (cached by content hash)."""
    from flows.progress import Reporter

    cfg = _load(config_path)
    start = time.perf_counter()
    sources = project_components(cfg)
    if not sources:
        click.echo("nothing to build: no functions/ or integrations/ with an app.py", err=True)
        sys.exit(2)
    try:
        built = build_all(sources, force=force, jobs=jobs, progress=Reporter())
    except FlowsError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        _interrupted()
    for b in built:
        state = "cached" if b.cached else "built "
        src = b.source
        click.echo(f"{state} {src.kind:<11} {src.name:<20} {b.digest[:12]}  {b.seconds:6.2f}s")
    fresh = sum(not b.cached for b in built)
    click.echo(
        f"{len(sources)} components ({fresh} built, {len(sources) - fresh} cached) "
        f"in {time.perf_counter() - start:.2f}s"
    )


def _interrupted() -> None:
    click.echo("\ninterrupted: the builds still running were stopped; the cache keeps only "
               "complete entries", err=True)  # fmt: skip
    sys.exit(130)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _error_report(flow: str, kind: str, message: str) -> dict[str, Any]:
    return {"flow": flow, "status": "error", "error": {"kind": kind, "message": message}}


@main.command()
@click.argument("flow")
@click.option(
    "--event", "event_path", required=True, type=click.Path(path_type=Path), help="Event JSON."
)
@click.option("--event-name", help="X-GitHub-Event of the payload (guessed when omitted).")
@click.option("--dry-run", is_flag=True, help="Do not write to GitHub; report what would be.")
@click.option(
    "--record",
    "record_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the event with every GitHub read and model answer, to replay offline.",
)
@click.option("--live", is_flag=True, help="Ignore a recording in the event file.")
@CONFIG
def run(
    flow: str,
    event_path: Path,
    event_name: str | None,
    dry_run: bool,
    record_path: Path | None,
    live: bool,
    config_path: Path,
) -> None:
    """Run FLOW on one recorded event and print a JSON run report.

    An event file with a `recording` (from --record, or a template's samples/)
    is replayed offline: GitHub and the model are not contacted and nothing is
    written. Exit status: 0 the flow succeeded, 1 the flow failed, 2 bad input
    or config.
    """
    from flows.capabilities.replay import Recording, load_recording, save_recorded_event
    from flows.project.events import load_event
    from flows.runtime import Runtime

    recording = None
    try:
        cfg = load_config(config_path)
        cfg.flow(flow)
        event = load_event(event_path, event_name)
        replay = None if live else load_recording(event_path)
        runtime = Runtime(cfg)
        if replay is not None:
            runtime.capabilities.replay(replay)
            dry_run = True
            click.echo(f"replaying the recording in {event_path}: nothing is sent", err=True)
        elif record_path is not None:
            recording = Recording(source=str(record_path))
            runtime.capabilities.record(recording)
        runtime.plan(flow)
    except FlowsError as e:
        kind = type(e).__name__.removesuffix("Error").lower() or "input"
        click.echo(json.dumps(_error_report(flow, kind, str(e)), indent=2))
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    report = runtime.run(flow, event, dry_run=dry_run)
    click.echo(json.dumps(report.to_dict(), indent=2, default=str))
    if recording is not None:
        save_recorded_event(record_path, event, recording)
        click.echo(f"recorded to {record_path}", err=True)
    if not report.ok and report.error is not None:
        click.echo(f"flow failed: {report.error.message}", err=True)
    sys.exit(0 if report.ok else 1)


@main.command()
@click.argument("path", type=click.Path(path_type=Path), default=".")
@click.option("--base", required=True, help="What the branch goes into: a branch, tag or SHA.")
@click.option("--head", default="HEAD", show_default=True, help="The branch to review.")
@FLOW
@click.option("--repo", "repository", help="owner/name for links (default: the origin remote).")
@click.option("--title", help="The pull request's title (default: from the commits).")
@click.option("--body", help="The pull request's description (default: from the commits).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON run report instead.")
@CONFIG
def review(
    path: Path,
    base: str,
    head: str,
    flow_name: str | None,
    repository: str | None,
    title: str | None,
    body: str | None,
    as_json: bool,
    config_path: Path,
) -> None:
    """Review a local branch: the comment the App would post on a pull
    request from BASE to HEAD, with no GitHub at all (nothing is sent, the
    flow's memory is not written). Uncommitted changes are not reviewed.
    Exit status: 0 reviewed, 1 the review failed, 2 bad input or config."""
    from flows.capabilities.github.local import LocalRepository
    from flows.evaluate.local import LocalReviewer, markdown

    cfg = _load(config_path)
    try:
        repo = LocalRepository.open(path)
        with LocalReviewer(cfg, flow_name) as reviewer:  # the range is checked before the run
            done = reviewer.review(repo, base, head, repository, title, body)
    except FlowsError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    pull = done.range
    files = len(repo.files(pull.merge_base, pull.head_sha))
    click.echo(
        f"reviewed {base}..{head}: {_count(len(pull.commits), 'commit')}, "
        f"{_count(files, 'file')} changed, in {done.seconds:.1f} s; nothing was sent to GitHub",
        err=True,
    )
    dirty = repo.uncommitted() if head == "HEAD" else 0
    if dirty:
        click.echo(f"note: {_count(dirty, 'file')} with uncommitted changes not reviewed "
                   "(commit them to include them)", err=True)  # fmt: skip
    if as_json:
        out = {**done.report, "comment": done.comment, "inline_comments": done.inline}
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        click.echo(markdown(done), nl=False)
    if done.result.get("model_failed"):
        click.echo(f"warning: the model's part failed: {done.result['model_failed']}", err=True)
    if not done.ok:
        click.echo(f"the review failed: {done.error}", err=True)
    sys.exit(0 if done.ok else 1)


def _case_progress(progress: Reporter):
    def report(i, n, case, result) -> None:
        if result is None:
            progress(Step("review", i - 1, n, case.name, "started"))
            return
        if not result.ok:
            state = f"FAILED {result.error[:200]}"
        else:
            b, k = result.score["breaking"], result.score["risks"]
            state = (
                f"ok {result.seconds:.1f}s, breaking "
                f"{b['found']}/{b['expected']}, risks {k['found']}/{k['expected']}"
            )
        progress(Step("review", i, n, case.name, state))

    return report


@main.command("eval")
@click.argument(
    "cases_path", metavar="CASES", required=False, type=click.Path(dir_okay=False, path_type=Path)
)
@CONFIG
@FLOW
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every number, per case and overall, to this JSON file.",
)
@click.option(
    "--compare",
    nargs=2,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="A.yaml B.yaml",
    help="Run two configurations on the cases, side by side.",
)
@click.option(
    "--history",
    nargs=2,
    type=(int, click.Path(path_type=Path)),
    metavar="N PATH",
    help="Review the last N merged changes of the repository at PATH and write "
    "them as unlabelled cases (--out).",
)
@click.option(
    "--out",
    "out_path",
    default="flows-eval.yaml",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="--history: the cases file to write (cases already in it are kept).",
)
@click.option(
    "--by",
    type=click.Choice(["auto", "merges", "commits"]),
    default="auto",
    show_default=True,
    help="--history: merge commits, or single commits "
    "(squash-merged projects); auto picks merges when there are any.",
)
@click.option("--ref", default="HEAD", show_default=True, help="--history: the branch to read.")
@click.option(
    "--add-new",
    is_flag=True,
    help="Add what the reviews said that no item judges to CASES as unlabelled items.",
)
def eval_(
    cases_path: Path | None,
    config_path: Path,
    flow_name: str | None,
    json_out: Path | None,
    compare: tuple[Path, Path] | None,
    history: tuple[int, Path] | None,
    out_path: Path,
    by: str,
    ref: str,
    add_new: bool,
) -> None:
    """Measure review quality: review every case of CASES (a YAML file of
    local git ranges and what a good review of each must say) and print
    recall and precision of breaking changes and risks, by who found them,
    with findings dropped, tokens, model calls and time. With --history N
    PATH instead: review a repository's last N merged changes and write them
    as unlabelled cases to label. Exit status: 0 scored, 1 a case failed,
    2 bad input."""
    if history is not None:
        if cases_path is not None or compare:
            click.echo("error: --history writes --out; give no CASES or --compare", err=True)
            sys.exit(2)
        sys.exit(_history(history[0], history[1], out_path, by, ref, config_path, flow_name))
    if cases_path is None:
        click.echo("error: give a CASES file (or --history N PATH to write one)", err=True)
        sys.exit(2)
    from flows.evaluate.cases import load_cases
    from flows.evaluate.evaluation import compare as side_by_side
    from flows.evaluate.evaluation import evaluate, render, render_compare
    from flows.evaluate.local import LocalReviewer

    configs = list(compare) if compare else [config_path]
    done = []
    try:
        cases = load_cases(cases_path)
        loaded = [(str(c), _load(c)) for c in configs]
        for name, cfg in loaded:
            if len(loaded) > 1:
                click.echo(f"{name}:", err=True)
            with LocalReviewer(cfg, flow_name) as reviewer:
                done.append(evaluate(cases_path, cases, reviewer, name, _case_progress(Reporter())))
    except FlowsError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    for ev in done:
        click.echo(render(ev))
    if len(done) == 2:
        click.echo(render_compare(*done), nl=False)
    if json_out is not None:
        data = side_by_side(*done) if len(done) == 2 else done[0].to_dict()
        json_out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {json_out}", err=True)
    if add_new:
        from flows.evaluate.cases import save_cases
        from flows.evaluate.history import add_new as add_items

        n = sum(add_items(cases, ev.cases) for ev in done)
        save_cases(cases_path, cases)
        click.echo(f"added {n} unlabelled item(s) to {cases_path}", err=True)
    failed = sum(len(ev.failed) for ev in done)
    if failed:
        click.echo(f"{failed} case(s) failed", err=True)
    sys.exit(1 if failed else 0)


def _history(
    n: int, path: Path, out: Path, by: str, ref: str, config_path: Path, flow_name: str | None
) -> int:
    from flows.capabilities.github.local import LocalRepository
    from flows.evaluate.cases import load_cases, save_cases
    from flows.evaluate.history import changes, merge_into, relative_repo, review_history
    from flows.evaluate.local import LocalReviewer

    cfg = _load(config_path)
    progress = Reporter()
    try:
        existing = load_cases(out) if out.exists() else None
        repo = LocalRepository.open(path)
        found = changes(repo, n, ref, by)
        with LocalReviewer(cfg, flow_name) as reviewer:
            reviewer.prepare()
            made, failures = review_history(
                reviewer,
                repo,
                found,
                relative_repo(repo, out),
                lambda i, total, change, why: progress(
                    Step("review", i - (why is None), total, change.name, why or "started")
                ),
            )
        cases, added = merge_into(existing, made)
        if cases.cases:
            save_cases(out, cases)
    except FlowsError as e:
        click.echo(f"error: {e}", err=True)
        return e.exit_code
    kept = len(cases.cases) - added
    click.echo(
        f"wrote {out}: {added} new case(s) from {len(found)} change(s), {kept} kept; "
        "mark each `label: unlabelled` true or false, then `flows eval "
        f"{out}`",
        err=True,
    )
    for line in failures:
        click.echo(f"failed: {line}", err=True)
    return 1 if failures else 0


def _service(cfg: AppConfig, migrate: bool | None = None):  # -> Service
    from flows.progress import Reporter
    from flows.server.service import Service

    _logging()
    start = time.perf_counter()
    try:
        service = Service(cfg)
        service.prepare(migrate, Reporter())
    except FlowsError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        _interrupted()
    flows = ", ".join(cfg.flows) or "no flows"
    click.echo(f"flows: {flows} built and linked in {time.perf_counter() - start:.1f} s", err=True)
    return service


def _logging() -> None:
    import logging

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the migrate steps say it


@main.command()
@CONFIG
@click.option("--host", help="Address to listen on (default: server.host).")
@click.option("--port", type=int, help="Port (default: server.port).")
@click.option("--workers", type=int, help="Worker threads (default: server.workers).")
def serve(config_path: Path, host: str | None, port: int | None, workers: int | None) -> None:
    """Webhook API plus in-process workers (migrates SQLite and builds flows first)."""
    import uvicorn

    from flows.server.http import create_app

    cfg = _load(config_path)
    service = _service(cfg)
    threads = cfg.server.workers if workers is None else workers
    app = create_app(service, threads)
    config = uvicorn.Config(
        app,
        host=host or cfg.server.host,
        port=port or cfg.server.port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=30,
    )
    _Server(config).run()


class _Server:
    """uvicorn's server, saying once it listens where to go."""

    def __new__(cls, config):  # type: ignore[no-untyped-def]
        import uvicorn

        class Server(uvicorn.Server):
            async def startup(self, sockets=None) -> None:  # type: ignore[no-untyped-def]
                await super().startup(sockets)
                if self.started:
                    host, port = self.config.host, self.config.port
                    if port == 0 and self.servers and self.servers[0].sockets:
                        port = self.servers[0].sockets[0].getsockname()[1]
                    shown = f"[{host}]" if ":" in host else host
                    url = f"http://{shown}:{port}"
                    click.echo(f"flows: ready on {url} (webhooks: {url}/webhooks/github; "
                               f"register the GitHub App: {url}/setup)", err=True)  # fmt: skip

        return Server(config)


@main.command()
@CONFIG
@click.option("--threads", type=int, help="Worker threads (default: server.workers).")
def worker(config_path: Path, threads: int | None) -> None:
    """Extra workers, without the HTTP API (run several against PostgreSQL)."""
    import signal
    import threading

    cfg = _load(config_path)
    service = _service(cfg)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    service.start_workers(max(1, cfg.server.workers if threads is None else threads))
    click.echo(f"flows worker: {len(service.pool.workers)} threads; Ctrl-C stops", err=True)
    stop.wait()
    service.stop_workers()


@main.command()
@CONFIG
def migrate(config_path: Path) -> None:
    """Upgrade the database to the newest schema (Alembic)."""
    from flows.db import get_engine
    from flows.db.migrate import current, upgrade
    from flows.progress import Reporter

    cfg = _load(config_path)
    engine = get_engine(cfg.database.url)
    try:
        before = current(engine)
        upgrade(engine, progress=Reporter())
    except Exception as e:
        click.echo(f"error: migration failed: {type(e).__name__}: {e}", err=True)
        sys.exit(2)
    after = current(engine)
    state = "already at" if before == after else f"upgraded from {before or 'empty'} to"
    click.echo(f"{engine.url.render_as_string(hide_password=True)}: {state} {after}")


@main.group()
def memory() -> None:
    """What flows remember about a repository: look, and forget."""


def _stores(config_path: Path):  # -> (MemoryStore, KnowledgeStore)
    from flows.capabilities.provider import Capabilities

    cfg = _load(config_path)
    try:
        caps = Capabilities(cfg)
        return caps.checked_memory_store(), caps.knowledge_store()
    except FlowsError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)


@memory.command("list")
@click.option("--repo", required=True, help="owner/name")
@click.option("--pr", type=int, help="Only this pull request's thread (0: long-term).")
@CONFIG
def memory_list(repo: str, pr: int | None, config_path: Path) -> None:
    """List what is remembered: keys, findings with maintainers' verdicts, and
    conventions and pull request history."""
    now = time.time()
    memory, knowledge = _stores(config_path)
    rows = memory.items(repo, pr)
    click.echo(f"keys ({len(rows)}):")
    for r in rows:
        where = "repo" if r.thread == 0 else f"#{r.thread}"
        expires = f"  expires in {(r.expires_at - now) / 86400:.1f} d" if r.expires_at else ""
        age = (now - r.updated_at) / 86400
        click.echo(f"  {where:<7} {r.key:<40} {r.size:>7} B  {age:5.1f} d old{expires}")
    if pr is not None:
        return
    found = knowledge.findings(repo)
    click.echo(f"findings ({len(found)}):")
    for f in found:
        why = f" ({f.reason})" if f.reason else ""
        click.echo(f"  {f.fingerprint:<20} {f.status:<9} #{f.pr_number} {f.rule} {f.path}{why}")
    entries = knowledge.entries(repo)
    click.echo(f"knowledge ({len(entries)}):")
    for k in entries:
        click.echo(f"  [{k.id}] {k.kind:<10} {k.ref:<16} {k.text[:70]}")


@memory.command("forget")
@click.option("--repo", required=True, help="owner/name")
@click.option("--pr", type=int, help="Only this pull request's thread (0: long-term).")
@click.option("--key", help="Only this key.")
@click.option("--finding", help="A finding's record (undoes a dismissal).")
@click.option("--knowledge", "knowledge_id", type=int, help="One convention or PR summary [id].")
@CONFIG
def memory_forget(
    repo: str,
    pr: int | None,
    key: str | None,
    finding: str | None,
    knowledge_id: int | None,
    config_path: Path,
) -> None:
    """Forget what is remembered: one key, a thread, a finding, one knowledge
    entry, or (with only --repo) everything about the repository."""
    memory, knowledge = _stores(config_path)
    if finding is not None or knowledge_id is not None:
        n = knowledge.forget(repo, finding=finding, knowledge_id=knowledge_id)
    else:
        n = memory.forget(repo, pr, key)
        if pr is None and key is None:
            n += knowledge.forget(repo, everything=True)
    click.echo(f"forgot {n} items")


@main.command()
def templates() -> None:
    """List the flow templates `flows new` can start from."""
    from flows.devtools.templates import list_templates

    for t in list_templates():
        needs = ", ".join(t.manifest.integrations) or "-"
        click.echo(f"{t.name:<15} {t.manifest.description}  [{needs}]")


@main.command()
@click.argument("template")
@click.argument("name")
@CONFIG
def new(template: str, name: str, config_path: Path) -> None:
    """Start flow NAME from TEMPLATE: copy it to functions/NAME, add it to app.yaml."""
    from flows.devtools.templates import next_steps, scaffold

    try:
        target = scaffold(template, name, config_path)
    except FlowsError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    click.echo(next_steps(name, target, config_path.resolve().parent))


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--template",
    "templates",
    multiple=True,
    help="A template to start from (repeatable; default: code-review; see `flows templates`).",
)
@click.option("--force", is_flag=True, help="Add to a folder that is not empty (never overwrites).")
def init(directory: Path, templates: tuple[str, ...], force: bool) -> None:
    """Make a project folder DIRECTORY: app.yaml, the templates in functions/,
    .gitignore and a README; then `flows serve` there."""
    from flows.devtools.project_folder import init_project, next_steps

    try:
        target = init_project(directory, list(templates), force)
    except FlowsError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    click.echo(next_steps(target, list(templates)))


@main.command()
@click.argument("flow")
@click.option(
    "--event",
    "event_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Event JSON (default: the flow's last delivery, else its first sample).",
)
@click.option("--interval", default=0.2, show_default=True, help="Seconds between looks.")
@click.option("--runs", type=int, hidden=True, help="Stop after this many runs (for tests).")
@CONFIG
def dev(
    flow: str, event_path: Path | None, interval: float, runs: int | None, config_path: Path
) -> None:
    """Run FLOW again whenever its code changes, on its last event (dry run).

    Development builds: compiled with the fast compiler, and an edit to a
    component's Python sources runs without a rebuild (they are read from
    disk); world.wit or requirements.txt changes rebuild."""
    from flows.devtools.watch import watch

    cfg = _load(config_path)
    try:
        watch(cfg, flow, event_path, click.echo, interval, runs, Reporter())
    except FlowsError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        pass


@main.group()
def config() -> None:
    """Check app.yaml, or print its JSON Schema for editors."""


@config.command("check")
@CONFIG
def config_check(config_path: Path) -> None:
    """Validate the whole app.yaml (keys, values, paths, each flow's settings)."""
    cfg = _load(config_path)
    for name, flow in cfg.flows.items():
        triggers = ", ".join(sorted(flow.on)) or "no events"
        click.echo(f"  {name:<16} {flow.function.name:<16} on {triggers}")
    click.echo(f"{config_path}: ok ({len(cfg.flows)} flows)")


@config.command("schema")
@CONFIG
def config_schema(config_path: Path) -> None:
    """Print app.yaml's JSON Schema, with each flow's settings schema where known."""
    from flows.project.config import json_schema

    click.echo(json.dumps(json_schema(config_path), indent=2))


if __name__ == "__main__":
    main()
