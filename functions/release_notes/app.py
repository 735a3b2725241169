"""release-notes: draft notes from the pull requests merged since the last release.

On demand: a maintainer comments `/release-notes [TAG]` on any issue or PR.
The merged PRs into the default branch since the latest release are grouped
into sections by label (deterministic; titles as their authors wrote them),
the model adds a short highlights paragraph, and the draft is posted as a
reply; with a TAG and `create_draft`, also as a draft GitHub release.
Settings: see flow.yaml.
"""

import json
import re

import render
import wit_world
from wit_world.imports import github, llm, log, types

MAINTAINERS = {"OWNER", "MEMBER", "COLLABORATOR"}
TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
HIGHLIGHTS = (
    "You write the highlights of a software release for its users from the merged pull "
    "requests. Two to four plain sentences on what matters most to users; no list, no "
    "preamble, no version number. Reply with JSON."
)
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["highlights"],
    "properties": {"highlights": {"type": "string", "maxLength": 800}},
}


def _command(event: types.Event, payload: dict, s: dict):
    """(tag or "", None) when this is a maintainer's command, else (None, why not)."""
    if event.name != "issue_comment" or event.action != "created":
        return None, f"{event.name} is not a trigger"
    comment = payload.get("comment") or {}
    words = (comment.get("body") or "").strip().split()
    if not words or words[0] != s["command"]:
        return None, "not the release-notes command"
    if comment.get("author_association") not in MAINTAINERS:
        return None, f"{comment.get('author_association')} may not run {s['command']}"
    tag = words[1] if len(words) > 1 else ""
    if tag and not TAG.match(tag):
        return None, f"{tag!r} is not a tag name"
    return tag, ""


def sections(pulls: list, s: dict) -> list:
    """[(title, [pull, ...]), ...] in the configured order, empty sections left out."""
    groups = [(sec["title"], set(sec["labels"]), []) for sec in s["sections"]]
    other = []
    for p in pulls:
        if set(p.labels) & set(s["exclude_labels"]):
            continue
        home = next((g for g in groups if set(p.labels) & g[1]), None)
        (home[2] if home else other).append(p)
    out = [(title, items) for title, _, items in groups if items]
    return out + ([("Other changes", other)] if other else [])


def render_notes(tag: str, since, grouped: list, highlights: str) -> str:
    title = f"## {tag}" if tag else "## Release notes (draft)"
    lines = [title, ""]
    if highlights:
        lines += [render.safe_markdown(highlights), ""]
    for name, items in grouped:
        lines += [f"### {name}", ""]
        for p in items:
            who = f" by @{p.author}" if p.author and p.author_type != "Bot" else ""
            lines.append(f"- {render.safe_markdown(p.title)} ({p.html_url}){who}")
        lines.append("")
    ref = f"since {since.tag_name}" if since else "since the first commit"
    count = sum(len(items) for _, items in grouped)
    lines.append(f"<sub>release-notes: {count} pull requests merged {ref}</sub>")
    return "\n".join(lines)


class WitWorld(wit_world.WitWorld):
    def handle(self, event: types.Event, ctx: types.Context) -> str:
        payload = json.loads(event.payload)
        s = json.loads(ctx.settings)
        tag, why = _command(event, payload, s)
        if tag is None:
            return json.dumps({"skipped": why})
        number = payload["issue"]["number"]
        branch = (payload.get("repository") or {}).get("default_branch") or "main"
        since = github.latest_release()
        pulls = github.list_merged_pulls(
            branch, since.published_at if since else "", s["max_pulls"]
        )
        grouped = sections(pulls, s)
        if not grouped:
            ref = since.tag_name if since else "the first commit"
            github.create_comment(
                number, f"No pull requests were merged into `{branch}` since {ref}."
            )
            return json.dumps({"pulls": 0})
        highlights = ""
        if s["highlights"]:
            listing = "\n".join(f"- {p.title}: {p.body[:300]}" for _, ps in grouped for p in ps)
            data = llm.as_data("merged pull requests", listing[:30000])
            messages = [llm.Message("system", HIGHLIGHTS), llm.Message("user", data)]
            reply = llm.chat_json(
                messages, json.dumps(SCHEMA), llm.Options(max_tokens=400, temperature=None)
            )
            highlights = json.loads(reply.text, strict=False)["highlights"]
        notes = render_notes(tag, since, grouped, highlights)
        release = None
        if tag and s["create_draft"]:
            made = github.create_release(tag, tag, notes, True, branch)
            release = made.html_url
            log.log(log.Level.INFO, f"draft release {tag} created")
        reply_text = notes + (f"\n\nDraft release: {release}" if release else "")
        github.create_comment(number, reply_text)
        count = sum(len(ps) for _, ps in grouped)
        return json.dumps({"pulls": count, "tag": tag or None, "draft_release": release})
