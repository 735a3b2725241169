"""Fitting any amount of text into a context window: split on file and hunk
boundaries, pack pieces into chunks under a token budget, and say what did
not fit."""

import re

_BOUNDARY = re.compile(r"(?m)^(?=diff --git |@@ )")


def pieces(text: str) -> list[str]:
    """A document split before each file header and hunk header."""
    parts = [p for p in _BOUNDARY.split(text) if p]
    return parts or [text]


def _cut(piece: str, tokens: int, budget: int) -> list[str]:
    """A piece over budget, cut on line boundaries into parts that fit (by the
    piece's own characters-per-token)."""
    per_token = max(1.0, len(piece) / max(1, tokens))
    limit = max(1, int(budget * per_token * 0.9))
    parts, cur = [], ""
    for line in piece.splitlines(keepends=True):
        while len(line) > limit:  # one enormous line
            if cur:
                parts.append(cur)
                cur = ""
            parts.append(line[:limit])
            line = line[limit:]
        if len(cur) + len(line) > limit and cur:
            parts.append(cur)
            cur = ""
        cur += line
    if cur:
        parts.append(cur)
    return parts


def pack(documents, count, budget: int, max_chunks: int, overhead=lambda doc_id: 0):
    """Chunks of (document id, text), each under `budget` tokens by `count`
    (with `overhead(id)` for each document's delimiters in a chunk), at most
    `max_chunks` of them; a chunk's pieces of one document are joined again.
    Also the covered, partial and left-out ids."""
    chunks: list[list[tuple[str, str]]] = []
    size = 0
    used: dict[str, int] = {}
    total: dict[str, int] = {}
    truncated: set[str] = set()
    for doc_id, text in documents:
        extra = overhead(doc_id)
        room = max(1, budget - extra)
        parts = []
        for piece in pieces(text):
            n = count(piece)
            parts.extend(_cut(piece, n, room) if n > room else [piece])
        total[doc_id] = len(parts)
        used.setdefault(doc_id, 0)
        for part in parts:
            n = count(part)
            if n > room:  # the estimate of _cut was off: keep what fits, say so
                part, n = part[: max(1, len(part) * room // n)], room
                truncated.add(doc_id)
            opens = not chunks or not chunks[-1] or chunks[-1][-1][0] != doc_id
            cost = n + (extra if opens else 0)
            if not chunks or size + cost > budget:
                if len(chunks) == max_chunks:
                    break  # the rest of this document does not fit; a later, smaller one may
                chunks.append([])
                size, cost = 0, n + extra
            if chunks[-1] and chunks[-1][-1][0] == doc_id:
                chunks[-1][-1] = (doc_id, chunks[-1][-1][1] + part)
            else:
                chunks[-1].append((doc_id, part))
            size += cost
            used[doc_id] += 1
    covered = [d for d, _ in documents if used[d] == total[d] and d not in truncated]
    partial = [d for d, _ in documents
               if 0 < used[d] < total[d] or (used[d] and d in truncated)]  # fmt: skip
    left_out = [d for d, _ in documents if used[d] == 0 and total[d] > 0]
    return chunks, covered, partial, left_out


def halves(text: str) -> tuple[str, str] | None:
    """`text` cut in two at the line boundary nearest its middle, or None
    when it is one line."""
    lines = text.splitlines(keepends=True)
    if len(lines) < 2:
        return None
    half, size, cut = len(text) / 2, 0, 1
    for i, line in enumerate(lines[:-1], 1):
        size += len(line)
        cut = i
        if size >= half:
            break
    return "".join(lines[:cut]), "".join(lines[cut:])
