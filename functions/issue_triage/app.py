"""issue-triage: labels and a first response for new issues.

The model chooses from the labels the repository defines (minus
`exclude_labels`, or only `only_labels`); its answer is constrained to them
by the JSON schema, and checked again here, so a label is never invented.
A maintainer can run it again with the `command` (default /triage).
Settings: see flow.yaml.
"""

import json

import render
import wit_world
from wit_world.imports import github, llm, log, types

MARKER = "issue-triage"
MAINTAINERS = {"OWNER", "MEMBER", "COLLABORATOR"}
SYSTEM = (
    "You triage a new GitHub issue. Choose the labels that fit it, only from the list "
    "given (none if nothing fits), and say what kind of issue it is. Then write a short, "
    "friendly first response to the author: what you understood, and what information is "
    "missing to act on it (versions, steps to reproduce, logs, expected behaviour), if any. "
    "Do not promise fixes or dates. Reply with JSON."
)


def schema(labels: list[str], max_labels: int) -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["kind", "labels", "response", "missing"],
        "properties": {
            "kind": {"enum": ["bug", "feature", "question", "documentation", "other"]},
            "labels": {
                "type": "array",
                "maxItems": max_labels if labels else 0,
                "uniqueItems": True,
                "items": {"enum": labels} if labels else {"type": "string"},
            },
            "response": {"type": "string", "maxLength": 1500},
            "missing": {
                "type": "array",
                "maxItems": 5,
                "items": {"type": "string", "maxLength": 200},
            },
        },
    }


def _wanted(event: types.Event, payload: dict, s: dict):
    issue = payload.get("issue") or {}
    if event.name == "issues":
        if event.action != "opened":
            return None, f"issues {event.action} is not a trigger"
        if s["skip_bots"] and (issue.get("user") or {}).get("type") == "Bot":
            return None, "the issue is by a bot"
        return issue, ""
    if event.name == "issue_comment" and event.action == "created":
        comment = payload.get("comment") or {}
        words = (comment.get("body") or "").strip().split()
        if not words or words[0] != s["command"]:
            return None, "not the triage command"
        if "pull_request" in issue:
            return None, "the command is for issues, not pull requests"
        if comment.get("author_association") not in MAINTAINERS:
            return None, f"{comment.get('author_association')} may not run {s['command']}"
        return issue, ""
    return None, f"{event.name} is not a trigger"


def candidates(defined: list, s: dict) -> list:
    """The labels the model may choose from."""
    names = [lb.name for lb in defined if lb.name not in s["exclude_labels"]]
    if s["only_labels"]:
        names = [n for n in names if n in s["only_labels"]]
    return names


def _render(answer: dict, added: list, allowed: set) -> str:
    lines = [render.safe_markdown(answer["response"], allowed)]
    if answer["missing"]:
        lines += ["", "To move this forward, please add:"]
        lines += [f"- {render.safe_markdown(m, allowed)}" for m in answer["missing"]]
    tail = f"labels added: {', '.join(f'`{x}`' for x in added)}" if added else "no labels added"
    lines += ["", f"<sub>issue-triage: looks like a {answer['kind']}; {tail}</sub>"]
    return "\n".join(lines)


class WitWorld(wit_world.WitWorld):
    def handle(self, event: types.Event, ctx: types.Context) -> str:
        payload = json.loads(event.payload)
        s = json.loads(ctx.settings)
        issue, why = _wanted(event, payload, s)
        if issue is None:
            return json.dumps({"skipped": why})
        number = issue["number"]
        defined = github.list_repo_labels()
        names = candidates(defined, s)
        described = "\n".join(
            f"- {lb.name}: {lb.description}" if lb.description else f"- {lb.name}"
            for lb in defined
            if lb.name in names
        )
        system = SYSTEM + (
            f"\n\nProject guidance:\n{s['instructions']}" if s["instructions"] else ""
        )
        text = f"{issue.get('title') or ''}\n\n{(issue.get('body') or '')[:8000]}"
        messages = [
            llm.Message("system", system),
            llm.Message("user", "Labels you may choose from:\n" + (described or "(none)")),
            llm.Message("user", llm.as_data("issue", text)),
        ]
        sch = schema(names, s["max_labels"])
        reply = llm.chat_json(
            messages, json.dumps(sch), llm.Options(max_tokens=800, temperature=None)
        )
        answer = json.loads(reply.text, strict=False)
        present = {lb.get("name") for lb in issue.get("labels") or []}
        chosen = [x for x in answer["labels"] if x in names][: s["max_labels"]]
        added = [x for x in chosen if x not in present]
        if added:
            github.add_labels(number, added)
        dropped = [x for x in answer["labels"] if x not in names]
        if dropped:
            log.log(log.Level.WARN, f"ignored labels the repository does not offer: {dropped}")
        posted = None
        if s["respond"]:
            allowed = render.urls_in(text)
            posted = github.upsert_comment(number, MARKER, _render(answer, added, allowed)).action
        return json.dumps({"issue": number, "kind": answer["kind"], "labels": added,
                           "comment": posted})  # fmt: skip
