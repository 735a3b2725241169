"""Deterministic breaking-change detection, run inside the sandbox.

Python: griffe compares the public API of the base and head versions of a
module (removed objects, removed, moved or newly required parameters, changed
kinds, ...). Schema migrations: dropped tables and columns in SQL files and
Alembic/Django migrations, from the lines a diff adds. Pure Python; the
code-review flow calls it and host tests import it directly.
"""

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

import griffe  # at import: a component has no files to import from at run time

_DROP_SQL = re.compile(
    r"\bDROP\s+(TABLE|COLUMN|INDEX|VIEW|TYPE)\s+(?:IF\s+EXISTS\s+)?([\w.\"`\[\]]+)", re.I
)
_ALTER_DROP = re.compile(
    r"\bALTER\s+TABLE\s+([\w.\"`\[\]]+)\s+DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?([\w\"`\[\]]+)",
    re.I,
)
_RENAME_SQL = re.compile(r"\bRENAME\s+(?:COLUMN\s+|TO\s+)", re.I)
_OPS = re.compile(
    r"\bop\.(drop_table|drop_column|rename_table|alter_column)\(\s*['\"]([\w.]+)['\"]"
    r"(?:\s*,\s*['\"]([\w.]+)['\"])?"
)
_DJANGO = re.compile(r"migrations\.(DeleteModel|RemoveField|RenameField|RenameModel)\(([^)]*)")
_MIGRATION_PATH = re.compile(r"(^|/)(migrations?|alembic|versions|db/migrate)/|\.sql$", re.I)


@dataclass
class Breaking:
    path: str
    line: int | None
    symbol: str
    kind: str
    detail: str


def module_name(path: str) -> str:
    """The import name of a Python file: src/pkg/mod.py -> pkg.mod."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(p.replace("-", "_") for p in parts) or "module"


def _param(value) -> str:
    name = getattr(value, "name", None)
    return str(name if name is not None else value)


def python_changes(
    path: str, old: str | None, new: str | None
) -> tuple[list[Breaking], str | None]:
    """Breaking changes of one Python file's public API, and why it could not
    be compared (a syntax error), if that is so. `old`/`new` None: absent."""
    if old is None:
        return [], None  # a new file breaks nothing
    name = module_name(path)
    if new is None:
        return [Breaking(path, None, name, "module-removed", f"module {name} was removed")], None
    try:
        before = griffe.visit(name, filepath=PurePosixPath(path), code=old)
        after = griffe.visit(name, filepath=PurePosixPath(path), code=new)
    except SyntaxError as e:
        return (
            [],
            f"{path}: not valid Python ({e.msg}, line {e.lineno}), so its API was not compared",
        )
    found = []
    for b in griffe.find_breaking_changes(before, after):
        symbol = b.obj.path.removeprefix(name + ".")
        kind = b.kind.name.lower().replace("_", "-")
        detail = b.kind.value
        if "parameter" in kind:
            which = _param(b.new_value if kind == "parameter-added-required" else b.old_value)
            detail = f"{b.kind.value}: {which}"
        line = getattr(b.obj, "lineno", None)
        found.append(Breaking(path, line, symbol, kind, detail))
    return found, None


def is_migration(path: str) -> bool:
    return bool(_MIGRATION_PATH.search(path))


def schema_changes(path: str, added_lines: list[tuple[int, str]]) -> list[Breaking]:
    """Dropped or renamed tables and columns in the lines a migration adds."""
    found = []
    for line_no, text in added_lines:
        for m in _ALTER_DROP.finditer(text):
            table, column = m.group(1).strip('"`[]'), m.group(2).strip('"`[]')
            found.append(
                Breaking(
                    path,
                    line_no,
                    f"{table}.{column}",
                    "column-dropped",
                    f"column {column} of table {table} is dropped",
                )
            )
        if not _ALTER_DROP.search(text):
            for m in _DROP_SQL.finditer(text):
                what, name = m.group(1).lower(), m.group(2).strip('"`[]')
                found.append(
                    Breaking(path, line_no, name, f"{what}-dropped", f"{what} {name} is dropped")
                )
        if _RENAME_SQL.search(text) and "ALTER" in text.upper():
            found.append(
                Breaking(
                    path, line_no, text.strip()[:80], "renamed", "a table or column is renamed"
                )
            )
        for m in _OPS.finditer(text):
            op, table, column = m.group(1), m.group(2), m.group(3)
            if (
                op == "alter_column"
                and "new_column_name" not in text
                and "nullable=False" not in text
            ):
                continue
            symbol = f"{table}.{column}" if column else table
            found.append(
                Breaking(path, line_no, symbol, op.replace("_", "-"), f"op.{op} on {symbol}")
            )
        for m in _DJANGO.finditer(text):
            found.append(
                Breaking(
                    path,
                    line_no,
                    m.group(2).strip()[:80],
                    m.group(1).lower(),
                    f"migrations.{m.group(1)}",
                )
            )
    return found
