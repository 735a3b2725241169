"""pr-summary: a summary of a pull request built commit by commit.

Each of the newest `max_commits` commits is read (its message and diff) and
summarized on its own; then the commit summaries become one overview with the
key changes and potential issues, posted as one comment that is updated in
place. Runs when a PR is opened or reopened, and when someone allowed comments
the trigger phrase on it. Settings: see flow.yaml.
"""

import json

import render
import wit_world
from componentize_py_types import Err
from wit_world.imports import github, llm, log, types

MARKER = "pr-summary"
MAX_CHUNKS_PER_COMMIT = 2
COMMIT_INSTRUCTIONS = (
    "You summarize one git commit for a reviewer. From its message and diff, say in one "
    "to three plain sentences what the commit changes and why it matters. No preamble."
)
OVERALL = (
    "You summarize a pull request for its reviewers from the summaries of its commits. "
    "Reply with JSON: `overview` (two to four sentences: the purpose and the overall "
    "change), `key_changes` (the most important changes, one short sentence each) and "
    "`potential_issues` (risks a reviewer should check: bugs, missing tests, security, "
    "breaking changes; empty if none are visible). Only state what the data supports."
)
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["overview", "key_changes", "potential_issues"],
    "properties": {
        "overview": {"type": "string", "maxLength": 1200},
        "key_changes": {
            "type": "array",
            "maxItems": 8,
            "items": {"type": "string", "maxLength": 300},
        },
        "potential_issues": {
            "type": "array",
            "maxItems": 6,
            "items": {"type": "string", "maxLength": 300},
        },
    },
}


def _wanted(event: types.Event, payload: dict, s: dict):
    """The PR number to summarize, or (None, why not)."""
    if event.name == "pull_request":
        pr = payload.get("pull_request") or {}
        if event.action not in ("opened", "reopened"):
            return None, f"pull_request {event.action} is not a trigger"
        if not s["summarize_on_open"]:
            return None, "summarize_on_open is off"
        if s["skip_bots"] and (pr.get("user") or {}).get("type") == "Bot":
            return None, "the pull request is by a bot"
        return pr.get("number"), ""
    if event.name == "issue_comment" and event.action == "created":
        issue = payload.get("issue") or {}
        comment = payload.get("comment") or {}
        if "pull_request" not in issue:
            return None, "the comment is on an issue, not a pull request"
        if s["trigger_phrase"].casefold() not in (comment.get("body") or "").casefold():
            return None, "the comment does not contain the trigger phrase"
        if (comment.get("user") or {}).get("type") == "Bot":
            return None, "the comment is by a bot"
        if comment.get("author_association") not in s["trigger_roles"]:
            return None, f"{comment.get('author_association')} may not trigger a summary"
        return issue.get("number"), ""
    return None, f"{event.name} is not a trigger"


def _commit_summary(commit: github.Commit) -> str:
    first_line = commit.message.splitlines()[0] if commit.message else ""
    if len(commit.parents) != 1:
        return "a merge commit" if commit.parents else "the first commit of the repository"
    files = [f for f in github.compare(commit.parents[0], commit.sha).files if f.patch]
    if not files:
        return "no text changes (binary or empty)"
    docs = [llm.Document("commit message", commit.message[:4000])]
    docs += [llm.Document(f.filename, f.patch) for f in files]
    done = llm.map_reduce(
        COMMIT_INSTRUCTIONS,
        docs,
        MAX_CHUNKS_PER_COMMIT,
        llm.Options(max_tokens=300, temperature=None),
    )
    note = ""
    if done.left_out or done.partial:
        note = f" (diff cut to fit: {len(done.partial) + len(done.left_out)} files not read whole)"
    log.log(log.Level.INFO, f"{commit.sha[:7]} {first_line[:60]}: {done.calls} model calls")
    return done.text.strip() + note


def _bullets(items: list, allowed: set) -> str:
    return "\n".join(f"- {render.safe_markdown(str(i), allowed)}" for i in items) or "- none"


def _render(pr, commits, summaries, overall, older: int) -> str:
    allowed = render.urls_in(pr.body)
    lines = [
        f"## Summary of #{pr.number}",
        "",
        render.safe_markdown(overall["overview"], allowed),
        "",
        "### Key changes",
        _bullets(overall["key_changes"], allowed),
        "",
        "### Potential issues",
        _bullets(overall["potential_issues"], allowed),
        "",
        f"<details><summary>Commits ({len(commits) + older})</summary>",
        "",
    ]
    for c, text in zip(commits, summaries, strict=True):
        title = render.safe_markdown(c.message.splitlines()[0] if c.message else "", allowed)
        lines.append(f"- `{c.sha[:7]}` **{title}**: {render.safe_markdown(text, allowed)}")
    if older:
        lines.append(f"- {older} older commits were not read (max_commits)")
    lines += ["", "</details>", "", f"<sub>pr-summary at `{pr.head_sha[:7]}`</sub>"]
    return "\n".join(lines)


class WitWorld(wit_world.WitWorld):
    def handle(self, event: types.Event, ctx: types.Context) -> str:
        payload = json.loads(event.payload)
        s = json.loads(ctx.settings)
        number, why = _wanted(event, payload, s)
        if number is None:
            return json.dumps({"skipped": why})
        pr = github.get_pull_request(number)
        every = github.list_commits(number)
        commits = every[-s["max_commits"] :]
        older = len(every) - len(commits)
        summaries = [_commit_summary(c) for c in commits]
        listing = "\n".join(
            f"{c.sha[:7]} {(c.message.splitlines() or [''])[0]}: {t}"
            for c, t in zip(commits, summaries, strict=True)
        )
        messages = [
            llm.Message("system", OVERALL),
            llm.Message("user", llm.as_data("pull request", f"{pr.title}\n\n{pr.body[:4000]}")),
            llm.Message("user", llm.as_data("commit summaries", listing)),
        ]
        reply = llm.chat_json(
            messages, json.dumps(SCHEMA), llm.Options(max_tokens=900, temperature=None)
        )
        try:
            overall = json.loads(reply.text, strict=False)
        except ValueError:
            raise Err("the model's summary is not JSON") from None
        body = _render(pr, commits, summaries, overall, older)
        posted = github.upsert_comment(number, MARKER, body)
        return json.dumps({"pull_request": number, "commits": len(commits),
                           "comment": posted.action})  # fmt: skip
