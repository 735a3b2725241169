"""What the review asks the model, and the JSON shapes it must answer in.
Every string and list in a schema is bounded, so even a rambling model's
reply has a bounded length (llama.cpp's grammar honours both)."""

import json

RULES = (
    "bug",
    "security",
    "data-loss",
    "concurrency",
    "error-handling",
    "performance",
    "resource-leak",
    "compatibility",
    "maintainability",
)
MAX_RISKS_PER_CALL = 5
MAX_BREAKING_PER_CALL = 5
SUMMARY_CHARS, CHANGE_CHARS, TITLE_CHARS, WHY_CHARS = 900, 200, 120, 400  # schema caps

SYSTEM = """You review a GitHub pull request for its maintainers. Write in {language};
be concrete and brief; plain Markdown, no HTML, no links. Each file's diff is data
labelled `#N path`: cite files by that number N, and lines by the head line numbers
at the start of diff lines.
- summary: what the pull request does and why, its effect on users, 2-5 sentences.
- files: for each file, what changed in it, one short sentence.
- risks: only real problems this diff introduces (bugs, security holes, data loss,
  races, missing error handling, performance traps), with severity and why; few and
  real, never style nits. An empty list is a good answer.
- breaking: changes that break users outside this code (a removed or changed public
  function, endpoint, CLI flag, config key, environment variable, table, message
  format); `what` is the name exactly as in the removed lines. Usually none."""

SUMMARY_ONLY = """You summarize a GitHub pull request for its maintainers. Write in
{language}; be concrete and brief; plain Markdown, no HTML, no links. Each file's
diff is data labelled `#N path`: cite files by that number N.
- summary: what the pull request does and why, its effect on users, 2-5 sentences.
- files: for each file, what changed in it, one short sentence."""

OVERVIEW = """You summarize a GitHub pull request for its maintainers in 2-5 sentences:
what it does and why, its effect on users. Write in {language}; plain Markdown, no
HTML, no links. You get its description, the list of changed files with the
functions each change touches, and any summary of it written before."""

COMBINE = """You combine partial summaries of one GitHub pull request into one summary
of 2-5 sentences: what it does and why, its effect on users. Write in {language}.
Plain Markdown, no HTML, no links."""

ASK = """You answer a maintainer's question about a GitHub pull request, in {language}.
Use only the pull request's description, its diff and the review below; say plainly
when they do not tell. Be brief; plain Markdown, no HTML, no links."""


def system(kind: str, language: str, instructions: str, memory: list[tuple[str, str]]) -> str:
    """The system prompt: the task, the team's extra instructions, and what
    memory recalled (conventions first, then history of the touched files)."""
    text = {"review": SYSTEM, "summary": SUMMARY_ONLY, "overview": OVERVIEW, "combine": COMBINE,
            "ask": ASK}[kind]  # fmt: skip
    parts = [text.format(language=language)]
    if instructions:
        parts.append("The maintainers' instructions for reviews:\n" + instructions)
    conventions = [t for k, t in memory if k == "convention"]
    history = [t for k, t in memory if k != "convention"]
    if conventions:
        parts.append(
            "The team's conventions (respect them; do not flag code that follows "
            "them):\n" + "\n".join(f"- {c}" for c in conventions)
        )
    if history:
        parts.append("Recent history of these files:\n" + "\n".join(f"- {h}" for h in history))
    return "\n\n".join(parts)


def _text(n: int) -> dict:
    return {"type": "string", "maxLength": n}


def review_schema(files: list[int], summary: bool, risks: bool, breaking: bool) -> str:
    """The reply to one chunk: files are cited by their numbers (`files`),
    which keeps the schema small for any paths. An enum, not minimum and
    maximum: llama.cpp's grammar does not bound integers."""
    file = {"$ref": "#/$defs/file"}  # one enum, however many lists cite files
    line = {"type": "integer", "minimum": 1, "maximum": 10_000_000}
    props = {"summary": _text(SUMMARY_CHARS)} if summary else {}
    props["files"] = {
        "type": "array",
        "maxItems": len(files),
        "items": _object({"file": file, "change": _text(CHANGE_CHARS)}),
    }
    if risks:
        props["risks"] = {
            "type": "array",
            "maxItems": MAX_RISKS_PER_CALL,
            "items": _object(
                {
                    "file": file,
                    "start_line": line,
                    "end_line": line,
                    "severity": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
                    "rule": {"type": "string", "enum": list(RULES)},
                    "title": _text(TITLE_CHARS),
                    "why": _text(WHY_CHARS),
                }
            ),
        }
    if breaking:
        props["breaking"] = {
            "type": "array",
            "maxItems": MAX_BREAKING_PER_CALL,
            "items": _object(
                {
                    "file": file,
                    "line": line,
                    "what": _text(80),
                    "change": _text(CHANGE_CHARS),
                    "who": _text(CHANGE_CHARS),
                }
            ),
        }
    return _dumps({**_object(props), "$defs": {"file": {"type": "integer", "enum": files}}})


def _object(props: dict) -> dict:
    return {"type": "object", "additionalProperties": False, "required": list(props),
            "properties": props}  # fmt: skip


def _dumps(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"))


def summary_schema() -> str:
    return _dumps(_object({"summary": _text(SUMMARY_CHARS)}))


def reply_tokens(window: int, files: int) -> int:
    """Room for the reply: about what the schema allows (two characters a
    token), within a third of the window."""
    worst = 900 + files * 200 + MAX_RISKS_PER_CALL * 600 + MAX_BREAKING_PER_CALL * 500
    return max(256, min(worst // 2 + 256, window // 3, 4096))
