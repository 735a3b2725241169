"""Alembic migrations (the built-in migrations/ folder)."""

from __future__ import annotations

import time

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from flows import builtin
from flows.errors import FlowsError
from flows.progress import Phase, Progress, quiet

MIGRATIONS = builtin.folder("migrations")


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    """What the autogenerate comparison looks at: not the text-search objects
    the migrations make by hand (SQLite FTS5 tables, a PostgreSQL GIN index)."""
    return not (name or "").startswith(("knowledge_fts", "ix_knowledge_fts"))


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def pending(engine: Engine, revision: str = "head") -> list[tuple[str, str]]:
    """(revision, what it does) of each migration an upgrade to `revision`
    would apply, oldest first."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    have = current(engine)
    target = script.get_revision(revision)
    if target is None or have == target.revision:
        return []
    steps = reversed(list(script.iterate_revisions(target.revision, have)))
    return [(r.revision, r.doc or "") for r in steps]


def upgrade(engine: Engine, revision: str = "head", progress: Progress = quiet) -> None:
    """Upgrade the database to `revision` (default: the newest), one
    migration at a time, each in its own transaction."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    steps = pending(engine, revision)
    phase = Phase("migrate", len(steps), progress)
    for rev, doc in steps:
        name = f"{rev} {doc}".strip()
        phase.started(name)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, rev)
        phase.finished(name, "applied", time.perf_counter() - t0)


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def head() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_schema(engine: Engine, auto: bool, progress: Progress = quiet) -> None:
    """Migrate (when `auto`) or check that the schema is current."""
    if auto:
        upgrade(engine, progress=progress)
        return
    have, want = current(engine), head()
    if have != want:
        raise FlowsError(
            f"the database is at migration {have or 'none'}, this version needs {want}: "
            "run `flows migrate --config app.yaml` first"
        )
