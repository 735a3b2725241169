"""One review of a pull request: what changed since the last one, the
deterministic breaking changes, the model's summary, walkthrough and risks,
the findings maintainers have not dismissed, inline comments, and the one
comment that shows it all. State between pushes lives in the PR's memory."""

import contextlib
import fnmatch
import json

import checks
import comment
import detect
import diffmap
import grounding
import prompts
import render
import settings as config
from componentize_py_types import Err
from state import PARTS, Change, Finding, State, split_json
from surface import NotComparable
from wit_world.imports import github, llm, log, memory, types

STATE_KEY, PAUSED_KEY, ASK_KEY = "review", "paused", "ask"
CHECK_NAME = "flows review"
# reasons a file was not reviewed that are choices, not gaps in the review
_BY_CHOICE = ("ignored by the settings", "binary or empty file")
MAX_FINDINGS = 8  # shown in the comment, highest severity first
VALUE_LIMIT = 48_000  # characters per memory value
TESTS = ("test/", "tests/", "testing/", "__tests__/", "spec/", "test_", "_test.", "conftest.py")
DOCS = (".md", ".rst", ".txt", ".adoc")


def _info(message: str) -> None:
    log.log(log.Level.INFO, message)


def is_test(path: str) -> bool:
    p = path.lower()
    return any(("/" + t) in ("/" + p) for t in TESTS)


def priority(f) -> tuple:
    p = f.filename.lower()
    kind = 1 if is_test(p) else 2 if p.endswith(DOCS) or p.startswith("docs/") else 0
    return (kind, -(f.additions + f.deletions), p)


_parsed: dict[str, list[dict]] = {}


def hunks_of(patch: str) -> list[dict]:
    """A patch as hunks (flows/guest/diff.py, the github integration's parser)."""
    if patch not in _parsed:
        _parsed[patch] = diffmap.parse(patch)
    return _parsed[patch]


FINDING_MARK = "<!-- flows:finding "  # + fingerprint + " -->", hidden in inline comments


def _marker(f: Finding) -> str:
    return f"{FINDING_MARK}{f.fingerprint} -->"


def _inline_body(f: Finding) -> str:
    return (
        f"{comment.ICONS.get(f.severity, '')} **{f.severity}** · {f.rule}: **{f.title}**\n\n"
        f"{f.why}\n\n<sub>Reply `/dismiss [reason]` if this is wrong; a 👍 or 👎 on this "
        f"comment tells flows whether it helped.</sub>\n{_marker(f)}"
    )


def _prose(text: str, cap: int, allowed) -> str:
    """Model text: whole sentences (never cut mid-way at a schema cap), made safe."""
    return render.safe_markdown(render.whole_sentences(text, cap), allowed)


def _description(pr, chars: int) -> str:
    """The PR's title and description (cut to `chars`), as data."""
    return llm.as_data("pull request", f"{pr.title}\n\n{pr.body[:chars]}")


def _check_finding(fp: str, p: checks.Problem, path: str, symbol: str, start, end) -> Finding:
    return Finding(fp, p.category, path, symbol, p.title, p.message, p.severity, start, end,
                   found_by=f"check {p.rule}")  # fmt: skip


def coverage(st: State, reviewed: list[str]) -> tuple[str, str, str]:
    """The check run's conclusion, title and summary: success when every
    file was reviewed as configured, neutral with the reasons otherwise."""
    gaps = {p: w for p, w in st.skipped.items() if not w.startswith(_BY_CHOICE)}
    chosen = {p: w for p, w in st.skipped.items() if p not in gaps}
    lines = [f"Reviewed {len(reviewed)} file(s) at `{st.head_sha[:7]}`."]
    if st.incomplete:
        lines.append(f"- The model's part failed: {st.incomplete}")
    lines += [f"- Not reviewed: `{p}`: {w}" for p, w in sorted(gaps.items())[:200]]
    lines += [f"- Left out by choice: `{p}`: {w}" for p, w in sorted(chosen.items())[:100]]
    if gaps or st.incomplete:
        what = []
        if st.incomplete:
            what.append("the model's part failed")
        if gaps:
            what.append(f"{len(gaps)} file(s) not fully reviewed")
        return "neutral", "Partly reviewed: " + ", ".join(what), "\n".join(lines)
    return "success", f"Reviewed all {len(reviewed)} file(s)", "\n".join(lines)


