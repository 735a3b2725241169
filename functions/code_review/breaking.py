"""Breaking changes to a Python package's public API, from base to head.

The public surface (surface.py) says what importers reach and where it is
defined; griffe compares each public object's base and head definitions
(removed members, removed, moved or newly required parameters, changed
kinds and defaults, ...); names served by a module `__getattr__` and
keywords read from `**kwargs` are compared here, since griffe does not see
them. Every change is named by the import path users write. A file whose
API cannot be compared is reported with the reason; the others go on.
Pure Python; host tests and bench/breaking.py import it."""

from collections.abc import Callable
from dataclasses import dataclass

import griffe
import layout as layouts
import surface
from surface import NotComparable, Surface

MAX_SOURCE = 2_000_000  # characters of one module compared at most


@dataclass
class Breaking:
    path: str
    line: int | None
    symbol: str
    kind: str
    detail: str


@dataclass
class FileChange:
    """One changed file of the pull request, as GitHub lists it."""

    path: str
    status: str  # added, removed, modified, renamed
    previous: str | None = None


class Tree:
    """One commit's files through `read(path)` (None: no such file), each
    read once; a file too large or not text raises NotComparable."""

    def __init__(self, read: Callable[[str], str | None]):
        self._read, self._seen = read, {}

    def read(self, path: str) -> str | None:
        if path not in self._seen:
            text = self._read(path)
            if text is not None and len(text) > MAX_SOURCE:
                raise NotComparable(f"over {MAX_SOURCE:,} characters, too large to compare")
            if text is not None and "\0" in text:
                raise NotComparable("not text (it holds NUL bytes)")
            self._seen[path] = text
        return self._seen[path]

    def exists(self, path: str) -> bool:
        try:
            return self.read(path) is not None
        except NotComparable:
            return True


def _kind(b) -> str:
    return b.kind.name.lower().replace("_", "-")


def _param(value) -> str:
    name = getattr(value, "name", None)
    return str(name if name is not None else value)


def _wrap(public: str, obj):
    """A module holding one alias to `obj`, so griffe compares just that
    object (its own name, so that the alias never points at itself)."""
    w = griffe.Module("__flows_public_api__")
    name = public.rsplit(".", 1)[-1]
    w.set_member(name, griffe.Alias(name, obj, parent=w))
    w.exports = [name]
    return w


