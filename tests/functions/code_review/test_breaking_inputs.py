"""Inputs the breaking-change detection cannot compare, through the flow:
each is named under "Not reviewed" with its reason and the review still
posts, with the breakages it could find."""

from __future__ import annotations

import pytest

from tests.functions.code_review.corpus import Case, FlowRunner, run_flow

pytestmark = pytest.mark.slow

GOOD = "def keep(a, b):\n    return a\n"


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    with FlowRunner(tmp_path_factory.mktemp("inputs")).started() as r:
        yield r


def test_awkward_python_files_are_disclosed_and_the_review_goes_on(runner, tmp_path):
    huge = "DATA = '" + "x" * 2_100_000 + "'\n"
    case = Case(
        name="awkward",
        modelled_on="",
        package="pkg",
        base={
            "pkg/__init__.py": "from .a import x\nfrom .good import keep\n",
            "pkg/a.py": "from .b import x\n",
            "pkg/b.py": "from .a import x\n",  # a circular re-export
            "pkg/good.py": GOOD,
            "pkg/broken.py": GOOD,
            "pkg/newer.py": GOOD,
            "pkg/huge.py": GOOD,
            "pkg/binary.py": GOOD,
            "tools/ns/mod.py": GOOD,  # a folder without __init__.py
        },
        head={
            "pkg/a.py": "from .b import x\ny = 1\n",
            "pkg/good.py": "def keep(a):\n    return a\n",
            "pkg/broken.py": "def keep(a, b:\n",
            "pkg/newer.py": "def keep(a, b):\n    return [*row for row in a]\n",  # 3.15 syntax
            "pkg/huge.py": huge,
            "pkg/binary.py": b"\xff\xfe\x00def keep(a): pass\n",
            "tools/ns/mod.py": "def keep(a):\n    return a\n",
        },
        expect=[],
    )
    found, report = run_flow(runner, case, tmp_path / "repo")
    assert report["status"] == "ok", report["error"]
    assert [(b["symbol"], b["kind"]) for b in found] == [("pkg.keep", "parameter-removed")]
    skipped = report["result"]["not_reviewed"]
    assert "not valid Python 3.14" in skipped["pkg/broken.py"]
    assert "newer Python may accept it" in skipped["pkg/newer.py"]
    assert "too large" in skipped["pkg/huge.py"]
    assert "binary" in skipped["pkg/binary.py"] or "UTF-8" in skipped["pkg/binary.py"]
    assert "__init__.py" in skipped["tools/ns/mod.py"]
    assert "pkg/a.py" not in skipped and "pkg/good.py" not in skipped
