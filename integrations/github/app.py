"""The github integration: the GitHub API flows use, over the host's github-api.

Pagination, diff hunks, comment markers, review-line validation and mention
neutralization live here, inside the sandbox; the host adds authentication
and confines every call to the event's repository.
"""

import base64
import binascii
import contextlib
import json
import urllib.parse

import diff
import text
from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import github as gh
from wit_world.imports import github_api, log

PER_PAGE = 100
MAX_PAGES = 30  # GitHub lists at most 3000 files of a pull request
REACTIONS = {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}
CHECK_STATUS = {"queued", "in_progress", "completed"}
SIDES = {gh.Side.LEFT: "LEFT", gh.Side.RIGHT: "RIGHT"}


def _repo() -> str:
    repo = github_api.repository()
    if repo is None:
        raise Err("this event has no repository")
    return repo


def _call(method, path, query=None, body=None, accept=None, allow=()):
    """One request; statuses >= 400 raise Err unless listed in `allow`."""
    req = github_api.Request(
        method=method,
        path=path,
        query=list((query or {}).items()),
        body=None if body is None else json.dumps(body),
        accept=accept,
    )
    try:
        resp = github_api.send(req)
    except Err as e:
        raise Err(f"{method} {path}: {e.value}") from None
    if resp.status >= 400 and resp.status not in allow:
        raise Err(f"{method} {path}: GitHub answered {resp.status} {_message(resp)}".rstrip())
    return resp


def _message(resp) -> str:
    try:
        data = json.loads(resp.body)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    message = str(data.get("message") or "")
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        details = [e.get("message") or e.get("code") if isinstance(e, dict) else e for e in errors]
        message += " (" + "; ".join(str(d) for d in details if d) + ")"
    return message


def _json(resp):
    try:
        return json.loads(resp.body) if resp.body else None
    except ValueError:
        raise Err(f"GitHub sent a body that is not JSON ({len(resp.body)} bytes)") from None


def _has_next(resp) -> bool:
    for name, value in resp.headers:
        if name == "link":
            return 'rel="next"' in value
    return False


def _paginate(path, key=None):
    """Every item of a list endpoint (`key`: the list inside an object page)."""
    items = []
    for page in range(1, MAX_PAGES + 1):
        resp = _call("GET", path, {"per_page": str(PER_PAGE), "page": str(page)})
        batch = _json(resp)
        if key is not None and isinstance(batch, dict):
            batch = batch.get(key)
        if not isinstance(batch, list):
            raise Err(f"GET {path}: expected a list")
        items.extend(batch)
        if not _has_next(resp):
            return items
    log.log(log.Level.WARN, f"GET {path}: stopped after {MAX_PAGES} pages")
    return items


def _login(d) -> tuple[str, str]:
    user = d.get("user") or d.get("author") or {}
    return (user.get("login") or "", user.get("type") or "")


def _pull(d) -> gh.PullRequest:
    author, kind = _login(d)
    return gh.PullRequest(
        number=d["number"],
        title=d.get("title") or "",
        body=d.get("body") or "",
        state=d.get("state") or "",
        draft=bool(d.get("draft")),
        author=author,
        author_type=kind,
        base_ref=d["base"]["ref"],
        base_sha=d["base"]["sha"],
        head_ref=d["head"]["ref"],
        head_sha=d["head"]["sha"],
        additions=d.get("additions") or 0,
        deletions=d.get("deletions") or 0,
        changed_files=d.get("changed_files") or 0,
        html_url=d.get("html_url") or "",
    )


def _file(f) -> gh.ChangedFile:
    return gh.ChangedFile(
        filename=f["filename"],
        previous_filename=f.get("previous_filename"),
        status=f.get("status") or "modified",
        additions=f.get("additions") or 0,
        deletions=f.get("deletions") or 0,
        patch=f.get("patch"),
    )


def _commit(c) -> gh.Commit:
    detail = c.get("commit") or {}
    author = (c.get("author") or {}).get("login") or (detail.get("author") or {}).get("name") or ""
    return gh.Commit(
        sha=c["sha"],
        message=detail.get("message") or "",
        author=author,
        parents=[p["sha"] for p in c.get("parents") or [] if "sha" in p],
    )


def _comment(c) -> gh.Comment:
    author, kind = _login(c)
    return gh.Comment(
        id=c["id"],
        author=author,
        author_type=kind,
        body=c.get("body") or "",
        created_at=c.get("created_at") or "",
        updated_at=c.get("updated_at") or "",
        html_url=c.get("html_url") or "",
    )


