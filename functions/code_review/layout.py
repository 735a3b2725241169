"""Where a repository's importable Python lives, and the import path users
write for a file in it: `src/pkg/mod.py` -> `pkg.mod`.

Read from the packaging config (pyproject.toml's setuptools, hatch, poetry
and flit tables; setup.cfg; a `setup(...)` call's literal arguments) and
otherwise from the files: the top-most directory of a chain of
`__init__.py` files is a top-level package, and a `src/` folder at the
root holds importable packages. A file that none of this reaches (a Sphinx
`docs/conf.py`, a script) has no import path: it is not public API.
Pure Python; host tests import it."""

import ast
import configparser
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

# top-level files that are tooling, never part of an installed package
TOOLING = {"setup.py", "conftest.py", "noxfile.py", "fabfile.py", "manage.py", "tasks.py"}
NOT_SHIPPED = ("docs/", "doc/", "examples/", "example/", "scripts/", "benchmarks/", "bench/")
TEST_DIRS = {"test", "tests", "testing", "__tests__"}


def is_shipped(path: str) -> bool:
    """Whether a Python file may be part of what users install: not tests,
    docs, examples, scripts or top-level tooling."""
    parts = PurePosixPath(path).parts
    name = parts[-1] if parts else ""
    return not (
        path in TOOLING
        or path.startswith(NOT_SHIPPED)
        or any(p in TEST_DIRS for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


@dataclass
class Layout:
    """Package roots ("" is the repository root) and single-file modules."""

    roots: list[str] = field(default_factory=list)  # folders holding top-level packages
    modules: dict[str, str] = field(default_factory=dict)  # file path -> module name
    source: str = "files"  # where the roots came from

    def import_path(self, path: str, exists: Callable[[str], bool]) -> str | None:
        """The dotted module a file is imported as, or None when it is not
        part of an importable package. `exists(path)` tells whether a file
        is in the tree (at the ref being read)."""
        if not path.endswith(".py") or not is_shipped(path):
            return None
        if path in self.modules:
            return self.modules[path]
        for root in sorted(self.roots, key=len, reverse=True):
            if root and path.startswith(root):
                return _dotted(path[len(root) :])
        parts = PurePosixPath(path).parts
        top = None  # index of the top-most package folder of an __init__ chain
        for i in range(len(parts) - 1, 0, -1):
            if exists("/".join(parts[:i]) + "/__init__.py"):
                top = i - 1
            else:
                break
        if top is None:
            return None
        return _dotted("/".join(parts[top:]))


def _dotted(rel: str) -> str | None:
    parts = list(PurePosixPath(rel).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


def _folder(d: str) -> str:
    d = d.strip().strip("/").removeprefix("./")
    return "" if d in ("", ".") else d + "/"


def _from_pyproject(text: str, lay: Layout) -> None:
    data = tomllib.loads(text)
    tool = data.get("tool") or {}
    st = tool.get("setuptools") or {}
    pkg_dir = st.get("package-dir") or {}
    if isinstance(pkg_dir, dict) and "" in pkg_dir:
        lay.roots.append(_folder(str(pkg_dir[""])))
    found = (st.get("packages") or {}) if isinstance(st.get("packages"), dict) else {}
    for where in (found.get("find") or {}).get("where") or []:
        lay.roots.append(_folder(str(where)))
    base = _folder(str(pkg_dir.get("", ""))) if isinstance(pkg_dir, dict) else ""
    for m in st.get("py-modules") or []:
        lay.modules[f"{base}{m}.py"] = str(m)
    wheel = ((tool.get("hatch") or {}).get("build") or {}).get("targets", {}).get("wheel", {})
    for p in wheel.get("packages") or []:
        parent = str(PurePosixPath(str(p)).parent)
        lay.roots.append(_folder(parent))
    for p in (tool.get("poetry") or {}).get("packages") or []:
        if isinstance(p, dict) and p.get("from"):
            lay.roots.append(_folder(str(p["from"])))
    if lay.roots or lay.modules:
        lay.source = "pyproject.toml"


def _from_setup_cfg(text: str, lay: Layout) -> None:
    cfg = configparser.ConfigParser()
    cfg.read_string(text)
    if cfg.has_option("options", "package_dir"):
        for line in cfg.get("options", "package_dir").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "" and value.strip():
                lay.roots.append(_folder(value))
    if cfg.has_option("options.packages.find", "where"):
        lay.roots.append(_folder(cfg.get("options.packages.find", "where")))
    if cfg.has_option("options", "py_modules"):
        for m in cfg.get("options", "py_modules").split():
            lay.modules[f"{m}.py"] = m


def _from_setup_py(text: str, lay: Layout) -> None:
    for node in ast.walk(ast.parse(text)):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "setup"):
            continue
        for kw in node.keywords:
            try:
                value = ast.literal_eval(kw.value)
            except ValueError:
                continue
            if kw.arg == "py_modules" and isinstance(value, list | tuple):
                lay.modules.update({f"{m}.py": m for m in value if isinstance(m, str)})
            elif kw.arg == "package_dir" and isinstance(value, dict) and "" in value:
                lay.roots.append(_folder(str(value[""])))


def load(read: Callable[[str], str | None]) -> tuple[Layout, list[str]]:
    """The layout from the packaging files `read(path)` returns, and the
    problems found in them (a file that does not parse is reported, then
    ignored)."""
    lay, problems = Layout(), []
    for path, parse in (
        ("pyproject.toml", _from_pyproject),
        ("setup.cfg", _from_setup_cfg),
        ("setup.py", _from_setup_py),
    ):
        text = read(path)
        if text is None:
            continue
        try:
            parse(text, lay)
        except (ValueError, SyntaxError, configparser.Error, AttributeError, TypeError) as e:
            problems.append(f"{path}: could not read its package layout ({type(e).__name__})")
    if not lay.roots:
        lay.roots.append("src/")  # the src layout, whatever the config says
    elif lay.source == "files":
        lay.source = "setup.cfg/setup.py"
    lay.roots = list(dict.fromkeys(lay.roots))
    return lay, problems
