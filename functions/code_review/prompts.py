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

SYSTEM = """You are a senior engineer reviewing a GitHub pull request for its maintainers.
Write in {language}. Be concrete and brief; plain Markdown, no HTML, no links.
- summary: what the pull request does and why, its effect on users, in 2-5 sentences.
- files: for each file in the diff, what changed in it, in one short sentence.
- risks: only real problems this diff introduces (bugs, security holes, data loss,
  races, missing error handling, performance traps), each with the file, the head
  line numbers shown in the diff (the numbers at the start of lines), a severity
  (low, medium, high, critical) and why it matters. Few and real, never style nits.
  An empty list is a good answer when nothing is wrong.
- breaking: changes that break users outside this code (a removed or changed public
  function, HTTP endpoint, CLI flag, configuration key, environment variable, table
  or message format). `what` is the exact name as it appears in the removed lines,
  e.g. `--verbose` or `timeout_s`; `who` is who is affected. Usually none."""

SUMMARY_ONLY = """You summarize a GitHub pull request for its maintainers.
Write in {language}. Be concrete and brief; plain Markdown, no HTML, no links.
- summary: what the pull request does and why, its effect on users, in 2-5 sentences.
- files: for each file in the diff, what changed in it, in one short sentence."""

COMBINE = """You combine partial summaries of one GitHub pull request into one summary
of 2-5 sentences: what it does and why, its effect on users. Write in {language}.
Plain Markdown, no HTML, no links."""

ASK = """You answer a maintainer's question about a GitHub pull request, in {language}.
Use only the pull request's description, its diff and the review below; say plainly
when they do not tell. Be brief; plain Markdown, no HTML, no links."""


def system(kind: str, language: str, instructions: str, memory: list[tuple[str, str]]) -> str:
    """The system prompt: the task, the team's extra instructions, and what
    memory recalled (conventions first, then history of the touched files)."""
    text = {"review": SYSTEM, "summary": SUMMARY_ONLY, "combine": COMBINE, "ask": ASK}[kind]
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


def review_schema(paths: list[str], risks: bool, breaking: bool) -> str:
    path = {"type": "string", "enum": paths}
    line = {"type": "integer", "minimum": 1, "maximum": 10_000_000}
    props = {
        "summary": _text(SUMMARY_CHARS),
        "files": {
            "type": "array",
            "maxItems": len(paths),
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["path", "change"],
                "properties": {"path": path, "change": _text(CHANGE_CHARS)},
            },
        },
    }
    if risks:
        props["risks"] = {
            "type": "array",
            "maxItems": MAX_RISKS_PER_CALL,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["path", "start_line", "end_line", "severity", "rule", "title", "why"],
                "properties": {
                    "path": path,
                    "start_line": line,
                    "end_line": line,
                    "severity": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
                    "rule": {"type": "string", "enum": list(RULES)},
                    "title": _text(TITLE_CHARS),
                    "why": _text(WHY_CHARS),
                },
            },
        }
    if breaking:
        props["breaking"] = {
            "type": "array",
            "maxItems": MAX_BREAKING_PER_CALL,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["path", "line", "what", "change", "who"],
                "properties": {
                    "path": path,
                    "line": line,
                    "what": _text(80),
                    "change": _text(CHANGE_CHARS),
                    "who": _text(CHANGE_CHARS),
                },
            },
        }
    return json.dumps(
        {
            "type": "object",
            "additionalProperties": False,
            "required": list(props),
            "properties": props,
        }
    )


def summary_schema() -> str:
    return json.dumps(
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["summary"],
            "properties": {"summary": _text(SUMMARY_CHARS)},
        }
    )


def reply_tokens(window: int, paths: int) -> int:
    """Room for the reply: about what the schema allows (two characters a
    token), within a third of the window."""
    worst = 900 + paths * 200 + MAX_RISKS_PER_CALL * 600 + MAX_BREAKING_PER_CALL * 500
    return max(256, min(worst // 2 + 256, window // 3, 4096))
