"""The github integration: the GitHub API flows use, over the host's github-api.

Pagination, error mapping and JSON decoding live here, inside the sandbox; the
host adds authentication and confines every call to the event's repository.
"""

import json
import urllib.parse

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import github as gh
from wit_world.imports import github_api, log

PER_PAGE = 100
MAX_PAGES = 30  # GitHub lists at most 3000 files of a pull request


def _repo() -> str:
    repo = github_api.repository()
    if repo is None:
        raise Err("this event has no repository")
    return repo


def _call(method, path, query=None, body=None):
    req = github_api.Request(
        method=method,
        path=path,
        query=list((query or {}).items()),
        body=None if body is None else json.dumps(body),
        accept=None,
    )
    try:
        resp = github_api.send(req)
    except Err as e:
        raise Err(f"{method} {path}: {e.value}") from None
    if resp.status >= 400:
        try:
            message = json.loads(resp.body).get("message", "")
        except (ValueError, AttributeError):
            message = ""
        raise Err(f"{method} {path}: GitHub answered {resp.status} {message}".rstrip())
    return resp


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


def _paginate(path):
    items = []
    for page in range(1, MAX_PAGES + 1):
        resp = _call("GET", path, {"per_page": str(PER_PAGE), "page": str(page)})
        batch = _json(resp)
        if not isinstance(batch, list):
            raise Err(f"GET {path}: expected a list")
        items.extend(batch)
        if not _has_next(resp):
            return items
    log.log(log.Level.WARN, f"GET {path}: stopped after {MAX_PAGES} pages")
    return items


def _pull(d) -> gh.PullRequest:
    user = d.get("user") or {}
    return gh.PullRequest(
        number=d["number"],
        title=d.get("title") or "",
        body=d.get("body") or "",
        state=d.get("state") or "",
        draft=bool(d.get("draft")),
        author=user.get("login") or "",
        author_type=user.get("type") or "",
        base_ref=d["base"]["ref"],
        base_sha=d["base"]["sha"],
        head_ref=d["head"]["ref"],
        head_sha=d["head"]["sha"],
        additions=d.get("additions") or 0,
        deletions=d.get("deletions") or 0,
        changed_files=d.get("changed_files") or 0,
        html_url=d.get("html_url") or "",
    )


class Github(exports.Github):
    def get_pull_request(self, number: int) -> gh.PullRequest:
        return _pull(_json(_call("GET", f"/repos/{_repo()}/pulls/{number}")))

    def list_files(self, number: int) -> list[gh.ChangedFile]:
        files = _paginate(f"/repos/{_repo()}/pulls/{number}/files")
        return [
            gh.ChangedFile(
                filename=f["filename"],
                previous_filename=f.get("previous_filename"),
                status=f.get("status") or "modified",
                additions=f.get("additions") or 0,
                deletions=f.get("deletions") or 0,
                patch=f.get("patch"),
            )
            for f in files
        ]

    def list_labels(self, number: int) -> list[str]:
        return [lb["name"] for lb in _paginate(f"/repos/{_repo()}/issues/{number}/labels")]

    def add_labels(self, number: int, labels: list[str]) -> None:
        _call("POST", f"/repos/{_repo()}/issues/{number}/labels", body={"labels": labels})

    def remove_label(self, number: int, label: str) -> None:
        name = urllib.parse.quote(label, safe="")
        _call("DELETE", f"/repos/{_repo()}/issues/{number}/labels/{name}")
