"""Unified diffs as hunks with line numbers, and which lines a review can target.

Pure Python, no WIT types: the integration converts, and host tests import it.
"""

import re
from dataclasses import dataclass, field

_PREAMBLE = ("diff --git", "index ", "--- ", "+++ ", "new file", "deleted file", "similarity",
             "rename ", "old mode", "new mode", "Binary")  # fmt: skip
_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")


class PatchError(ValueError):
    pass


@dataclass
class Line:
    kind: str  # context, added, removed
    old: int | None
    new: int | None
    text: str


@dataclass
class Hunk:
    old_start: int
    old_lines: int
    new_start: int
    new_lines: int
    section: str
    lines: list[Line] = field(default_factory=list)


def parse_patch(patch: str) -> list[Hunk]:
    """Parse a GitHub file patch (hunks only, or a full diff with headers)."""
    hunks: list[Hunk] = []
    cur: Hunk | None = None
    old = new = 0
    for n, raw in enumerate(patch.split("\n"), 1):
        m = _HEADER.match(raw)
        if m:
            cur = Hunk(int(m.group(1)), int(m.group(2) or 1), int(m.group(3)),
                       int(m.group(4) or 1), m.group(5))  # fmt: skip
            hunks.append(cur)
            old, new = cur.old_start, cur.new_start
            continue
        if cur is None:
            if not raw or raw.startswith(_PREAMBLE):
                continue
            raise PatchError(f"line {n}: diff text before the first @@ hunk header")
        if raw.startswith("\\"):  # "\ No newline at end of file"
            continue
        tag, text = raw[:1], raw[1:]
        if tag == "+":
            cur.lines.append(Line("added", None, new, text))
            new += 1
        elif tag == "-":
            cur.lines.append(Line("removed", old, None, text))
            old += 1
        elif tag == " " or raw == "":
            if raw == "" and _complete(cur, old, new):
                continue  # the trailing newline of the patch
            cur.lines.append(Line("context", old, new, text))
            old += 1
            new += 1
        else:
            raise PatchError(f"line {n}: unexpected diff line starting with {tag!r}")
    return hunks


def _complete(h: Hunk, old: int, new: int) -> bool:
    return old - h.old_start >= h.old_lines and new - h.new_start >= h.new_lines


def commentable(hunks: list[Hunk]) -> dict[str, list[set[int]]]:
    """Per side, the lines of each hunk that a review comment may target."""
    right: list[set[int]] = []
    left: list[set[int]] = []
    for h in hunks:
        right.append({ln.new for ln in h.lines if ln.new is not None})
        left.append({ln.old for ln in h.lines if ln.old is not None})
    return {"RIGHT": right, "LEFT": left}


def line_problem(
    targets: dict[str, list[set[int]]] | None, side: str, line: int, start: int | None
) -> str | None:
    """Why a comment on these lines would be refused by GitHub, or None if it is fine."""
    if targets is None:
        return "the file is not in the diff (or its diff is too large to show)"
    for lines in targets[side]:
        if line in lines:
            if start is None or start == line:
                return None
            if start > line:
                return f"start line {start} is after line {line}"
            if start in lines:
                return None
            return f"lines {start}-{line} span more than one hunk"
    return f"line {line} ({side.lower()} side) is not in a diff hunk"
