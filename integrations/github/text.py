"""Text going to GitHub: neutralized mentions, hidden markers, size limits."""

import re

MAX_BODY = 65536  # GitHub's limit for a comment or review body
_CODE = re.compile(r"(```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]+`)", re.S)
_MENTION = re.compile(
    r"(?<![\w@`/.+-])@([A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}(?:/[A-Za-z0-9_.-]+)?)"
)
_MARKER = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
ZWSP = "\u200b"


def neutralize_mentions(text: str) -> str:
    """`@name` and `@org/team` -> `@<zero-width space>name`, outside code."""
    parts = _CODE.split(text)
    for i in range(0, len(parts), 2):
        parts[i] = _MENTION.sub("@" + ZWSP + r"\1", parts[i])
    return "".join(parts)


def marker_line(marker: str) -> str:
    if not _MARKER.match(marker):
        raise ValueError(f"marker {marker!r}: use 1-100 letters, digits, '_', '.', ':' or '-'")
    return f"<!-- flows:{marker} -->"


def fit(body: str, limit: int = MAX_BODY) -> str:
    """Cut a body to GitHub's size limit, saying so."""
    if len(body) <= limit:
        return body
    note = "\n\n_(cut: this text was over GitHub's size limit)_"
    return body[: limit - len(note)] + note