def _restates(model: Finding, checked: list[Finding]) -> bool:
    """A model risk on the lines of a check's finding, of the same kind."""
    return any(
        c.path == model.path
        and c.rule == model.rule
        and (model.start_line or 0) <= (c.end_line or 0) + 1
        and (c.start_line or 0) <= (model.end_line or 0) + 1
        for c in checked
    )


def _posted(f: Finding) -> dict:
    return {"fingerprint": f.fingerprint, "path": f.path, "start_line": f.start_line,
            "end_line": f.end_line, "rule": f.rule, "severity": f.severity, "title": f.title,
            "found_by": f.found_by}  # fmt: skip


def _change(c: Change) -> dict:
    return {"path": c.path, "line": c.line, "symbol": c.symbol, "kind": c.kind,
            "detail": c.detail, "found_by": c.source}  # fmt: skip


def _mem_finding(f: Finding) -> memory.Finding:
    return memory.Finding(
        f.fingerprint, f.rule, f.path, f.symbol, f.title, f.severity, f.comment_id
    )


def _merge_base(pr, commits) -> str:
    """Where the pull request's diff starts, as GitHub diffs it: the first
    commit's parent, unless the base was merged into the branch since (then
    that parent is older than the merge base GitHub uses)."""
    first = commits[0].parents if commits else []
    if any(len(c.parents) > 1 for c in commits):
        try:
            found = github.compare(pr.base_sha, pr.head_sha).merge_base_sha
            if found:
                return found
        except Err as e:
            log.log(log.Level.WARN, f"merge base of the base branch not known: {e.value}")
    return first[0] if first else pr.base_sha


def repo_settings(ctx: types.Context, branch: str) -> tuple[config.Settings, list[str]]:
    """The flow's settings under .github/flows.yaml of the default branch."""
    flow, problems = json.loads(ctx.settings or "{}"), []
    try:
        text = github.get_file(config.PATH, branch)
    except Err as e:
        text = None
        problems.append(f"{config.PATH}: cannot read it ({e.value}); using defaults")
    s, found = config.load(text, flow)
    return s, problems + found


# -- state in the PR's memory ---------------------------------------------------------


def load_state() -> State:
    maps = {}
    for name in PARTS:
        merged: dict = {}
        for key in memory.list_keys("pr", f"{name}."):
            with contextlib.suppress(ValueError):
                merged.update(json.loads(memory.get("pr", key) or "{}"))
        maps[name] = merged
    return State.from_parts(memory.get("pr", STATE_KEY), maps)


def save_state(s: State) -> None:
    core, maps = s.to_parts()
    memory.put("pr", STATE_KEY, core)
    for name, items in maps.items():
        parts = split_json(items, VALUE_LIMIT)
        for i, part in enumerate(parts):
            memory.put("pr", f"{name}.{i}", part)
        for key in memory.list_keys("pr", f"{name}."):
            if int(key.rsplit(".", 1)[1]) >= len(parts):
                memory.delete("pr", key)


# -- the review -----------------------------------------------------------------------


