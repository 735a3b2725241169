"""Database access: engines for SQLite (WAL, single writer) and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

_engines: dict[str, Engine] = {}
_writers: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def insert(engine: Engine) -> Callable[..., Any]:
    """The dialect's INSERT, which has `on_conflict_do_nothing/do_update`."""
    return sqlite_insert if is_sqlite(engine) else pg_insert


def make_engine(url: str) -> Engine:
    """A new engine. SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE`, so
    every transaction is a single writer and threads and processes queue up
    instead of failing with "database is locked"."""
    if url.startswith("sqlite"):
        _create_private(make_url(url).database)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        # threads of this process take turns here instead of polling SQLite's busy lock
        _writers[engine] = threading.Lock()
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _create_private(path: str | None) -> None:
    """Create a new SQLite file readable by its owner only (it holds payloads,
    reports and memory); SQLite gives its -wal and -shm files the same mode."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def get_engine(url: str) -> Engine:
    """One shared engine per URL in this process."""
    with _lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in a transaction, committed at the end (rolled back on error).
    On SQLite, this process's threads enter one at a time."""
    engine = factory.kw["bind"]
    lock = _writers.get(engine) or contextlib.nullcontext()
    with lock, factory() as session, session.begin():
        yield session
