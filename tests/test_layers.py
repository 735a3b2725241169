"""The layers of flows/ import downward only (README, Architecture).

Every `import`/`from ... import` in the package counts, including ones made
inside functions: a lazy import is still a dependency."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "flows"

# (rank, module prefix): a module may import its own group and any lower rank.
LAYERS = [
    (0, "flows.errors"),
    (0, "flows.guest"),
    (0, "flows.guest_dev"),  # runs inside dev builds; imports nothing from flows
    (0, "flows.builtin"),
    (0, "flows.progress"),
    (1, "flows.db"),
    (1, "flows.project"),
    (2, "flows.sandbox"),
    (3, "flows.capabilities"),
    (4, "flows.runtime"),
    (5, "flows.server"),
    (5, "flows.devtools"),
    (5, "flows.testing"),
    (5, "flows.evaluate"),
    (6, "flows.cli"),
]
# capabilities share only the sandbox's shape: one interface's package does not
# reach into another's (replay and provider compose them, one level up)
CAPABILITIES = ("github", "llm", "memory")


def _layer(module: str) -> tuple[int, str]:
    if module == "flows":
        return 0, "flows"
    for rank, prefix in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return rank, prefix
    raise AssertionError(f"{module} is in no layer; add it to LAYERS in {__file__}")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("flows")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "flows":  # `from flows import x`: x is a module or a name
                found += [(node.lineno, f"flows.{a.name}") for a in node.names]
            elif node.module.startswith("flows."):
                found.append((node.lineno, node.module))
    return found


def _problems(me: str, source: str) -> list[str]:
    """What is wrong with module `me`'s imports, one line each."""
    bad = []
    rank, group = _layer(me)
    for line, target in _imports(source):
        if target == "flows.__version__":
            continue
        trank, tgroup = _layer(target)
        where = f"{me}:{line} imports {target}"
        if trank > rank or (trank == rank and tgroup != group):
            bad.append(f"{where}: a layer above or beside it")
        mine, theirs = me.split("."), target.split(".")
        if (
            mine[1:2] == theirs[1:2] == ["capabilities"]
            and len(mine) > 2
            and len(theirs) > 2
            and mine[2] in CAPABILITIES
            and theirs[2] in CAPABILITIES
            and mine[2] != theirs[2]
        ):
            bad.append(f"{where}: one capability reaching into another")
    return bad


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "wit_world" not in p.parts)


def test_every_module_is_in_a_layer() -> None:
    for path in MODULES:
        _layer(_module_name(path))


def test_imports_go_downward_only() -> None:
    bad = []
    for path in MODULES:
        bad += _problems(_module_name(path), path.read_text(encoding="utf-8"))
    assert bad == []


@pytest.mark.parametrize(
    "me, source, expected",
    [
        ("flows.sandbox.runner", "from flows.server.queue import Queue\n", "a layer above"),
        ("flows.project.events", "def f():\n    from flows.sandbox import values\n", "above"),
        ("flows.server.worker", "from flows.devtools import watch\n", "beside it"),
        ("flows.capabilities.llm.api", "import flows.capabilities.memory.store\n", "another"),
        ("flows.runtime", "from flows import cli\n", "a layer above"),
    ],
)
def test_the_check_catches_a_wrong_import(me: str, source: str, expected: str) -> None:
    found = _problems(me, source)
    assert found and expected in found[0]


def test_the_check_allows_downward_imports() -> None:
    source = "from flows.sandbox.report import RunJournal\nfrom flows.db import get_engine\n"
    assert _problems("flows.capabilities.memory.api", source) == []
