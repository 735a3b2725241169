"""The public API of a Python package at one commit: what an importer can
reach, and where each public name is defined.

A public module is one whose dotted path has no `_private` part. What it
exports: `__all__` when it is a literal; otherwise its public definitions,
the names an `__init__.py` imports from inside its own package, `import x
as x` re-exports, star imports from the package, and the names its
module-level `__getattr__` serves (a dict of deprecated names, `name ==
"..."`, `match`). Each export is followed through re-exports to the
module that defines it, so a class defined in `pkg/_client.py` and
re-exported by `pkg/__init__.py` is `pkg.Client`. Keywords a function reads
from its `**kwargs` are part of its signature too. Only the modules a
review needs are read. Pure Python; host tests import it."""

import ast
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import griffe  # at import: a component has no files to import from at run time

PYTHON = "{}.{}".format(*sys.version_info[:2])  # the parser's version (the guest's Python)
MAX_DEPTH = 12  # re-export hops followed before giving up (a cycle, or a very deep chain)


class NotComparable(Exception):
    """A module whose API cannot be read (not valid Python, not text)."""


@dataclass
class Module:
    name: str
    path: str
    tree: ast.Module
    source: str
    is_package: bool
    all: list[str] | None = None  # a literal __all__
    defs: dict[str, int] = field(default_factory=dict)  # top-level name -> line
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (module, attr)
    redundant: set[str] = field(default_factory=set)  # `import x as x` style re-exports
    stars: list[str] = field(default_factory=list)  # modules imported with *
    dynamic: dict[str, int] = field(default_factory=dict)  # served by __getattr__ -> line
    opaque_getattr: bool = False  # a __getattr__ that may serve any name
    _griffe: object = None
    _functions: dict | None = None
    _lines: list | None = None

    def functions(self) -> dict:
        if self._functions is None:
            self._functions = functions(self.tree)
        return self._functions

    def segment(self, node) -> str:
        """The source text of a node (lines split once per module)."""
        if self._lines is None:
            self._lines = self.source.splitlines()
        end = getattr(node, "end_lineno", None) or node.lineno
        return "\n".join(self._lines[node.lineno - 1 : end])


@dataclass
class Export:
    """A public name and the definition behind it (module None: not followed)."""

    public: str
    module: str | None
    name: str
    dynamic: bool = False
    line: int | None = None


def _literal_strings(node) -> list[str] | None:
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        out = []
        for e in node.elts:
            if not (isinstance(e, ast.Constant) and isinstance(e.value, str)):
                return None
            out.append(e.value)
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal_strings(node.left), _literal_strings(node.right)
        return None if left is None or right is None else left + right
    return None


def _keys(node) -> list[str]:
    """String keys of a dict literal, or items of a literal list/tuple/set."""
    if isinstance(node, ast.Dict):
        keys = [k for k in node.keys if isinstance(k, ast.Constant)]
        return [k.value for k in keys if isinstance(k.value, str)]
    return _literal_strings(node) or []


def absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    """`from ..x import y` inside `module` -> the module it names."""
    if level == 0:
        return target or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*parts, *([target] if target else [])])