def _review_comment(c) -> gh.ReviewThreadComment:
    author, kind = _login(c)
    reactions = c.get("reactions") or {}
    return gh.ReviewThreadComment(
        id=c["id"],
        in_reply_to=c.get("in_reply_to_id"),
        path=c.get("path") or "",
        line=c.get("line"),
        author=author,
        author_type=kind,
        body=c.get("body") or "",
        plus_one=reactions.get("+1") or 0,
        minus_one=reactions.get("-1") or 0,
    )


def _release(r) -> gh.Release:
    return gh.Release(
        id=r["id"],
        tag_name=r.get("tag_name") or "",
        name=r.get("name") or "",
        body=r.get("body") or "",
        draft=bool(r.get("draft")),
        prerelease=bool(r.get("prerelease")),
        published_at=r.get("published_at") or "",
        html_url=r.get("html_url") or "",
    )


def _merged(p) -> gh.MergedPull:
    author, kind = _login(p)
    return gh.MergedPull(
        number=p["number"],
        title=p.get("title") or "",
        body=p.get("body") or "",
        author=author,
        author_type=kind,
        labels=[lb.get("name") or "" for lb in p.get("labels") or []],
        merged_at=p.get("merged_at") or "",
        html_url=p.get("html_url") or "",
    )


def _hunk(h: diff.Hunk) -> gh.Hunk:
    kinds = {"context": gh.LineKind.CONTEXT, "added": gh.LineKind.ADDED,
             "removed": gh.LineKind.REMOVED}  # fmt: skip
    return gh.Hunk(
        old_start=h.old_start,
        old_lines=h.old_lines,
        new_start=h.new_start,
        new_lines=h.new_lines,
        section=h.section,
        lines=[gh.DiffLine(kinds[ln.kind], ln.old, ln.new, ln.text) for ln in h.lines],
    )


def _write(body: str) -> str:
    return text.fit(text.neutralize_mentions(body))


def _marker(marker: str) -> str:
    try:
        return text.marker_line(marker)
    except ValueError as e:
        raise Err(str(e)) from None


def _ours(comments, marker_line: str):
    try:
        me = github_api.viewer().lower()
    except Err as e:
        raise Err(f"cannot tell which comments are this app's: {e.value}") from None
    return [c for c in comments
            if marker_line in (c.get("body") or "") and _login(c)[0].lower() == me]  # fmt: skip


def _check_run_body(run: gh.CheckRun) -> dict:
    if run.status not in CHECK_STATUS:
        raise Err(f"check run status {run.status!r}: use one of {sorted(CHECK_STATUS)}")
    body = {
        "name": run.name,
        "head_sha": run.head_sha,
        "status": run.status,
        "output": {
            "title": text.fit(run.title, 1000),
            "summary": text.fit(text.neutralize_mentions(run.summary)),
        },
    }
    if run.text:
        body["output"]["text"] = text.fit(text.neutralize_mentions(run.text))
    if run.conclusion:
        body["conclusion"] = run.conclusion
    if run.status == "completed" and not run.conclusion:
        raise Err("a completed check run needs a conclusion")
    return body


def _fold(body: str, folded: list) -> str:
    if not folded:
        return body
    notes = ["", "", "**Notes on lines outside the diff**", ""]
    for c, why in folded:
        where = f"{c.start_line}-{c.line}" if c.start_line else str(c.line)
        notes.append(f"- `{c.path}` line {where} ({why}): {c.body}")
    return body + "\n".join(notes)


def _newest(pulls, limit):
    pulls.sort(key=lambda p: p["merged_at"], reverse=True)
    return [_merged(p) for p in pulls[: max(0, limit)]]


