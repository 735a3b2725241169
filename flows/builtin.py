"""Where the built-in folders are: migrations/, integrations/ and functions/
(the templates with their samples and tests).

The repository keeps them at its top level; the wheel carries them inside the
package, as flows/_builtin/<folder> (see setup.py). An installed wheel finds
them there, a checkout (or an editable install) beside the package.

Imports: nothing from flows (the lowest layer)."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
FOLDERS = ("migrations", "integrations", "functions")


def root() -> Path:
    """The folder that holds the built-in folders."""
    packaged = PACKAGE / "_builtin"
    return packaged if packaged.is_dir() else PACKAGE.parent


def folder(name: str) -> Path:
    """One built-in folder: `migrations`, `integrations` or `functions`."""
    if name not in FOLDERS:
        raise ValueError(f"no built-in folder {name!r} (known: {', '.join(FOLDERS)})")
    return root() / name
