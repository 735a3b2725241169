"""What the model claims, checked against the diff before it is posted.

A model's risk is kept only when it cites lines the pull request adds or
changes and names something on or next to them (an identifier or call from
its title or reason); a breaking-change row only when it names something
code-like (an identifier, key, flag or table) in the removed or changed
lines of the file it cites. A claim about the same thing as a deterministic
finding is merged into that finding. Pure Python; host tests import it."""

import re

_WORD = re.compile(
    r"/[\w{}<>:.-]+(?:/[\w{}<>:.-]*)*|--?[A-Za-z][\w-]*|[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*"
)  # /http/paths, --flags, dotted.names
_TICKS = re.compile(r"`([^`]{1,120})`")
_CODE_LIKE = re.compile(
    r"^/|^--?[A-Za-z]|_|\.|[a-z][A-Z]|^[A-Z][a-z]+[A-Z]|\d"
)  # /path, --flag, snake_case, dotted.path, camelCase, PascalCase words, digits


def _parts(name: str) -> set[str]:
    name = name.strip("()[]{}:,;'\"")
    out = {name} if name else set()
    if "." in name:
        out |= {p for p in name.split(".") if p}
    return out


def code_names(text: str) -> set[str]:
    """The code-like names in a model's text: `backticked` spans, and words
    shaped like code; a text that is one word is that name."""
    text = text.strip()
    names: set[str] = set()
    for span in _TICKS.findall(text):
        for w in _WORD.findall(span):
            names |= _parts(w)
    bare = _TICKS.sub(" ", text)
    words = _WORD.findall(bare)
    if len(words) == 1 and len(bare.split()) == 1:
        names |= _parts(words[0])
    for w in words:
        if _CODE_LIKE.search(w):
            names |= _parts(w)
    return {n for n in names if len(n) >= 2}


def changed_lines(hunks: list[dict]) -> list[str]:
    """Removed lines, and added lines that replace removed ones in the same
    hunk (the "changed" lines); pure additions are not."""
    out = []
    for h in hunks:
        lines = h["lines"]
        removed_any = any(k == "removed" for k, *_ in lines)
        for kind, _o, _n, text in lines:
            if kind == "removed" or (kind == "added" and removed_any):
                out.append(text)
    return out


def tokens(lines: list[str]) -> set[str]:
    out: set[str] = set()
    for line in lines:
        for w in _WORD.findall(line):
            out |= _parts(w)
    return out


def breaking_grounded(what: str, change: str, hunks: list[dict]) -> set[str]:
    """The names of a model breaking row that the cited file's removed or
    changed lines contain (empty: not grounded)."""
    names = code_names(what) or code_names(change)
    return names & tokens(changed_lines(hunks))


_ECHO = re.compile(r"^\s*\d+\s*[+-]|^\s*\d+\s{2}")  # `12 +x`, `3  x`: a numbered diff line
_PROSE = re.compile(r"\b[A-Za-z]{3,}\b")


def described(change: str) -> bool:
    """Whether a model breaking row says in words what changed: not a copy
    of numbered diff lines, and at least two plain words beside the names
    (a row whose explanation is `163` or `raw_url` tells a reader nothing,
    whatever it names)."""
    if _ECHO.match(change):
        return False
    names = code_names(change)
    words = [w for w in _PROSE.findall(_TICKS.sub(" ", change)) if w not in names]
    return len(words) >= 2


def same_thing(names: set[str], symbol: str) -> bool:
    """Whether a deterministic finding's symbol is about one of `names`."""
    parts = _parts(symbol)
    last = symbol.rsplit(".", 1)[-1]
    return bool(names & parts) and (last in names or symbol in names)


# words that say nothing about code when they match a line (English and Python's own)
_PLAIN = set(
    [
        "the",
        "and",
        "for",
        "not",
        "this",
        "that",
        "with",
        "from",
        "into",
        "when",
        "then",
        "than",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "can",
        "could",
        "may",
        "might",
        "will",
        "would",
        "should",
        "must",
        "does",
        "did",
        "its",
        "it's",
        "any",
        "all",
        "one",
        "two",
        "new",
        "old",
        "use",
        "used",
        "uses",
        "using",
        "value",
        "values",
        "data",
        "input",
        "output",
        "user",
        "users",
        "code",
        "line",
        "lines",
        "file",
        "files",
        "function",
        "functions",
        "method",
        "call",
        "calls",
        "return",
        "returns",
        "none",
        "true",
        "false",
        "self",
        "cls",
        "error",
        "errors",
        "string",
        "list",
        "dict",
        "int",
        "str",
        "type",
        "object",
        "class",
        "def",
        "import",
        "if",
        "else",
        "elif",
        "try",
        "except",
        "finally",
        "while",
        "pass",
        "raise",
        "lambda",
        "yield",
        "async",
        "await",
        "global",
    ]
)
MAX_SPAN = 8  # lines a model's risk may cite
_IDENT = re.compile(r"[A-Za-z_][\w]*")
_NOT_CODE = re.compile(r"^\s*(?:$|#|import\s|from\s+\S+\s+import\s|[\"']{3}[^\"']*[\"']{3}$)")


def head_lines(hunks: list[dict], start: int, end: int) -> list[tuple[str, str]]:
    """(kind, text) of the head-side diff lines from start-1 to end+1."""
    return [
        (kind, text)
        for h in hunks
        for kind, _o, new, text in h["lines"]
        if kind != "removed" and new is not None and start - 1 <= new <= end + 1
    ]


def changed_head_lines(hunks: list[dict]) -> set[int]:
    """Head lines a pull request changes: added lines, and the lines either
    side of a removal (where something was taken out)."""
    out = set()
    for h in hunks:
        rows = h["lines"]
        for i, (kind, _o, new, _t) in enumerate(rows):
            if new is None:
                continue
            near_removal = any(
                0 <= j < len(rows) and rows[j][0] == "removed" for j in (i - 1, i + 1)
            )
            if kind == "added" or near_removal:
                out.add(new)
    return out


def risk_grounded(title: str, why: str, hunks: list[dict], start: int, end: int) -> bool:
    """Whether a model's risk cites changed lines that hold what it talks about."""
    if end - start + 1 > MAX_SPAN:
        return False  # about a whole file or function: at no line in particular
    near = head_lines(hunks, start, end)
    if not any(start <= n <= end for n in changed_head_lines(hunks)):
        return False
    cited = [t for _k, t in head_lines(hunks, start + 1, end - 1)]
    if all(_NOT_CODE.match(t) for t in cited):
        return False  # only imports, comments or blank lines: nothing there to go wrong
    on_lines = tokens([t for _k, t in near])
    words = {w for w in _IDENT.findall(f"{title} {why}") if len(w) >= 3}
    named = (code_names(f"{title} {why}") | words) - _PLAIN
    return bool(named & on_lines)
