"""Reading a file the user named: one clear error whatever goes wrong."""

from __future__ import annotations

from pathlib import Path

from flows.errors import FlowsError


def read_text(path: str | Path, what: str, error: type[FlowsError]) -> str:
    """The file's UTF-8 text, or `error` saying it is missing or unreadable
    (`what`: the kind of file, as the message names it)."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{path}: cannot read {what}: {e}") from None
