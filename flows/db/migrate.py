"""Alembic migrations (the built-in migrations/ folder)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from flows import builtin
from flows.errors import FlowsError

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


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to `revision` (default: the newest)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


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


def ensure_schema(engine: Engine, auto: bool) -> None:
    """Migrate (when `auto`) or check that the schema is current."""
    if auto:
        upgrade(engine)
        return
    have, want = current(engine), head()
    if have != want:
        raise FlowsError(
            f"the database is at migration {have or 'none'}, this version needs {want}: "
            "run `flows migrate --config app.yaml` first"
        )
