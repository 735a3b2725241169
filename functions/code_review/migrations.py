"""Schema changes that break users, read from the migrations a pull request
adds: as code, not lines.

Python migrations are parsed with `ast`: Django's `operations` (DeleteModel,
RemoveField, RenameField, RenameModel, AlterField that narrows a field,
RunSQL with a DROP) and Alembic's `upgrade()` (drop_table, drop_column,
rename_table, alter_column with new_column_name or nullable=False, the same
inside batch_alter_table, op.execute of SQL); `downgrade()` is never read.
SQL files are split into statements (comments, several statements a file,
quoted names; the down half of goose/dbmate/sql-migrate files and
`*.down.sql` are skipped). Only operations on lines the diff adds count.
Pure Python; host tests import it."""

import ast
import re
from collections.abc import Callable

from breaking import Breaking

_MIGRATION_PATH = re.compile(r"(^|/)(migrations?|alembic|versions|db/migrate)/|\.sql$", re.I)
_DOWN_MARK = re.compile(r"^\s*--\s*(\+goose\s+down|migrate:down|\+migrate\s+down)\b", re.I | re.M)
_NAME = r"(?:\"[^\"]+\"|`[^`]+`|\[[^\]]+\]|[\w$]+)(?:\.(?:\"[^\"]+\"|`[^`]+`|\[[^\]]+\]|[\w$]+))*"
_DROP = re.compile(
    rf"^DROP\s+(TABLE|VIEW|MATERIALIZED\s+VIEW)\s+(?:IF\s+EXISTS\s+)?((?:{_NAME})(?:\s*,\s*{_NAME})*)",
    re.I,
)
_ALTER = re.compile(
    rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?({_NAME})\s+(.*)$", re.I | re.S
)
_RENAME_TABLE = re.compile(rf"^RENAME\s+TABLE\s+({_NAME})\s+TO\s+({_NAME})", re.I)
_DROP_COLUMN = re.compile(rf"^DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?({_NAME})", re.I)
_NOT_COLUMN = re.compile(r"^DROP\s+(CONSTRAINT|INDEX|KEY|PRIMARY|FOREIGN|DEFAULT|CHECK)\b", re.I)
_RENAME_COLUMN = re.compile(rf"^RENAME\s+(?:COLUMN\s+)?({_NAME})\s+TO\s+({_NAME})", re.I)
_RENAME_TO = re.compile(rf"^RENAME\s+TO\s+({_NAME})", re.I)
_SET_NOT_NULL = re.compile(rf"^ALTER\s+(?:COLUMN\s+)?({_NAME})\s+SET\s+NOT\s+NULL", re.I)
_CHANGE = re.compile(rf"^CHANGE\s+(?:COLUMN\s+)?({_NAME})\s+({_NAME})", re.I)
# Django field classes a value can move to without loss
_WIDER = {
    ("CharField", "TextField"),
    ("SmallIntegerField", "IntegerField"),
    ("SmallIntegerField", "BigIntegerField"),
    ("IntegerField", "BigIntegerField"),
    ("PositiveSmallIntegerField", "PositiveIntegerField"),
    ("PositiveIntegerField", "PositiveBigIntegerField"),
    ("AutoField", "BigAutoField"),
    ("SlugField", "CharField"),
    ("EmailField", "CharField"),
}


def is_migration(path: str) -> bool:
    return bool(_MIGRATION_PATH.search(path))


def _unquote(name: str) -> str:
    return ".".join(p.strip('"`[]') for p in re.findall(r'"[^"]+"|`[^`]+`|\[[^\]]+\]|[\w$]+', name))


