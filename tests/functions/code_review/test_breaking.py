"""Deterministic breaking-change detection of the code-review function."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[3] / "functions" / "code_review"))
import breaking

OLD = """
def parse(text, strict=False):
    return text

def removed(x):
    return x

def _private_helper():
    pass

class Client:
    def get(self, url, timeout=10):
        return url

    def close(self):
        pass
"""
NEW = """
def parse(text, mode, strict=False):
    return text

class Client:
    def get(self, url):
        return url
"""


def kinds(found):
    return sorted((b.symbol, b.kind) for b in found)


def test_python_api_breaks_are_found_exactly():
    found, note = breaking.python_changes("src/pkg/api.py", OLD, NEW)
    assert note is None
    assert kinds(found) == [
        ("Client.close", "object-removed"),
        ("Client.get", "parameter-removed"),
        ("parse", "parameter-added-required"),
        ("parse", "parameter-moved"),
        ("removed", "object-removed"),
    ]
    by = {(b.symbol, b.kind): b for b in found}
    assert by[("Client.get", "parameter-removed")].detail == "Parameter was removed: timeout"
    assert by[("parse", "parameter-added-required")].detail.endswith(": mode")
    assert all(b.path == "src/pkg/api.py" and b.line for b in found)


def test_compatible_changes_break_nothing():
    compatible = OLD.replace("def removed(x):", "def removed(x, y=None):") + "\ndef new(): pass\n"
    assert breaking.python_changes("pkg/api.py", OLD, compatible) == ([], None)
    assert breaking.python_changes("pkg/new.py", None, NEW) == ([], None)


def test_a_deleted_module_and_a_file_that_is_not_python():
    found, _ = breaking.python_changes("pkg/gone.py", OLD, None)
    assert kinds(found) == [("pkg.gone", "module-removed")]
    found, note = breaking.python_changes("pkg/api.py", OLD, "def broken(:\n")
    assert found == [] and "not valid Python" in note and "line 1" in note


@pytest.mark.parametrize(
    ("path", "name"),
    [("src/pkg/mod.py", "pkg.mod"), ("pkg/__init__.py", "pkg"), ("tool.py", "tool"),
     ("my-pkg/a.py", "my_pkg.a")],
)  # fmt: skip
def test_module_names(path, name):
    assert breaking.module_name(path) == name


def test_dropped_tables_and_columns_in_migrations():
    lines = [
        (3, "DROP TABLE IF EXISTS legacy_users;"),
        (4, 'ALTER TABLE "orders" DROP COLUMN discount;'),
        (5, "    op.drop_table('sessions')"),
        (6, "    op.drop_column('users', 'nickname')"),
        (7, "    op.add_column('users', sa.Column('age', sa.Integer()))"),
        (8, "        migrations.RemoveField(model_name='user', name='nickname'),"),
        (9, "SELECT 1; -- nothing dropped here"),
    ]
    found = breaking.schema_changes("migrations/versions/0007_x.py", lines)
    assert [(b.line, b.kind, b.symbol) for b in found] == [
        (3, "table-dropped", "legacy_users"),
        (4, "column-dropped", "orders.discount"),
        (5, "drop-table", "sessions"),
        (6, "drop-column", "users.nickname"),
        (8, "removefield", "model_name='user', name='nickname'"),
    ]
    assert breaking.is_migration("db/migrate/20240101_drop.rb")
    assert breaking.is_migration("alembic/versions/abc.py") and breaking.is_migration("x/y.sql")
    assert not breaking.is_migration("app/models.py")