class Comparison:
    """The API of the packages a pull request touches, base against head."""

    def __init__(self, base: Tree, head: Tree, lay: layouts.Layout, changed: set[str]):
        self.base, self.head, self.layout = base, head, lay
        self.changed = changed  # paths the pull request touches (both names of a rename)
        self.found: list[Breaking] = []
        self.not_compared: dict[str, str] = {}
        self._surfaces: dict[tuple, Surface] = {}
        self._done: set[tuple] = set()  # (module, name) definitions compared
        self._emitted: set[tuple] = set()

    def _surface(self, tree: Tree, root: str, top: str) -> Surface:
        key = (id(tree), root, top)
        if key not in self._surfaces:
            self._surfaces[key] = Surface(tree.read, root, top)
        return self._surfaces[key]

    def _module_of(self, path: str, tree: Tree) -> tuple[str | None, str]:
        dotted = self.layout.import_path(path, tree.exists)
        if dotted is None:
            return None, ""
        rel = dotted.replace(".", "/")
        stem = path[: -len("/__init__.py")] if path.endswith("/__init__.py") else path[:-3]
        return dotted, stem[: len(stem) - len(rel)]

    def add(self, f: FileChange) -> None:
        """Compare what one changed file offers importers."""
        try:
            self._add(f)
        except NotComparable as e:
            self.not_compared[f.path] = f"its API was not compared: {e}"
        except RecursionError:
            self.not_compared[f.path] = "its API was not compared: nested too deeply to read"

    def _add(self, f: FileChange) -> None:
        old_path = f.previous or f.path
        if f.status == "added":
            return  # a new file removes nothing
        was, root = self._module_of(old_path, self.base)
        if was is None:
            self._no_package(f)
            return
        now = None
        if f.status != "removed":
            now, _root = self._module_of(f.path, self.head)
        if surface.is_public_module(was):
            if f.status == "removed" or now is None:
                self._emit(old_path, None, was, "module-removed", f"module {was} was removed")
            elif now != was:
                self._emit(f.path, None, was, "module-moved", f"module {was} is now {now}")
        top = was.split(".")[0]
        base = self._surface(self.base, root, top)
        head = self._surface(self.head, root, top)
        parts = was.split(".")
        # every package above the module, which may re-export it, then the module;
        # the top-most first, so an object is named by the shortest path users import
        for i in range(1, len(parts) + 1):
            dotted = ".".join(parts[:i])
            if surface.is_public_module(dotted) and (i < len(parts) or now == was):
                self._compare_module(dotted, base, head)

    def _no_package(self, f: FileChange) -> None:
        p = f.path
        if "/" not in p or not layouts.is_shipped(p):
            return
        folder = p.rsplit("/", 1)[0]
        self.not_compared[p] = (
            f"its API was not compared: `{folder}/` has no `__init__.py` and no package "
            "root in pyproject.toml covers it (a namespace package needs "
            "`[tool.setuptools.packages.find] where`)"
        )

    def _compare_module(self, dotted: str, base: Surface, head: Surface) -> None:
        if base.module(dotted) is None:
            return
        if head.module(dotted) is None:
            return  # the module itself is gone: reported as module-removed/-moved
        for name, exp in base.exports(dotted).items():
            if not head.reachable(dotted, name):
                self._removed(exp, base)
                continue
            if exp.module is None or (exp.module, exp.name) in self._done:
                continue
            chain: list[str] = []
            base.resolve(dotted, name, chain=chain)
            if not self.changed.intersection(chain):
                continue  # defined and re-exported only in files this PR leaves alone
            self._done.add((exp.module, exp.name))
            hmod, hname, _line = head.resolve(dotted, name, chain=chain)
            if hmod is not None:
                self._compare_object(exp, base, head, hmod, hname)

    def _removed(self, exp: surface.Export, base: Surface) -> None:
        mod = base.module(exp.module) if exp.module else None
        where = mod.path if mod else base.module(exp.public.rsplit(".", 1)[0]).path
        if exp.dynamic:
            detail = "served by the module's `__getattr__` (a deprecated name); it is gone"
        else:
            detail = "Public object was removed"
        self._emit(where, None, exp.public, "object-removed", detail)

    def _compare_object(self, exp, base: Surface, head: Surface, hmod: str, hname: str) -> None:
        old = base.griffe_object(exp.module, exp.name)
        new = head.griffe_object(hmod, hname)
        path = head.module(hmod).path
        if old is None or new is None:
            return
        old_root, new_root = old.path, new.path
        try:
            pair = _wrap(exp.public, old), _wrap(exp.public, new)
            found = list(griffe.find_breaking_changes(*pair))
        except Exception as e:  # griffe's own limits on one object: say so, go on
            self.not_compared.setdefault(
                path, f"its API was not fully compared ({type(e).__name__} in griffe)"
            )
            return
        for b in found:
            obj_path = b.obj.path
            suffix = ""
            for prefix in (new_root, old_root):
                if obj_path == prefix or obj_path.startswith(prefix + "."):
                    suffix = obj_path[len(prefix) :]
                    break
            kind = _kind(b)
            detail = b.kind.value
            if "parameter" in kind:
                which = _param(b.new_value if kind == "parameter-added-required" else b.old_value)
                detail = f"{b.kind.value}: {which}"
            removed = kind == "object-removed"
            line = None if removed else getattr(b.obj, "lineno", None)
            where = base.module(exp.module).path if removed else path
            self._emit(where, line, exp.public + suffix, kind, detail)
        self._keywords(exp, base, head, hmod, hname)

    def _keywords(self, exp, base: Surface, head: Surface, hmod: str, hname: str) -> None:
        """Keywords read from **kwargs in base that head no longer accepts."""
        bmod, hm = base.module(exp.module), head.module(hmod)
        old_fns, new_fns = bmod.functions(), hm.functions()
        for qual, fn in old_fns.items():
            head_part = qual.split(".", 1)
            if head_part[0] != exp.name:
                continue
            new_qual = ".".join([hname, *head_part[1:]])
            new = new_fns.get(new_qual)
            if new is None:
                continue  # griffe reports a removed method
            if surface.hands_on_kwargs(new):
                continue
            before = surface.kwargs_keywords(fn)
            after = surface.kwargs_keywords(new)
            params = {a.arg for a in [*new.args.posonlyargs, *new.args.args, *new.args.kwonlyargs]}
            member = exp.public + ("." + head_part[1] if len(head_part) > 1 else "")
            # a parameter removed while **kwargs stays: griffe calls it swallowed,
            # but a **kwargs that never reads it turns the call into an error
            swallowed = list(fn.args.kwonlyargs) if new.args.kwarg else []
            if new.args.kwarg and new.args.vararg is not None:
                swallowed += fn.args.args
            for a in swallowed:
                if a.arg in params or a.arg in after or a.arg == "self":
                    continue
                self._emit(
                    hm.path,
                    new.lineno,
                    member,
                    "parameter-removed",
                    f"Parameter was removed: {a.arg} (**{new.args.kwarg.arg} does not read it)",
                )
            body = hm.segment(new) if set(before) - set(after) - params else ""
            for key in before:
                if key in after or key in params or repr(key) in body or f'"{key}"' in body:
                    continue
                self._emit(
                    hm.path,
                    new.lineno,
                    member,
                    "keyword-removed",
                    f"keyword `{key}` (read from **{fn.args.kwarg.arg}) is no longer accepted",
                )

    def _emit(self, path: str, line, symbol: str, kind: str, detail: str) -> None:
        if (symbol, kind, detail) not in self._emitted:
            self._emitted.add((symbol, kind, detail))
            self.found.append(Breaking(path, line, symbol, kind, detail))


def api_changes(
    changed: list[FileChange],
    base: Callable[[str], str | None],
    head: Callable[[str], str | None],
    lay: layouts.Layout | None = None,
) -> tuple[list[Breaking], dict[str, str]]:
    """The breaking changes among `changed` Python files, and the files whose
    API could not be compared with why. `base`/`head` read a file at the
    merge base / the head commit (None: absent)."""
    base_tree, head_tree = Tree(base), Tree(head)
    if lay is None:
        lay, _problems = layouts.load(base_tree.read)
    paths = {f.path for f in changed} | {f.previous for f in changed if f.previous}
    cmp = Comparison(base_tree, head_tree, lay, paths)
    for f in changed:
        if (f.previous or f.path).endswith(".py") or f.path.endswith(".py"):
            cmp.add(f)
    return cmp.found, cmp.not_compared