def statements(sql: str) -> list[tuple[int, int, str]]:
    """SQL text as (first line, last line, statement), comments removed."""
    out, buf, start, line = [], [], None, 1
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
            continue
        if c == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += sql.count("\n", i, j)
            buf.append(" ")
            i = j
            continue
        if c in "'\"`":
            j = i + 1
            while j < n and sql[j] != c:
                j += 2 if sql[j] == "\\" else 1
            j = min(j + 1, n)
            if start is None:
                start = line
            line += sql.count("\n", i, j)
            buf.append(sql[i:j])
            i = j
            continue
        if c == ";":
            text = " ".join("".join(buf).split())
            if text:
                out.append((start or line, line, text))
            buf, start = [], None
        else:
            if not c.isspace() and start is None:
                start = line
            buf.append(c)
        if c == "\n":
            line += 1
        i += 1
    text = " ".join("".join(buf).split())
    if text:
        out.append((start or line, line, text))
    return out


def _split_actions(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for c in text:
        depth += (c == "(") - (c == ")")
        if c == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def _every(_start: int, _end: int) -> bool:
    return True


def sql_changes(path: str, sql: str, keep: Callable = _every) -> list[Breaking]:
    """Dropped and renamed tables, views and columns in SQL text, from the
    statements `keep(first_line, last_line)` accepts."""
    out = []
    for line, end, st in statements(sql):
        if not keep(line, end):
            continue
        m = _DROP.match(st)
        if m:
            what = "view" if "VIEW" in m.group(1).upper() else "table"
            for name in re.split(r"\s*,\s*", m.group(2)):
                t = _unquote(name)
                out.append(Breaking(path, line, t, f"{what}-dropped", f"{what} {t} is dropped"))
            continue
        m = _RENAME_TABLE.match(st)
        if m:
            a, b = _unquote(m.group(1)), _unquote(m.group(2))
            out.append(Breaking(path, line, a, "table-renamed", f"table {a} is renamed to {b}"))
            continue
        m = _ALTER.match(st)
        if not m:
            continue
        table = _unquote(m.group(1))
        for action in _split_actions(m.group(2)):
            out += _alter_action(path, line, table, action)
    return out


def _col(path: str, line: int, table: str, col: str, kind: str, what: str) -> Breaking:
    return Breaking(path, line, f"{table}.{col}", kind, f"column {col} of table {table} {what}")


def _alter_action(path: str, line: int, table: str, action: str) -> list[Breaking]:
    if _NOT_COLUMN.match(action):
        return []
    m = _DROP_COLUMN.match(action)
    if m:
        c = _unquote(m.group(1))
        return [_col(path, line, table, c, "column-dropped", "is dropped")]
    m = _RENAME_TO.match(action)
    if m:
        b = _unquote(m.group(1))
        return [Breaking(path, line, table, "table-renamed", f"table {table} is renamed to {b}")]
    m = _RENAME_COLUMN.match(action)
    if m:
        a, b = _unquote(m.group(1)), _unquote(m.group(2))
        return [_col(path, line, table, a, "column-renamed", f"is renamed to {b}")]
    m = _CHANGE.match(action)
    if m and _unquote(m.group(1)) != _unquote(m.group(2)):
        a, b = _unquote(m.group(1)), _unquote(m.group(2))
        return [_col(path, line, table, a, "column-renamed", f"is renamed to {b}")]
    m = _SET_NOT_NULL.match(action)
    if m:
        c = _unquote(m.group(1))
        return [_col(path, line, table, c, "column-narrowed", "becomes NOT NULL")]
    return []


# -- Python migrations -------------------------------------------------------------


def _consts(tree: ast.Module) -> dict[str, str]:
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for t in node.targets:
                if isinstance(t, ast.Name) and isinstance(node.value.value, str):
                    out[t.id] = node.value.value
    return out


class _Args:
    """A call's arguments by position or keyword, string constants resolved."""

    def __init__(self, call: ast.Call, consts: dict[str, str]):
        self.call, self.consts = call, consts

    def node(self, pos: int | None, key: str):
        for k in self.call.keywords:
            if k.arg == key:
                return k.value
        if pos is not None and pos < len(self.call.args):
            return self.call.args[pos]
        return None

    def str(self, pos: int | None, key: str) -> str | None:
        v = self.node(pos, key)
        if isinstance(v, ast.Constant) and isinstance(v.value, str):
            return v.value
        if isinstance(v, ast.Name):
            return self.consts.get(v.id)
        return None

    def const(self, key: str):
        v = self.node(None, key)
        return v.value if isinstance(v, ast.Constant) else None


def _call_name(call: ast.Call) -> tuple[str, str]:
    """`op.drop_table(...)` -> ("op", "drop_table"); `RemoveField(...)` -> ("", "RemoveField")."""
    f = call.func
    if isinstance(f, ast.Attribute):
        base = f.value
        owner = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
        return owner, f.attr
    if isinstance(f, ast.Name):
        return "", f.id
    return "", ""


def _sql_of(node, consts: dict[str, str]) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and node.id in consts:
        return [consts[node.id]]
    if isinstance(node, ast.List | ast.Tuple):
        return [s for e in node.elts for s in _sql_of(e, consts)]
    if isinstance(node, ast.Call) and _call_name(node)[1] == "text" and node.args:
        return _sql_of(node.args[0], consts)
    return []


def _alembic(path: str, fn: ast.FunctionDef, consts: dict, keep: Callable) -> list[Breaking]:
    out = []
    batch: dict[str, str] = {}  # `with op.batch_alter_table("t") as batch_op` -> t
    for node in ast.walk(fn):
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                c = item.context_expr
                if isinstance(c, ast.Call) and _call_name(c)[1] == "batch_alter_table":
                    t = _Args(c, consts).str(0, "table_name")
                    if t and isinstance(item.optional_vars, ast.Name):
                        batch[item.optional_vars.id] = t
    for node in ast.walk(fn):
        if not isinstance(node, ast.Call) or not keep(node.lineno, node.end_lineno):
            continue
        owner, name = _call_name(node)
        a = _Args(node, consts)
        line = node.lineno
        if owner in batch:  # batch_op.drop_column("c"): the table is the batch's
            table, col_pos = batch[owner], 0
        elif owner == "op":
            table, col_pos = a.str(0, "table_name"), 1
        else:
            continue
        if name == "drop_table" and owner == "op" and table:
            out.append(Breaking(path, line, table, "table-dropped", f"table {table} is dropped"))
        elif name == "rename_table" and owner == "op":
            old, new = a.str(0, "old_table_name"), a.str(1, "new_table_name")
            if old:
                out.append(
                    Breaking(
                        path, line, old, "table-renamed", f"table {old} is renamed to {new or '?'}"
                    )
                )
        elif name == "drop_column":
            col = a.str(col_pos, "column_name")
            if table and col:
                out.append(_col(path, line, table, col, "column-dropped", "is dropped"))
        elif name == "alter_column":
            col = a.str(col_pos, "column_name")
            if not (table and col):
                continue
            renamed = a.str(None, "new_column_name")
            if renamed and renamed != col:
                out.append(
                    _col(path, line, table, col, "column-renamed", f"is renamed to {renamed}")
                )
            if a.const("nullable") is False and a.const("existing_nullable") is not False:
                out.append(_col(path, line, table, col, "column-narrowed", "becomes NOT NULL"))
        elif name == "execute" and owner == "op" and node.args:
            for sql in _sql_of(node.args[0], consts):
                out += [_at(b, line) for b in sql_changes(path, sql)]
    return out


def _at(b: Breaking, line: int) -> Breaking:
    b.line = line
    return b


def _field_call(node) -> tuple[str, dict] | None:
    """`models.CharField(max_length=20, null=True)` -> ("CharField", {...})."""
    if not isinstance(node, ast.Call):
        return None
    kind = _call_name(node)[1]
    opts = {}
    for k in node.keywords:
        if k.arg and isinstance(k.value, ast.Constant):
            opts[k.arg] = k.value.value
    return kind, opts


def narrows(old: tuple[str, dict], new: tuple[str, dict]) -> str | None:
    """Why a field change can fail on or lose existing data, or None."""
    (ok, oo), (nk, no) = old, new
    if ok != nk and (ok, nk) not in _WIDER:
        return f"its type changes from {ok} to {nk}"
    for key in ("max_length", "max_digits", "decimal_places"):
        if isinstance(oo.get(key), int) and isinstance(no.get(key), int) and no[key] < oo[key]:
            return f"{key} shrinks from {oo[key]} to {no[key]}"
    if oo.get("null") is True and no.get("null") is not True:
        return "it no longer allows NULL"
    return None


def _django(
    path: str, ops: list, consts: dict[str, str], old_field: Callable | None, keep: Callable
) -> list[Breaking]:
    out = []
    for node in ops:
        if not isinstance(node, ast.Call) or not keep(node.lineno, node.end_lineno):
            continue
        name = _call_name(node)[1]
        a, line = _Args(node, consts), node.lineno
        model = a.str(0, "model_name")
        if name == "RemoveField":
            field = a.str(1, "name")
            if model and field:
                out.append(
                    Breaking(
                        path,
                        line,
                        f"{model}.{field}",
                        "column-dropped",
                        f"field {field} of model {model} is removed",
                    )
                )
        elif name == "DeleteModel":
            m = a.str(0, "name")
            if m:
                out.append(Breaking(path, line, m, "table-dropped", f"model {m} is deleted"))
        elif name == "RenameField":
            old, new = a.str(1, "old_name"), a.str(2, "new_name")
            if model and old:
                out.append(
                    Breaking(
                        path,
                        line,
                        f"{model}.{old}",
                        "column-renamed",
                        f"field {old} of model {model} is renamed to {new or '?'}",
                    )
                )
        elif name == "RenameModel":
            old, new = a.str(0, "old_name"), a.str(1, "new_name")
            if old:
                out.append(
                    Breaking(
                        path, line, old, "table-renamed", f"model {old} is renamed to {new or '?'}"
                    )
                )
        elif name == "AlterField":
            field = a.str(1, "name")
            new = _field_call(a.node(2, "field"))
            before = old_field(model, field) if old_field and model and field else None
            why = narrows(before, new) if before and new else None
            if why:
                out.append(
                    Breaking(
                        path,
                        line,
                        f"{model}.{field}",
                        "column-narrowed",
                        f"field {field} of model {model}: {why}",
                    )
                )
        elif name == "RunSQL":
            for sql in _sql_of(a.node(0, "sql"), consts):
                out += [_at(b, line) for b in sql_changes(path, sql)]
    return out


def python_changes(
    path: str, source: str, old_field: Callable | None = None, keep: Callable = _every
) -> list[Breaking]:
    """Breaking schema operations in one Python migration, from the calls
    `keep(first_line, last_line)` accepts. Raises SyntaxError."""
    tree = ast.parse(source, filename=path)
    consts = _consts(tree)
    out = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and (
            node.name == "upgrade" or node.name.startswith("upgrade_")
        ):
            out += _alembic(path, node, consts, keep)
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "operations" for t in sub.targets
                ):
                    ops = sub.value.elts if isinstance(sub.value, ast.List | ast.Tuple) else []
                    out += _django(path, ops, consts, old_field, keep)
    return out


def model_field(models_source: str, model: str, field: str) -> tuple[str, dict] | None:
    """A field's definition in a Django models.py: `field = models.X(...)`
    in the class named like `model` (case-insensitive)."""
    try:
        tree = ast.parse(models_source)
    except (SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.lower() == model.lower():
            for sub in node.body:
                if isinstance(sub, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == field for t in sub.targets
                ):
                    return _field_call(sub.value)
    return None


def is_down(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return name.endswith((".down.sql", "_down.sql")) or name == "down.sql"


def changes(
    path: str, source: str, added: set[int], old_field: Callable | None = None
) -> list[Breaking]:
    """The breaking schema changes a migration's added lines make (an
    operation counts when any of its lines is added). Raises SyntaxError for
    a Python migration that does not parse."""

    def keep(first: int, last: int | None) -> bool:
        return any(n in added for n in range(first, (last or first) + 1))

    if path.endswith(".py"):
        return sorted(python_changes(path, source, old_field, keep), key=lambda b: b.line or 0)
    if not path.lower().endswith(".sql") or is_down(path):
        return []
    m = _DOWN_MARK.search(source)
    return sql_changes(path, source[: m.start()] if m else source, keep)