class Review:
    def __init__(self, payload: dict, number: int, ctx: types.Context, mode: str):
        self.payload, self.number, self.ctx = payload, number, ctx
        self.mode = mode  # auto (a pull_request event), full (/review) or summary (/summary)
        self.settings, self.problems = config.Settings(), []
        self.usage = [0, 0]
        self.calls = 0
        self.splits = 0  # model calls split because they did not fit the window
        self.dropped = 0  # model findings dropped as ungrounded
        self.model = ""

    def run(self) -> dict:
        n = self.number
        pr = github.get_pull_request(n)
        old = load_state()
        if pr.state != "open":
            return self._closed(pr, old)
        repo = self.payload.get("repository") or {}
        branch = str(repo.get("default_branch") or pr.base_ref)
        self.settings, self.problems = repo_settings(self.ctx, branch)
        s = self.settings
        if self.mode == "auto":
            if pr.draft and not s.review_drafts:
                return {"skipped": f"#{n} is a draft (set review_drafts: true to review drafts)"}
            if pr.author_type == "Bot" and not s.review_bots:
                return {"skipped": f"#{n} is by a bot ({pr.author}); set review_bots: true"}
            if memory.get("pr", PAUSED_KEY):
                why = f"automatic reviews are paused on #{n} (/resume)"
                self._receipt(pr.head_sha, "neutral", "Paused", f"Not reviewed: {why}.")
                return {"skipped": why}
            if old.head_sha == pr.head_sha and not old.incomplete:
                return {"skipped": f"#{n} was already reviewed at {pr.head_sha[:7]}"}
        if not old.head_sha:
            github.upsert_comment(
                n,
                comment.MARKER,
                f"## flows review\n\n⏳ Reviewing "
                f"`{pr.head_sha[:7]}`; this comment will show the review.",
            )
        try:
            return self._review(pr, old)
        except Exception as e:  # a clear note in the comment, then the run fails
            why = e.value if isinstance(e, Err) else f"{type(e).__name__}: {e}"
            self._failed(pr, old, str(why))
            raise Err(f"the review of #{n} failed: {why}") from None

    def _closed(self, pr, old: State) -> dict:
        if old.head_sha and old.head_sha != pr.head_sha:
            note = (
                f"This pull request was {pr.state} before `{pr.head_sha[:7]}` was "
                "reviewed; the review below is of the earlier commits."
            )
            body = comment.render(
                old, pr.html_url, self.settings.sections, [], self.ctx.run_id, banner=f"> {note}"
            )
            github.upsert_comment(self.number, comment.MARKER, body)
        return {"skipped": f"#{self.number} is {pr.state}"}

    def _failed(self, pr, old: State, why: str) -> None:
        banner = (
            f"> ⚠️ The review of `{pr.head_sha[:7]}` could not finish: "
            f"{comment.cell(why)[:400]} (run `{self.ctx.run_id}`). Comment `/review` "
            "to try again."
        )
        if old.head_sha:
            body = comment.render(
                old,
                pr.html_url,
                self.settings.sections,
                self.problems,
                self.ctx.run_id,
                banner=banner,
            )
        else:
            body = f"## flows review\n\n{banner}"
        try:
            github.upsert_comment(self.number, comment.MARKER, body)
        except Err as e:
            log.log(log.Level.ERROR, f"could not say so in the comment either: {e.value}")
        self._receipt(pr.head_sha, "failure", "The review failed", f"The review failed: {why}")

    def _review(self, pr, old: State) -> dict:
        n, s = self.number, self.settings
        files = github.list_files(n)
        in_pr = {f.filename for f in files}
        st = State(head_sha=pr.head_sha, model=old.model)
        changed = None
        if self.mode == "auto" and old.head_sha:
            changed = self._since(pr, old, st, in_pr)
        if changed is None:  # a full review
            commits = github.list_commits(n)
            st.base_sha = _merge_base(pr, commits)
            st.ranges, st.commits, changed = [["", pr.head_sha]], len(commits), files
            if self.mode == "summary":  # the risk analysis stays where it was
                st.findings, st.breaking = old.findings, old.breaking
                st.head_sha, st.ranges, st.commits = old.head_sha, old.ranges, old.commits
                if not old.head_sha:
                    st.notes.append(
                        "Summary only (`/summary`): risks and breaking changes "
                        "were not analysed; comment `/review` for them."
                    )
        paths = {f.filename for f in changed}
        st.skipped = {p: w for p, w in st.skipped.items() if p in in_pr and p not in paths}
        st.walkthrough = {p: w for p, w in st.walkthrough.items() if p in in_pr}
        selected = self._select(changed, st)
        hunks = {f.filename: hunks_of(f.patch) for f in selected}
        head = detect.Reader(pr.head_sha)  # head files, each read once
        if self.mode != "summary" and "breaking" in s.sections:
            st.breaking = [c for c in st.breaking if c.path in in_pr and c.path not in paths]
            whole = {f.filename: f.patch for f in files}  # each file's diff against the base
            st.breaking += detect.breaking_changes(
                changed, whole, hunks_of, st.base_sha, head, st.skipped
            )
        _info(f"{len(files)} files in the PR, {len(changed)} to review, {len(selected)} for "
              f"the model; {len(st.breaking)} breaking changes")  # fmt: skip
        allowed = render.urls_in("\n".join([pr.body] + [f.patch or "" for f in selected]))
        checked = self._checks(selected, hunks, head) if self.mode != "summary" else []
        found = []
        if selected:
            try:
                found = self._ask_model(pr, selected, hunks, st, old, allowed)
            except Err as e:  # what is certain is still posted; /review tries the model again
                st.incomplete = comment.cell(str(e.value))[:400]
                log.log(log.Level.WARN, f"the model's part of the review failed: {e.value}")
                st.notes.append(
                    f"The model's part of this review failed ({st.incomplete}); the checks, "
                    "breaking changes and walkthrough lines here are deterministic. Comment "
                    "`/review` to try the model again."
                )
        if st.incomplete and not st.summary:
            st.summary = "_No summary: the model's part of this review failed (see below)._"
        found = checked + [f for f in found if not _restates(f, checked)]
        for f in selected:  # every reviewed file in the walkthrough, model or not
            if f.filename not in st.walkthrough:
                h = hunks[f.filename]
                st.walkthrough[f.filename] = diffmap.describe(f.status, f.previous_filename, h)
        if not selected and not st.summary:
            st.summary = (
                "This pull request changes no files."
                if not files
                else "Nothing here for the model to read: every changed file is ignored, "
                "binary or too large (see below)."
            )
        posted = {}
        if self.mode != "summary":
            posted = self._feedback()
            st.findings = self._keep(st.findings + found, st)
            self._inline(pr, st.findings, posted)
            for f in st.findings:
                f.comment_id = posted.get(f.fingerprint, f.comment_id)
            memory.record_findings([_mem_finding(f) for f in st.findings])
        body = comment.render(st, pr.html_url, s.sections, self.problems, self.ctx.run_id)
        made = github.upsert_comment(n, comment.MARKER, body)
        save_state(st)
        receipt = self._receipt(pr.head_sha, *coverage(st, [f.filename for f in selected]))
        if st.summary:
            memory.note_pull_request(st.summary[:2000], sorted(in_pr)[:200])
        return {
            "pull_request": n,
            "mode": self.mode if len(st.ranges) < 2 or self.mode != "auto" else "incremental",
            "range": st.ranges[-1] if st.ranges else [],
            "comment": {"id": made.id, "action": made.action},
            "files_reviewed": sorted(f.filename for f in selected if f.filename not in st.skipped),
            "not_reviewed": st.skipped,
            "findings": [_posted(f) for f in st.findings],
            "breaking": [_change(c) for c in st.breaking],
            "model_calls": self.calls,
            "model_splits": self.splits,
            "model_findings_dropped": self.dropped,
            "tokens": {"prompt": self.usage[0], "completion": self.usage[1]},
            "model_failed": st.incomplete or None,
            "check_run": receipt,
        }

    def _receipt(self, sha: str, conclusion: str, title: str, summary: str) -> str | None:
        """The check run "flows review" on the head commit: what was and was
        not reviewed. A refusal (no checks permission) is logged, not fatal."""
        run = github.CheckRun(
            name=CHECK_NAME, head_sha=sha, status="completed", conclusion=conclusion,
            title=title, summary=summary[:60_000], text=None,
        )  # fmt: skip
        try:
            github.create_check_run(run)
        except Err as e:
            log.log(log.Level.WARN, f"could not create the {CHECK_NAME!r} check run: {e.value}")
            return None
        return conclusion

    def _since(self, pr, old: State, st: State, in_pr: set) -> list | None:
        """The files changed since the last reviewed commit, with the earlier
        review carried over; None when a full review is needed (force-push)."""
        try:
            cmp = github.compare(old.head_sha, pr.head_sha)
        except Err as e:
            cmp = None
            log.log(log.Level.WARN, f"compare from {old.head_sha[:7]} failed: {e.value}")
        if cmp is None or cmp.status != "ahead":
            st.notes.append(
                f"The earlier reviewed commit `{old.head_sha[:7]}` is no longer part "
                "of this branch (force-push or rebase), so the whole pull request "
                "was reviewed again."
            )
            return None
        changed = [f for f in cmp.files if f.filename in in_pr]
        st.base_sha, st.summary, st.model = old.base_sha, old.summary, old.model
        st.ranges = [*old.ranges, [old.head_sha, pr.head_sha]]
        st.commits = old.commits + len(cmp.commits)
        st.walkthrough, st.skipped, st.breaking = (
            dict(old.walkthrough),
            dict(old.skipped),
            list(old.breaking),
        )
        moved = {f.previous_filename: f for f in changed if f.previous_filename}
        now = {f.filename: f for f in changed}
        for f in old.findings:
            g = now.get(f.path) or moved.get(f.path)
            if g is None:
                st.findings.append(f)
                continue
            h = hunks_of(g.patch) if g.patch else None
            start = diffmap.map_line(h, f.start_line) if h and f.start_line else None
            end = diffmap.map_line(h, f.end_line) if h and f.end_line else None
            if start is not None and end is not None and g.status != "removed":
                f.path, f.start_line, f.end_line = g.filename, start, end
                st.findings.append(f)
        _info(f"incremental review of {len(cmp.commits)} new commits, {len(changed)} files")
        return changed

    def _select(self, changed: list, st: State) -> list:
        """The files the model reads; every other one is disclosed with why."""
        s, chosen = self.settings, []
        for f in sorted(changed, key=priority):
            name, lines = f.filename, f.additions + f.deletions
            glob = next((g for g in s.ignore if fnmatch.fnmatch(name, g)), None)
            if glob:
                st.skipped[name] = f"ignored by the settings (`{glob}`)"
            elif f.patch:
                if len(chosen) < s.max_files:
                    chosen.append(f)
                else:
                    st.skipped[name] = f"over the max_files setting ({s.max_files})"
            elif f.status == "renamed" and not lines:
                st.walkthrough[name] = f"Renamed from `{f.previous_filename}`, unchanged."
            elif lines:
                st.skipped[name] = (
                    f"its diff ({lines} changed lines) is too large for GitHub to send"
                )
            elif f.status == "removed":
                st.walkthrough[name] = "Removed (it was empty or binary)."
            else:
                st.skipped[name] = "binary or empty file"
        return chosen

    # -- the model ----------------------------------------------------------------------

    def _took(self, reply) -> dict:
        """A reply's JSON, its usage counted."""
        self.calls += 1
        self.usage[0] += reply.usage.prompt_tokens
        self.usage[1] += reply.usage.completion_tokens
        self.model = reply.model
        return json.loads(reply.text)

    def _ask_model(self, pr, selected, hunks, st: State, old: State, allowed) -> list:
        """Every chunk of the diff, and the overview when there is more than
        one, asked at once; each answer kept only for the files it read."""
        s = self.settings
        kind = "summary" if self.mode == "summary" else "review"
        risks = kind == "review" and "risks" in s.sections
        model_breaking = kind == "review" and "breaking" in s.sections
        query = f"{pr.title}\n{pr.body[:500]}"
        paths = [f.filename for f in selected]
        recalled = memory.recall(query, paths[:100], 12)
        mem = [
            (r.kind, r.text if r.kind == "convention" else f"#{r.ref}: {r.text}") for r in recalled
        ]
        system = prompts.system(kind, s.language, s.instructions, mem)
        window = llm.context_window()
        number = {}  # a document's label -> (its file number, the file)
        docs = []
        for i, f in enumerate(selected, 1):
            label = f"#{i} {f.filename}"
            number[label] = (i, f)
            text = diffmap.numbered(f.status, hunks[f.filename], f.previous_filename)
            docs.append(llm.Document(label, text))
        opts = llm.Options(max_tokens=prompts.reply_tokens(window, min(len(docs), 40)),
                           temperature=None)  # fmt: skip
        every = list(range(1, len(docs) + 1))[-40:]  # a chunk's schema is about this big
        before = old.summary if len(st.ranges) > 1 else ""
        desc = _description(pr, min(4000, window // 2))
        one = not before  # one chunk and nothing before: it writes the summary itself
        packing = None
        if one:
            schema = prompts.review_schema(every, True, risks, model_breaking)
            packing = llm.pack(system, desc, docs, s.max_chunks, schema, opts)
            one = len(packing.chunks) <= 1
        if not one:  # the overview writes the summary, beside the chunks
            desc = _description(pr, min(600, window // 8))
            schema = prompts.review_schema(every, False, risks, model_breaking)
            packing = llm.pack(system, desc, docs, s.max_chunks, schema, opts)
        for p in packing.partial:
            st.skipped[number[p][1].filename] = (
                "partly reviewed: its diff was cut to fit the model's context"
            )
        for p in packing.left_out:
            st.skipped[number[p][1].filename] = (
                f"not reviewed: over this review's budget of {s.max_chunks} model calls "
                "(the max_chunks setting)"
            )
        calls = []
        for chunk in packing.chunks:
            nums = sorted({number[d.id][0] for d in chunk})
            schema = prompts.review_schema(nums, one, risks, model_breaking)
            calls.append(llm.Call(system, desc, chunk, schema, opts))
        if not one:
            calls.append(self._overview(pr, selected, hunks, before, window))
        answers = llm.chat_batch(calls, 3 * len(calls) + 4)  # room for splits and repairs
        self.model = st.model
        summaries, found, failed = [], [], []
        for answer in answers[: len(packing.chunks)]:
            self.splits += answer.splits
            for part in answer.parts:
                read = {number[d][0]: number[d][1].filename for d in part.documents}
                if part.reply is None:
                    failed.append(part.error or "no reply")
                    why = comment.cell(failed[-1])[:200]
                    for path in read.values():
                        st.skipped[path] = f"not reviewed: the model's call failed ({why})"
                    continue
                data = self._took(part.reply)
                if data.get("summary"):
                    summaries.append(_prose(data["summary"], prompts.SUMMARY_CHARS, allowed))
                for item in data["files"]:
                    if item["file"] in read:
                        st.walkthrough[read[item["file"]]] = _prose(
                            item["change"], prompts.CHANGE_CHARS, allowed
                        )
                for r in data.get("risks", []):
                    if r["file"] in read:
                        f = self._finding({**r, "path": read[r["file"]]}, hunks, allowed)
                        if f is not None:
                            found.append(f)
                for b in data.get("breaking", []):
                    if b["file"] in read:
                        self._model_breaking({**b, "path": read[b["file"]]}, hunks, st, allowed)
        if not one:
            parts = answers[-1].parts
            got = [p.reply for p in parts if p.reply is not None]
            summaries = [_prose(self._took(r)["summary"], prompts.SUMMARY_CHARS, allowed)
                         for r in got[:1]]  # fmt: skip
            if not got:
                failed.append(parts[0].error if parts else "no reply")
                st.notes.append(f"No summary: the model's call for it failed "
                                f"({comment.cell(failed[-1])[:200]}).")  # fmt: skip
        if failed and not self.calls:
            raise Err(failed[0])
        st.model = self.model
        st.summary = " ".join(summaries) if summaries else before
        return found

    def _overview(self, pr, selected, hunks, before: str, window: int):
        """The call that writes the summary of a PR too big for one call: its
        description, the summary before the latest push, and every changed
        file with the functions its hunks touch."""
        lines = []
        for f in selected:
            sections = list(dict.fromkeys(h["section"] for h in hunks[f.filename] if h["section"]))
            where = f": {'; '.join(sections)[:160]}" if sections else ""
            lines.append(f"{f.filename} ({f.status}, +{f.additions} -{f.deletions}){where}")
        preamble = _description(pr, min(4000, window // 4))
        if before:
            preamble += "\n\n" + llm.as_data("summary before the latest push", before)
        system = prompts.system("overview", self.settings.language, "", [])
        opts = llm.Options(max_tokens=400, temperature=None)
        doc = [llm.Document("changed files", "\n".join(lines))]
        schema = prompts.summary_schema()
        fit = llm.pack(system, preamble, doc, 1, schema, opts)
        return llm.Call(system, preamble, fit.chunks[0] if fit.chunks else [], schema, opts)

    def _model_breaking(self, b: dict, hunks: dict, st: State, allowed) -> None:
        """Keep a model's breaking row only when the cited file's removed or
        changed lines hold what it names; merge it into a deterministic row
        about the same thing."""
        h = hunks.get(b["path"]) or []
        names = grounding.breaking_grounded(b["what"], b["change"], h)
        if not names:
            self.dropped += 1
            _info(f"dropped a model breaking change on {b['path']}: it names nothing "
                  "the diff removes or changes")  # fmt: skip
            return
        if any(grounding.same_thing(names, c.symbol) for c in st.breaking):
            return  # already there, found deterministically
        if not grounding.described(b["change"]):
            self.dropped += 1
            _info(f"dropped a model breaking change on {b['path']}: it does not say in words "
                  "what changed")  # fmt: skip
            return
        span = diffmap.anchor(h, b["line"], b["line"]) if h else None
        st.breaking.append(
            Change(
                b["path"],
                span[0] if span else None,
                max(names, key=len),
                "model",
                _prose(b["change"], prompts.CHANGE_CHARS, allowed),
                _prose(b["who"], prompts.CHANGE_CHARS, allowed),
                "model",
            )
        )

    def _finding(self, r: dict, hunks: dict, allowed) -> Finding | None:
        h = hunks.get(r["path"])
        span = diffmap.anchor(h, r["start_line"], r["end_line"]) if h else None
        if span is None:
            _info(
                f"dropped a finding on {r['path']} lines {r['start_line']}-{r['end_line']}: "
                "not lines of the diff"
            )
            return None
        if not grounding.risk_grounded(r["title"], r["why"], h, *span):
            self.dropped += 1
            _info(f"dropped a model finding on {r['path']} lines {span[0]}-{span[1]}: the lines "
                  "it cites do not hold what it names, or are not changed lines")  # fmt: skip
            return None
        symbol = diffmap.symbol_at(h, span[0])
        fp = diffmap.fingerprint(r["rule"], r["path"], symbol, diffmap.code_at(h, *span))
        return Finding(
            fp,
            r["rule"],
            r["path"],
            symbol,
            _prose(r["title"], prompts.TITLE_CHARS, allowed),
            _prose(r["why"], prompts.WHY_CHARS, allowed),
            r["severity"],
            *span,
        )

    # -- findings, feedback and inline comments --------------------------------------------

    def _checks(self, selected: list, hunks: dict, head) -> list[Finding]:
        """The deterministic checks on the added lines of changed Python files."""
        out = []
        off = frozenset(self.settings.disabled_checks)
        for f in selected:
            if not f.filename.endswith(".py") or f.status == "removed":
                continue
            h = hunks[f.filename]
            added = {n for n, _t in diffmap.added_lines(h)}
            if not added:
                continue
            try:
                text = head(f.filename)
            except NotComparable as e:
                _info(f"{f.filename}: not checked ({e})")
                continue
            problems, why = checks.run(f.filename, text or "", added, off)
            if why:
                _info(f"{f.filename}: {why}")
            for p in problems:
                symbol = diffmap.symbol_at(h, p.line)
                code = diffmap.code_at(h, p.line, p.end_line)
                fp = diffmap.fingerprint(p.rule, f.filename, symbol, code)
                where = (f.filename, symbol, p.line, p.end_line)
                out.append(_check_finding(fp, p, *where))
        if out:
            _info(f"{len(out)} problem(s) found by the deterministic checks")
        return out

    def _feedback(self) -> dict:
        """This flow's inline comments by fingerprint; 👍/👎 on them recorded."""
        posted = {}
        for c in github.list_review_comments(self.number):
            if c.in_reply_to is not None or FINDING_MARK not in c.body:
                continue
            fp = c.body.split(FINDING_MARK, 1)[1].split(" ", 1)[0]
            posted[fp] = c.id
            if c.minus_one > c.plus_one:
                memory.set_finding_status(fp, "dismissed", "👎 on its review comment")
            elif c.plus_one > c.minus_one:
                memory.set_finding_status(fp, "accepted", "👍 on its review comment")
        return posted

    def _keep(self, findings: list, st: State) -> list:
        """Distinct findings that maintainers have not dismissed, worst first, capped."""
        unique = {}
        for f in findings:
            unique.setdefault(f.fingerprint, f)
        candidates = list(unique.values())
        dropped = set(memory.suppressed([_mem_finding(f) for f in candidates]))
        if dropped:
            _info(f"{len(dropped)} finding(s) not raised again: dismissed before")
        kept = sorted(
            (f for f in candidates if f.fingerprint not in dropped), key=lambda f: -f.rank
        )
        if len(kept) > MAX_FINDINGS:
            st.notes.append(f"{len(kept) - MAX_FINDINGS} lower-severity findings are not shown.")
        return kept[:MAX_FINDINGS]

    def _inline(self, pr, findings: list, posted: dict) -> None:
        s = self.settings
        if not s.inline_comments:
            return
        new = [
            f
            for f in findings
            if f.fingerprint not in posted and f.start_line and f.at_least(s.inline_min_severity)
        ]
        if not new:
            return
        notes = [
            github.ReviewComment(
                path=f.path,
                line=f.end_line,
                start_line=f.start_line if f.start_line != f.end_line else None,
                side=github.Side.RIGHT,
                body=_inline_body(f),
            )
            for f in new
        ]
        made = github.create_review(
            self.number,
            pr.head_sha,
            f"flows: {len(new)} {s.inline_min_severity}-severity or worse "
            "risk(s) found; the summary comment has the whole review.",
            notes,
        )
        _info(f"review {made.id}: {made.posted} inline, {len(made.folded)} folded")
        if made.posted:
            posted.update(self._feedback())
