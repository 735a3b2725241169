"""Diff hunks as the review uses them: numbered text for the model, model
line ranges checked against the diff, stable fingerprints, and lines carried
across a push. A hunk is a dict: old_start, old_lines, new_start, new_lines,
section, lines = [(kind, old, new, text)], kind "context", "added" or
"removed". Pure Python; host tests import it."""

import hashlib
import re

import diff  # flows/guest/diff.py

_SPACE = re.compile(r"\s+")
_DEF = re.compile(r"^\s*(?:async\s+)?(?:def|class|func|fn|function)\s+([A-Za-z_][\w]*)")


def parse(patch: str) -> list[dict]:
    """A patch as hunk dicts; an unparsable one as no hunks."""
    try:
        hunks = diff.parse_patch(patch)
    except diff.PatchError:
        return []
    return [{"old_start": h.old_start, "old_lines": h.old_lines, "new_start": h.new_start,
             "new_lines": h.new_lines, "section": h.section,
             "lines": [(ln.kind, ln.old, ln.new, ln.text) for ln in h.lines]}
            for h in hunks]  # fmt: skip


def numbered(status: str, hunks: list[dict], previous: str | None = None) -> str:
    """One file's diff for the model, in few tokens: head line numbers on the
    lines a finding may cite (`12 +added`, `13  context`), removed lines as
    `-removed`, each hunk after `@@ ` and the function it is in."""
    out = []
    if status != "modified":
        out.append(f"({status}{f' from {previous}' if previous else ''})")
    for i, h in enumerate(hunks):
        if i or h["section"]:
            out.append(f"@@ {h['section']}".rstrip())
        for kind, _old, new, text in h["lines"]:
            if kind == "removed":
                out.append(f"-{text}")
            else:
                out.append(f"{new} {'+' if kind == 'added' else ' '}{text}")
    return "\n".join(out)


def anchor(hunks: list[dict], start, end) -> tuple[int, int] | None:
    """The model's line range made valid: both ends on head-side lines of one
    hunk (an end outside it is pulled in); None when the start is not in the diff."""
    if not isinstance(start, int) or isinstance(start, bool):
        return None
    if not isinstance(end, int) or isinstance(end, bool) or end < start:
        end = start
    for h in hunks:
        lines = [new for kind, _o, new, _t in h["lines"] if kind != "removed"]
        if start in lines:
            inside = [n for n in lines if start <= n <= end]
            return start, max(inside)
    return None


def code_at(hunks: list[dict], start: int, end: int) -> str:
    return "\n".join(
        t
        for h in hunks
        for kind, _o, new, t in h["lines"]
        if kind != "removed" and new is not None and start <= new <= end
    )


def symbol_at(hunks: list[dict], line: int) -> str:
    """The enclosing definition of a head line, as far as the diff shows it."""
    for h in hunks:
        rows = [(new, t) for kind, _o, new, t in h["lines"] if kind != "removed"]
        if rows and rows[0][0] <= line <= rows[-1][0]:
            for new, t in reversed(rows):
                m = _DEF.match(t)
                if new <= line and m:
                    return m.group(1)
            m = _DEF.match(h["section"])
            return m.group(1) if m else h["section"].strip()[:80]
    return ""


def fingerprint(rule: str, path: str, symbol: str, code: str) -> str:
    """Stable across pushes while the code it is about is unchanged."""
    norm = _SPACE.sub(" ", code).strip()
    return hashlib.sha256(f"{rule}\0{path}\0{symbol}\0{norm}".encode()).hexdigest()[:20]


def added_lines(hunks: list[dict]) -> list[tuple[int, str]]:
    return [(new, t) for h in hunks for kind, _o, new, t in h["lines"] if kind == "added"]


def map_line(hunks: list[dict], line: int) -> int | None:
    """Where a line of the old file is in the new one; None if it was changed."""
    shift = 0
    for h in hunks:
        if line < h["old_start"] or (h["old_lines"] == 0 and line == h["old_start"]):
            break  # (a hunk of old length 0 inserts after its start line)
        if line < h["old_start"] + h["old_lines"]:
            for kind, old, new, _t in h["lines"]:
                if old == line:
                    return new if kind == "context" else None
            return None
        shift += h["new_lines"] - h["old_lines"]
    return line + shift


def base_text(head: str, hunks: list[dict]) -> str | None:
    """The base version of a file, from its head version and the diff between
    them (saves fetching it); None when they do not fit together."""
    new = head.split("\n")
    out: list[str] = []
    at = 1  # the next head line
    for h in hunks:
        start = h["new_start"] if h["new_lines"] else h["new_start"] + 1
        if start < at:
            return None
        out.extend(new[at - 1 : start - 1])
        at = start
        for kind, _o, n, text in h["lines"]:
            if kind == "removed":
                out.append(text)
                continue
            if n != at or at > len(new) or new[at - 1] != text:
                return None
            if kind == "context":
                out.append(text)
            at += 1
    out.extend(new[at - 1 :])
    return "\n".join(out)


def describe(status: str, previous: str | None, hunks: list[dict]) -> str:
    """One walkthrough line from the diff alone: added / deleted / renamed,
    lines added and removed, and the definitions the changes are in."""
    plus = sum(1 for h in hunks for k, *_ in h["lines"] if k == "added")
    minus = sum(1 for h in hunks for k, *_ in h["lines"] if k == "removed")
    if status == "added":
        return f"Added ({plus} line{'s' * (plus != 1)})."
    if status == "removed":
        return f"Deleted ({minus} line{'s' * (minus != 1)})."
    where = []
    for h in hunks:
        for kind, _o, new, _t in h["lines"]:
            if kind == "added" and new is not None:
                name = symbol_at(hunks, new)
                if name and _DEF.match(f"def {name}") and name not in where:
                    where.append(name)
    head = f"Renamed from `{previous}`; " if status == "renamed" and previous else ""
    shown = ", ".join(f"`{w}`" for w in where[:4]) + (" …" if len(where) > 4 else "")
    return f"{head}+{plus} -{minus}" + (f" in {shown}." if shown else ".")
