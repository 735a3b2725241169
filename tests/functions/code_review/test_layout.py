"""Import paths from a repository's package layout (layout.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[3] / "functions" / "code_review"))
import layout

FILES = {
    "app/backend/pkg/__init__.py",
    "app/backend/pkg/sub/__init__.py",
    "pkg2/__init__.py",
}


def path_of(config: dict, path: str, files=FILES):
    lay, problems = layout.load(config.get)
    assert problems == []
    return lay.import_path(path, files.__contains__)


@pytest.mark.parametrize(
    ("path", "dotted"),
    [
        ("src/pkg/mod.py", "pkg.mod"),  # the src layout
        ("src/pkg/__init__.py", "pkg"),
        ("app/backend/pkg/sub/x.py", "pkg.sub.x"),  # the top-most __init__ chain
        ("pkg2/a.py", "pkg2.a"),
        ("docs/conf.py", None),
        ("scripts/release.py", None),
        ("tools/x.py", None),  # no __init__.py beside it
        ("setup.py", None),
        ("pkg2/tests/test_a.py", None),
        ("src/my-pkg/a.py", None),  # not an importable name
        ("README.md", None),
    ],
)
def test_import_paths_from_the_files(path, dotted):
    assert path_of({}, path) == dotted


def test_import_paths_from_the_packaging_config():
    pyproject = (
        "[tool.setuptools]\npy-modules = ['six']\n"
        "[tool.setuptools.packages.find]\nwhere = ['lib']\n"
    )
    assert path_of({"pyproject.toml": pyproject}, "lib/ns/mod.py") == "ns.mod"  # namespace pkg
    assert path_of({"pyproject.toml": pyproject}, "six.py") == "six"
    hatch = "[tool.hatch.build.targets.wheel]\npackages = ['code/fancy']\n"
    assert path_of({"pyproject.toml": hatch}, "code/fancy/x.py") == "fancy.x"
    poetry = "[tool.poetry]\npackages = [{include = 'p', from = 'python'}]\n"
    assert path_of({"pyproject.toml": poetry}, "python/p/x.py") == "p.x"
    cfg = "[options]\npackage_dir =\n    =source\npy_modules = single\n"
    assert path_of({"setup.cfg": cfg}, "source/q/x.py") == "q.x"
    assert path_of({"setup.cfg": cfg}, "single.py") == "single"
    setup = "from setuptools import setup\nsetup(py_modules=['tool'], package_dir={'': 'py'})\n"
    assert path_of({"setup.py": setup}, "tool.py") == "tool"
    assert path_of({"setup.py": setup}, "py/k/x.py") == "k.x"


def test_a_broken_config_is_reported_and_ignored():
    lay, problems = layout.load({"pyproject.toml": "[broken", "setup.py": "setup(:"}.get)
    assert len(problems) == 2 and "pyproject.toml" in problems[0]
    assert lay.import_path("src/pkg/a.py", FILES.__contains__) == "pkg.a"
