"""Packaging: pyproject.toml holds the metadata; this maps the repository's
top-level migrations/, integrations/ and functions/ into the wheel as
flows/_builtin/<folder>, where flows.builtin finds them."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

FOLDERS = ("migrations", "integrations", "functions")
SKIP = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", "wit_world", "componentize_py_*"
)


class BuildWithBuiltins(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads them from the checkout
        here = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "flows" / "_builtin"
        for name in FOLDERS:
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(here / name, target / name, ignore=SKIP)


setup(cmdclass={"build_py": BuildWithBuiltins})
