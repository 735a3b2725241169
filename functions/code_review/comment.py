"""The one review comment: summary, walkthrough, risks, breaking changes,
what was not reviewed, the commit range, and a hidden state marker. Model
text is made safe (render.safe_markdown) before it gets here. Pure Python."""

import hashlib
import json
from collections import defaultdict

from state import State

MARKER = "code-review"
ICONS = {"critical": "🛑", "high": "🔴", "medium": "🟠", "low": "🟡"}
MAX_BREAKING_ROWS = 40  # caps that keep the comment under GitHub's 65536 characters
MAX_WALKTHROUGH_ROWS = 150
MAX_SKIPPED_ROWS = 50
GROUP_OVER = 25  # files: above this, the walkthrough is grouped by folder
SOURCES = {"api": "API diff", "schema": "migration", "model": "model"}


def cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def diff_link(pr_url: str, path: str, start: int | None, end: int | None) -> str:
    """GitHub's link to lines of a file in the pull request's diff."""
    anchor = "diff-" + hashlib.sha256(path.encode()).hexdigest()
    if start is not None:
        anchor += f"R{start}" + (f"-R{end}" if end and end != start else "")
    return f"{pr_url}/files#{anchor}"


def where(pr_url: str, path: str, start: int | None, end: int | None) -> str:
    lines = "" if start is None else f" L{start}" + (f"-{end}" if end and end != start else "")
    return f"[`{cell(path)}`{lines}]({diff_link(pr_url, path, start, end)})"


def _walkthrough(walk: dict) -> list[str]:
    def table(items):
        rows = ["| File | Change |", "| --- | --- |"]
        rows += [f"| `{cell(p)}` | {cell(c)} |" for p, c in items]
        return rows

    items = sorted(walk.items())
    more = []
    if len(items) > MAX_WALKTHROUGH_ROWS:
        more = ["", f"…and {len(items) - MAX_WALKTHROUGH_ROWS} more files."]
        items = items[:MAX_WALKTHROUGH_ROWS]
    if len(items) <= GROUP_OVER:
        return table(items) + more
    groups = defaultdict(list)
    for p, c in items:
        groups["/".join(p.split("/")[:2]) if p.count("/") > 1 else p.split("/")[0]].append((p, c))
    out = []
    for name, members in sorted(groups.items()):
        out += [
            "<details>",
            f"<summary><code>{cell(name)}</code>: {len(members)} files</summary>",
            "",
            *table(members),
            "",
            "</details>",
        ]
    return out + more


def _risks(s: State, pr_url: str) -> list[str]:
    if not s.findings:
        return ["No risks found in the reviewed changes."]
    out = []
    for i, f in enumerate(sorted(s.findings, key=lambda f: (-f.rank, f.path)), 1):
        icon = ICONS.get(f.severity, "")
        out.append(
            f"{i}. {icon} **{f.severity}** · {where(pr_url, f.path, f.start_line, f.end_line)}"
            f" · {f.rule}: **{cell(f.title)}**  "
        )
        out.append(f"   {cell(f.why)} <sub>found by: {cell(f.found_by)}</sub>")
    return out


def _breaking(s: State, pr_url: str) -> list[str]:
    if not s.breaking:
        return ["None found."]
    rows = [
        "| What | Change | Where | Who is affected | Found by |",
        "| --- | --- | --- | --- | --- |",
    ]
    ordered = sorted(s.breaking, key=lambda c: (c.source != "api", c.path, c.line or 0))
    for c in ordered[:MAX_BREAKING_ROWS]:
        rows.append(
            f"| `{cell(c.symbol)}` | {cell(c.detail)} | "
            f"{where(pr_url, c.path, c.line, None)} | {cell(c.who)} | "
            f"{SOURCES.get(c.source, c.source)} |"
        )
    rest = ordered[MAX_BREAKING_ROWS:]
    if rest:
        paths = sorted({c.path for c in rest})
        more = ", ".join(f"`{cell(p)}`" for p in paths[:20]) + (" …" if len(paths) > 20 else "")
        rows += ["", f"…and {len(rest)} more in {more}"]
    return rows


def _skipped(skipped: dict) -> list[str]:
    items = sorted(skipped.items())
    out = [f"- `{cell(p)}`: {cell(why)}" for p, why in items[:MAX_SKIPPED_ROWS]]
    rest = defaultdict(int)
    for _p, why in items[MAX_SKIPPED_ROWS:]:
        rest[why] += 1
    out += [f"- …and {n} more: {cell(why)}" for why, n in sorted(rest.items())]
    return out


def render(
    s: State,
    pr_url: str,
    sections: list[str],
    problems: list[str],
    run_id: str,
    banner: str = "",
) -> str:
    """The comment's Markdown (the github integration adds the marker line)."""
    out = ["## flows review", ""]
    if banner:
        out += [banner, ""]
    if "summary" in sections:
        out += ["### Summary", "", s.summary or "_No summary yet._", ""]
    if "walkthrough" in sections and s.walkthrough:
        out += ["### Walkthrough", "", *_walkthrough(s.walkthrough), ""]
    if "risks" in sections:
        out += ["### Risks", "", *_risks(s, pr_url), ""]
    if "breaking" in sections:
        out += ["### Breaking changes", "", *_breaking(s, pr_url), ""]
    if "not-reviewed" in sections:
        out += ["### Not reviewed", ""]
        if s.skipped:
            out += _skipped(s.skipped)
        else:
            out.append("Every changed file was reviewed.")
        out.append("")
    if s.notes:
        out += [f"> {cell(n)}" for n in s.notes] + [""]
    if problems:
        out += ["<details><summary>Settings problems (defaults used)</summary>", ""]
        out += [f"- {cell(p)}" for p in problems] + ["", "</details>", ""]
    if s.ranges:
        first, last = s.ranges[0][0] or s.base_sha, s.ranges[-1][1]
        inc, plural = "", "" if s.commits == 1 else "s"
        if len(s.ranges) > 1:
            inc = f"; last push reviewed incrementally from `{s.ranges[-1][0][:7]}`"
        out.append(
            f"<sub>Reviewed `{first[:7]}..{last[:7]}` ({s.commits} commit{plural}{inc})"
            f"{f' with {cell(s.model)}' if s.model else ''} · run `{run_id}` · "
            "`/help` for commands</sub>"
        )
    hidden = {
        "head": s.head_sha,
        "base": s.base_sha,
        "findings": [f.fingerprint for f in s.findings],
    }
    out.append(f"<!-- flows:code-review:state {json.dumps(hidden)} -->")
    return "\n".join(out)
