"""Alembic migrations agree with the models and round-trip on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from flows.db import get_engine
from flows.db.migrate import (
    current,
    downgrade,
    ensure_schema,
    head,
    include_object,
    pending,
    upgrade,
)
from flows.db.models import Base
from flows.errors import FlowsError
from flows.progress import Step

TABLES = {"installations", "repositories", "deliveries", "jobs", "runs", "memory", "findings",
          "knowledge"}  # fmt: skip


def test_upgrade_matches_the_models_and_downgrades_cleanly(db_url):
    engine = get_engine(db_url)
    assert current(engine) is None
    upgrade(engine)
    assert current(engine) == head()
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) & TABLES == set()
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_a_database_behind_the_code_is_refused_unless_migrating(db_url):
    engine = get_engine(db_url)
    with pytest.raises(FlowsError, match="flows migrate"):
        ensure_schema(engine, auto=False)
    ensure_schema(engine, auto=True)
    ensure_schema(engine, auto=False)


def test_a_new_sqlite_file_is_readable_by_its_owner_only(tmp_path):
    import stat

    from flows.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path}/private.db")
    upgrade(engine)
    for name in ("private.db", "private.db-wal"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    engine.dispose()


def test_upgrade_reports_each_pending_migration_in_order(db_url):
    engine = get_engine(db_url)
    todo = pending(engine)
    assert todo[0][0] == "0001" and todo[-1][0] == head()
    assert all(doc for _, doc in todo)  # each says what it does
    steps: list[Step] = []
    upgrade(engine, progress=steps.append)
    done = [s for s in steps if s.finished]
    assert [s.done for s in done] == list(range(1, len(todo) + 1))
    assert all(s.phase == "migrate" and s.total == len(todo) for s in steps)
    assert [s.name.split()[0] for s in done] == [rev for rev, _ in todo]
    assert pending(engine) == []
    steps.clear()
    upgrade(engine, progress=steps.append)
    assert steps == []  # a current database has nothing to report