def _getattr_names(fn: ast.FunctionDef, literals: dict[str, ast.expr]) -> tuple[dict, bool]:
    """The names a module-level __getattr__ serves, and whether it may serve
    others we cannot list (it found none of the known patterns)."""
    if not fn.args.args:
        return {}, True
    param, names = fn.args.args[0].arg, {}

    def add(values, line):
        for v in values:
            names.setdefault(v, line)

    for node in ast.walk(fn):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name):
            if node.left.id != param:
                continue
            for op, right in zip(node.ops, node.comparators, strict=False):
                if isinstance(op, ast.Eq) and isinstance(right, ast.Constant):
                    if isinstance(right.value, str):
                        add([right.value], node.lineno)
                elif isinstance(op, ast.In):
                    if isinstance(right, ast.Name) and right.id in literals:
                        add(_keys(literals[right.id]), literals[right.id].lineno)
                    else:
                        add(_keys(right), node.lineno)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and isinstance(node.slice, ast.Name)
            and node.slice.id == param
            and node.value.id in literals
        ):
            add(_keys(literals[node.value.id]), literals[node.value.id].lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = node.func.value
            if (
                node.func.attr in ("get", "pop")
                and isinstance(base, ast.Name)
                and base.id in literals
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == param
            ):
                add(_keys(literals[base.id]), literals[base.id].lineno)
        elif (
            isinstance(node, ast.Match)
            and isinstance(node.subject, ast.Name)
            and node.subject.id == param
        ):
            for case in node.cases:
                for p in ast.walk(case.pattern):
                    value = getattr(p, "value", None) if isinstance(p, ast.MatchValue) else None
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        add([value.value], case.pattern.lineno)
    return names, not names


def parse_module(name: str, path: str, source: str) -> Module:
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        raise NotComparable(
            f"not valid Python {PYTHON} ({e.msg}, line {e.lineno}); if it is newer syntax, "
            "a newer Python may accept it"
        ) from None
    except (ValueError, RecursionError) as e:  # NUL bytes, absurd nesting
        raise NotComparable(f"cannot be parsed ({type(e).__name__})") from None
    m = Module(name, path, tree, source, path.endswith("__init__.py"))
    literals: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            m.defs[node.name] = node.lineno
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        m.defs.setdefault(n.id, node.lineno)
                        if node.value is not None:
                            literals[n.id] = node.value
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                values = _literal_strings(node.value) if node.value is not None else None
                if isinstance(node, ast.AugAssign) and m.all is not None and values:
                    m.all = m.all + values
                elif not isinstance(node, ast.AugAssign):
                    m.all = values
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            f = node.value.func  # __all__.extend([...]) / __all__.append("x")
            if (
                isinstance(f, ast.Attribute)
                and isinstance(f.value, ast.Name)
                and f.value.id == "__all__"
                and m.all is not None
                and node.value.args
            ):
                arg = node.value.args[0]
                if f.attr == "extend":
                    m.all = m.all + (_literal_strings(arg) or [])
                elif f.attr == "append" and isinstance(arg, ast.Constant):
                    m.all = [*m.all, str(arg.value)]
        elif isinstance(node, ast.ImportFrom):
            src = absolute(name, m.is_package, node.level, node.module)
            for a in node.names:
                if a.name == "*":
                    m.stars.append(src)
                    continue
                local = a.asname or a.name
                m.imports[local] = (src, a.name)
                if a.asname == a.name:
                    m.redundant.add(local)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    m.imports[a.asname] = (a.name, "")
                    if a.asname == a.name.rsplit(".", 1)[-1]:
                        m.redundant.add(a.asname)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            m.dynamic, m.opaque_getattr = _getattr_names(node, literals)
    return m


def kwargs_keywords(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, int]:
    """The keywords a function reads from its `**kwargs`: pop, get,
    setdefault, subscript, `in`."""
    if fn.args.kwarg is None:
        return {}
    kw, found = fn.args.kwarg.arg, {}
    for node in ast.walk(fn):
        key = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            f = node.func
            if (
                f.attr in ("pop", "get", "setdefault")
                and isinstance(f.value, ast.Name)
                and f.value.id == kw
                and node.args
            ):
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            if node.value.id == kw:
                key = node.slice
        elif isinstance(node, ast.Compare) and len(node.ops) == 1:
            right = node.comparators[0]
            if (
                isinstance(node.ops[0], ast.In | ast.NotIn)
                and isinstance(right, ast.Name)
                and right.id == kw
            ):
                key = node.left
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            found.setdefault(key.value, node.lineno)
    return found


def hands_on_kwargs(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the function lets its kwargs dict go anywhere but its own
    reads (pop, get, subscript, `in`, a truth test, an error message): passed
    on, forwarded with `**`, stored or returned. A keyword may then be
    handled elsewhere, so its removal is not judged."""
    if fn.args.kwarg is None:
        return False
    kw = fn.args.kwarg.arg
    parents = {id(c): p for p in ast.walk(fn) for c in ast.iter_child_nodes(p)}
    for node in ast.walk(fn):
        if not (isinstance(node, ast.Name) and node.id == kw and isinstance(node.ctx, ast.Load)):
            continue
        up = parents.get(id(node))
        if isinstance(up, ast.Attribute) and up.attr in ("pop", "get", "setdefault", "keys"):
            continue
        if isinstance(up, ast.Subscript) and up.value is node:
            continue
        if isinstance(up, ast.Compare | ast.If | ast.BoolOp | ast.UnaryOp):
            continue
        if isinstance(up, ast.Call) and getattr(up.func, "id", "") in ("len", "bool"):
            continue
        inside_raise, p = False, up
        while p is not None and p is not fn:
            if isinstance(p, ast.Raise):
                inside_raise = True
                break
            p = parents.get(id(p))
        if not inside_raise:
            return True
    return False


def functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Top-level functions and the methods of top-level classes, by qualified name."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                    out[f"{node.name}.{sub.name}"] = sub
    return out


def is_public_module(dotted: str) -> bool:
    return not any(p.startswith("_") and not p.startswith("__") for p in dotted.split("."))


class Surface:
    """One commit's package: modules read on demand through `read(path)`
    (None: no such file), under the folder `root` ("" or "src/")."""

    def __init__(self, read: Callable[[str], str | None], root: str, top: str):
        self.read, self.root, self.top = read, root, top
        self._modules: dict[str, Module | None] = {}

    def path_of(self, dotted: str) -> tuple[str | None, str | None]:
        base = self.root + dotted.replace(".", "/")
        for path in (base + ".py", base + "/__init__.py"):
            text = self.read(path)
            if text is not None:
                return path, text
        return None, None

    def module(self, dotted: str) -> Module | None:
        """A module of this package, or None when it is not in the tree
        (or outside this package). Raises NotComparable."""
        if dotted != self.top and not dotted.startswith(self.top + "."):
            return None
        if dotted not in self._modules:
            path, text = self.path_of(dotted)
            self._modules[dotted] = None if path is None else parse_module(dotted, path, text)
        return self._modules[dotted]

    def griffe_object(self, dotted: str, name: str):
        m = self.module(dotted)
        if m is None:
            return None
        if m._griffe is None:
            try:
                m._griffe = griffe.visit(dotted, filepath=PurePosixPath(m.path), code=m.source)
            except Exception as e:  # griffe's own limits: the API is not compared
                raise NotComparable(f"griffe could not read it ({type(e).__name__})") from None
        try:
            return m._griffe.members.get(name)
        except Exception:
            return None

    def reachable(self, dotted: str, name: str) -> bool:
        """Whether `from dotted import name` works at this commit, as far as
        the sources tell (an opaque __getattr__ or a star import from
        outside the package: assume it does)."""
        m = self.module(dotted)
        if m is None:
            return True  # not ours to judge
        if name in m.defs or name in m.imports or name in m.dynamic or m.opaque_getattr:
            return True
        if m.is_package and self.module(f"{dotted}.{name}") is not None:
            return True
        for star in m.stars:
            s = self.module(star)
            if s is None or name in self.exports(star):
                return True
        return False

    def resolve(
        self, dotted: str, name: str, depth: int = 0, chain: list | None = None
    ) -> tuple[str | None, str, int | None]:
        """Where `dotted.name` is defined: (module, name, line); module None
        when it is outside the package, dynamic or not found. `chain` gets
        the paths of the modules passed through."""
        m = self.module(dotted)
        if m is None or depth > MAX_DEPTH:
            return None, name, None
        if chain is not None:
            chain.append(m.path)
        if name in m.defs:
            return dotted, name, m.defs[name]
        if name in m.imports:
            src, attr = m.imports[name]
            if not attr:
                return None, name, None  # a module
            if self.module(src) is None and self.module(f"{src}.{attr}") is not None:
                return None, name, None  # `from . import sub`: a submodule
            return self.resolve(src, attr, depth + 1, chain)
        for star in m.stars:
            if self.module(star) is not None and name in self.exports(star, depth + 1):
                return self.resolve(star, name, depth + 1, chain)
        return None, name, m.dynamic.get(name)

    def exports(self, dotted: str, depth: int = 0) -> dict[str, Export]:
        """The names `dotted` offers its importers."""
        m = self.module(dotted)
        if m is None or depth > MAX_DEPTH:
            return {}
        if m.all is not None:
            names = list(m.all)
        else:
            names = [n for n in m.defs if not n.startswith("_")]
            for local, (src, _attr) in m.imports.items():
                inside = src == self.top or src.startswith(self.top + ".")
                if local.startswith("_"):
                    continue
                if local in m.redundant or (m.is_package and inside):
                    names.append(local)
            for star in m.stars:
                if self.module(star) is not None:
                    names += list(self.exports(star, depth + 1))
        names += [n for n in m.dynamic if not n.startswith("_")]  # served, __all__ or not
        out = {}
        for n in dict.fromkeys(names):
            if n in m.dynamic and n not in m.defs and n not in m.imports:
                out[n] = Export(f"{dotted}.{n}", None, n, dynamic=True, line=m.dynamic[n])
                continue
            mod, attr, line = self.resolve(dotted, n, depth)
            out[n] = Export(f"{dotted}.{n}", mod, attr, line=line)
        return out