class Github(exports.Github):
    def get_pull_request(self, number: int) -> gh.PullRequest:
        return _pull(_json(_call("GET", f"/repos/{_repo()}/pulls/{number}")))

    def list_files(self, number: int) -> list[gh.ChangedFile]:
        return [_file(f) for f in _paginate(f"/repos/{_repo()}/pulls/{number}/files")]

    def parse_patch(self, patch: str) -> list[gh.Hunk]:
        try:
            return [_hunk(h) for h in diff.parse_patch(patch)]
        except diff.PatchError as e:
            raise Err(f"not a unified diff: {e}") from None

    def get_file(self, path: str, ref: str) -> str | None:
        quoted = urllib.parse.quote(path.lstrip("/"))
        resp = _call("GET", f"/repos/{_repo()}/contents/{quoted}", {"ref": ref}, allow=(404,))
        if resp.status == 404:
            return None
        data = _json(resp)
        if not isinstance(data, dict) or data.get("type") != "file":
            raise Err(f"{path} at {ref} is not a file")
        if data.get("encoding") == "base64":
            try:
                raw = base64.b64decode(data.get("content") or "")
            except (binascii.Error, ValueError):
                raise Err(f"{path}: GitHub sent content that is not base64") from None
        else:  # over 1 MB: GitHub leaves `content` empty; ask for the raw bytes
            raw = _call("GET", f"/repos/{_repo()}/contents/{quoted}", {"ref": ref},
                        accept="application/vnd.github.raw").body.encode()  # fmt: skip
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Err(f"{path} at {ref} is not UTF-8 text") from None

    def compare(self, base: str, head: str) -> gh.Comparison:
        path = f"/repos/{_repo()}/compare/{urllib.parse.quote(base)}...{urllib.parse.quote(head)}"
        resp = _call("GET", path, {"per_page": str(PER_PAGE), "page": "1"})
        first = _json(resp)
        commits = list(first.get("commits") or [])
        page = 1
        while _has_next(resp) and page < MAX_PAGES:
            page += 1
            resp = _call("GET", path, {"per_page": str(PER_PAGE), "page": str(page)})
            commits.extend(_json(resp).get("commits") or [])
        return gh.Comparison(
            status=first.get("status") or "",
            ahead_by=first.get("ahead_by") or 0,
            behind_by=first.get("behind_by") or 0,
            merge_base_sha=(first.get("merge_base_commit") or {}).get("sha") or "",
            commits=[_commit(c) for c in commits],
            files=[_file(f) for f in first.get("files") or []],
        )

    def list_commits(self, number: int) -> list[gh.Commit]:
        return [_commit(c) for c in _paginate(f"/repos/{_repo()}/pulls/{number}/commits")]

    def list_comments(self, number: int) -> list[gh.Comment]:
        return [_comment(c) for c in _paginate(f"/repos/{_repo()}/issues/{number}/comments")]

    def create_comment(self, number: int, body: str) -> gh.Comment:
        resp = _call(
            "POST", f"/repos/{_repo()}/issues/{number}/comments", body={"body": _write(body)}
        )
        return _comment(_json(resp))

    def find_comment(self, number: int, marker: str) -> gh.Comment | None:
        line = _marker(marker)
        ours = _ours(_paginate(f"/repos/{_repo()}/issues/{number}/comments"), line)
        return _comment(ours[0]) if ours else None

    def upsert_comment(self, number: int, marker: str, body: str) -> gh.UpsertResult:
        line = _marker(marker)
        repo = _repo()
        full = text.fit(f"{line}\n{text.neutralize_mentions(body)}")
        ours = sorted(_ours(_paginate(f"/repos/{repo}/issues/{number}/comments"), line),
                      key=lambda c: c["id"])  # fmt: skip
        removed = 0
        for extra in ours[1:]:  # copies left by an earlier crash: keep the oldest only
            _call("DELETE", f"/repos/{repo}/issues/comments/{extra['id']}", allow=(404,))
            removed += 1

        def result(c, action):
            return gh.UpsertResult(c["id"], action, c.get("html_url") or "", removed)

        def create():
            path = f"/repos/{repo}/issues/{number}/comments"
            return result(_json(_call("POST", path, body={"body": full})), "created")

        if not ours:
            return create()
        current = ours[0]
        if current.get("body") == full:
            return result(current, "unchanged")
        resp = _call("PATCH", f"/repos/{repo}/issues/comments/{current['id']}",
                     body={"body": full}, allow=(404,))  # fmt: skip
        if resp.status == 404:  # deleted meanwhile: post a new one
            return create()
        return result(_json(resp), "updated")

    def reply_review_comment(self, number: int, comment_id: int, body: str) -> gh.Comment:
        path = f"/repos/{_repo()}/pulls/{number}/comments/{comment_id}/replies"
        return _comment(_json(_call("POST", path, body={"body": _write(body)})))

    def create_review(self, number, commit_sha, body, comments) -> gh.ReviewResult:
        repo = _repo()
        targets = {}
        for f in _paginate(f"/repos/{repo}/pulls/{number}/files"):
            if f.get("patch"):
                with contextlib.suppress(diff.PatchError):
                    targets[f["filename"]] = diff.commentable(diff.parse_patch(f["patch"]))
        inline, folded = [], []
        for c in comments:
            side = SIDES[c.side]
            why = diff.line_problem(targets.get(c.path), side, c.line, c.start_line)
            if why is not None:
                folded.append((c, why))
                continue
            item = {"path": c.path, "line": c.line, "side": side, "body": _write(c.body)}
            if c.start_line is not None and c.start_line != c.line:
                item.update(start_line=c.start_line, start_side=side)
            inline.append((c, item))
        path = f"/repos/{repo}/pulls/{number}/reviews"
        review = {
            "commit_id": commit_sha,
            "event": "COMMENT",
            "body": _write(_fold(body, folded)),
            "comments": [i for _, i in inline],
        }
        resp = _call("POST", path, body=review, allow=(422,))
        if resp.status == 422 and inline:  # GitHub still refused a line: fold them all, once
            log.log(log.Level.WARN, f"review refused ({_message(resp)}); folding inline comments")
            folded += [(c, "GitHub refused the line") for c, _ in inline]
            inline = []
            review.update(body=_write(_fold(body, folded)), comments=[])
            resp = _call("POST", path, body=review)
        elif resp.status == 422:
            raise Err(f"POST {path}: GitHub answered 422 {_message(resp)}".rstrip())
        made = _json(resp)
        return gh.ReviewResult(made["id"], len(inline), [c for c, _ in folded],
                               made.get("html_url") or "")  # fmt: skip

    def list_review_comments(self, number: int) -> list[gh.ReviewThreadComment]:
        found = _paginate(f"/repos/{_repo()}/pulls/{number}/comments")
        return [_review_comment(c) for c in found]

    def add_reaction(self, subject: gh.ReactionSubject, id: int, content: str) -> None:
        if content not in REACTIONS:
            raise Err(f"reaction {content!r}: use one of {sorted(REACTIONS)}")
        repo = _repo()
        path = {
            gh.ReactionSubject.ISSUE: f"/repos/{repo}/issues/{id}/reactions",
            gh.ReactionSubject.ISSUE_COMMENT: f"/repos/{repo}/issues/comments/{id}/reactions",
            gh.ReactionSubject.REVIEW_COMMENT: f"/repos/{repo}/pulls/comments/{id}/reactions",
        }[subject]
        _call("POST", path, body={"content": content})

    def list_labels(self, number: int) -> list[str]:
        return [lb["name"] for lb in _paginate(f"/repos/{_repo()}/issues/{number}/labels")]

    def add_labels(self, number: int, labels: list[str]) -> None:
        _call("POST", f"/repos/{_repo()}/issues/{number}/labels", body={"labels": labels})

    def remove_label(self, number: int, label: str) -> None:
        name = urllib.parse.quote(label, safe="")
        _call("DELETE", f"/repos/{_repo()}/issues/{number}/labels/{name}", allow=(404,))

    def list_repo_labels(self) -> list[gh.Label]:
        return [
            gh.Label(lb.get("name") or "", lb.get("description") or "", lb.get("color") or "")
            for lb in _paginate(f"/repos/{_repo()}/labels")
        ]

    def latest_release(self) -> gh.Release | None:
        resp = _call("GET", f"/repos/{_repo()}/releases/latest", allow=(404,))
        return None if resp.status == 404 else _release(_json(resp))

    def list_merged_pulls(self, base: str, since: str, limit: int) -> list[gh.MergedPull]:
        # closed pulls, most recently updated first: a merge updates a pull, so
        # the walk stops at the first one last updated before `since`
        path = f"/repos/{_repo()}/pulls"
        query = {"state": "closed", "sort": "updated", "direction": "desc",
                 "per_page": str(PER_PAGE)}  # fmt: skip
        if base:
            query["base"] = base
        found = []
        for page in range(1, MAX_PAGES + 1):
            resp = _call("GET", path, {**query, "page": str(page)})
            batch = _json(resp)
            if not isinstance(batch, list):
                raise Err(f"GET {path}: expected a list")
            for p in batch:
                if since and (p.get("updated_at") or "") < since:
                    return _newest(found, limit)
                if p.get("merged_at") and (not since or p["merged_at"] > since):
                    found.append(p)
            if not _has_next(resp):
                break
        return _newest(found, limit)

    def create_release(self, tag, name, body, draft, target) -> gh.Release:
        made = {"tag_name": tag, "name": name, "body": _write(body), "draft": draft}
        if target:
            made["target_commitish"] = target
        return _release(_json(_call("POST", f"/repos/{_repo()}/releases", body=made)))

    def create_check_run(self, run: gh.CheckRun) -> int:
        made = _json(_call("POST", f"/repos/{_repo()}/check-runs", body=_check_run_body(run)))
        return made["id"]

    def update_check_run(self, id: int, run: gh.CheckRun) -> None:
        _call("PATCH", f"/repos/{_repo()}/check-runs/{id}", body=_check_run_body(run))

    def neutralize_mentions(self, text_: str) -> str:
        return text.neutralize_mentions(text_)
