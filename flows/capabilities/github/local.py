"""GitHub's REST API answered from a local git repository.

`LocalRepository` reads git the way GitHub reports it: a pull request's
files with their patches (none for binary files or diffs GitHub would not
show, renames with `previous_filename`), its commits, file contents at a
ref, and compare (ahead/behind/diverged, merge base). `LocalGithub` serves
one pull request from a base to a head ref through those answers, so a flow
reviews a local branch with no GitHub at all; its runs are dry runs (writes
are captured by the github-api capability, never sent)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from flows.capabilities.github.client import GithubClient, NoToken
from flows.errors import RepositoryError
from flows.sandbox.capability import HostError

# GitHub sends no `patch` for a file whose diff is this big
MAX_PATCH_LINES = 20_000
MAX_PATCH_BYTES = 1_000_000
MAX_CONTENT_BYTES = 1_000_000  # larger files: contents without `content`, raw on request
STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied",
          "T": "changed"}  # fmt: skip
NUMBER = 1  # the local pull request's number
_GITHUB_REMOTE = re.compile(r"github\.com[:/]([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")
# GitHub's merge commit: "Merge pull request #N from owner/branch", then the PR's title
MERGE_SUBJECT = re.compile(r"^Merge pull request #(\d+) from (\S+)$")


class LocalRepository:
    """A git repository on disk, read as GitHub's REST API answers."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._memo: dict[tuple, Any] = {}  # answers by commit SHAs, which never change
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path) -> LocalRepository:
        """The repository at `path`; RepositoryError when it is not one."""
        repo = cls(path)
        if not repo.path.is_dir():
            raise RepositoryError(f"{path}: no such folder")
        proc = subprocess.run(["git", "-C", str(repo.path), "rev-parse", "--git-dir"],
                              capture_output=True, text=True)  # fmt: skip
        if proc.returncode != 0:
            raise RepositoryError(f"{path} is not a git repository ({proc.stderr.strip()})")
        return repo

    def git(self, *args: str, data: bytes | None = None) -> str:
        proc = subprocess.run(["git", "-C", str(self.path), *args], input=data, capture_output=True)
        if proc.returncode != 0:
            raise RepositoryError(
                f"git {' '.join(args[:3])} failed: "
                + proc.stderr.decode("utf-8", "replace").strip()
            )
        return proc.stdout.decode("utf-8", "replace")

    def _ok(self, *args: str) -> bool:
        proc = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True)
        return proc.returncode == 0

    # -- refs --------------------------------------------------------------------

    def sha(self, ref: str) -> str:
        """The commit a ref names; RepositoryError when there is none."""
        if len(ref) == 40 and all(c in "0123456789abcdef" for c in ref) and self._known(ref):
            return ref
        if ref.startswith("-"):
            raise RepositoryError(f"{ref!r} is not a ref")
        proc = subprocess.run(
            ["git", "-C", str(self.path), "rev-parse", "--verify", "-q", f"{ref}^{{commit}}"],
            capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RepositoryError(f"{ref!r} names no commit in {self.path}")
        return proc.stdout.strip()

    def _known(self, sha: str) -> bool:
        if ("known", sha) not in self._memo:
            if not self._ok("cat-file", "-e", sha + "^{commit}"):
                return False
            self._memo[("known", sha)] = True
        return True

    def exists(self, ref: str) -> bool:
        try:
            self.sha(ref)
            return True
        except RepositoryError:
            return False

    def merge_base(self, a: str, b: str) -> str | None:
        proc = subprocess.run(["git", "-C", str(self.path), "merge-base", a, b],
                              capture_output=True, text=True)  # fmt: skip
        if proc.returncode != 0:
            return None
        return proc.stdout.strip() or None

    def is_ancestor(self, a: str, b: str) -> bool:
        return self._ok("merge-base", "--is-ancestor", a, b)

    def uncommitted(self) -> int:
        """How many files have changes not committed (they are not reviewed)."""
        out = self.git("status", "--porcelain", "--untracked-files=no")
        return len([line for line in out.splitlines() if line.strip()])

    def remote_repository(self) -> str | None:
        """owner/name of the `origin` remote when it is on GitHub."""
        proc = subprocess.run(["git", "-C", str(self.path), "remote", "get-url", "origin"],
                              capture_output=True, text=True)  # fmt: skip
        m = _GITHUB_REMOTE.search(proc.stdout.strip()) if proc.returncode == 0 else None
        return f"{m.group(1)}/{m.group(2)}" if m else None

    # -- reading, as GitHub answers ---------------------------------------------

    def _once(self, kind: str, fn, *refs: str, extra: str = ""):
        shas = tuple(self.sha(r) for r in refs)
        key = (kind, extra, *shas)
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        value = fn(*shas)
        with self._lock:
            self._memo[key] = value
        return value

    def show(self, ref: str, path: str) -> bytes | None:
        """A file's bytes at a ref, or None when it is not a file there."""
        if not self.exists(ref):
            return None
        return self._once("show", lambda sha: self._show(sha, path), ref, extra=path)

    def _show(self, sha: str, path: str) -> bytes | None:
        if self.object_type(sha, path) != "blob":
            return None
        proc = subprocess.run(["git", "-C", str(self.path), "show", f"{sha}:{path}"],
                              capture_output=True)  # fmt: skip
        return proc.stdout if proc.returncode == 0 else None

    def object_type(self, ref: str, path: str) -> str | None:
        """blob, tree, commit (a submodule) or None for a path at a ref."""
        proc = subprocess.run(["git", "-C", str(self.path), "cat-file", "-t", f"{ref}:{path}"],
                              capture_output=True, text=True)  # fmt: skip
        return proc.stdout.strip() if proc.returncode == 0 else None

    def tree(self, ref: str, path: str) -> list[dict[str, Any]]:
        """The entries of a folder at a ref, as GET /contents lists them."""
        out = self.git("ls-tree", "-z", "-l", self.sha(ref), path.rstrip("/") + "/")
        entries = []
        for rec in filter(None, out.split("\0")):
            meta, name = rec.split("\t", 1)
            _mode, kind, sha, size = meta.split(None, 3)
            entries.append({"type": {"blob": "file", "tree": "dir"}.get(kind, "submodule"),
                            "name": name.rsplit("/", 1)[-1], "path": name, "sha": sha,
                            "size": int(size) if size.strip().isdigit() else 0})  # fmt: skip
        return entries

    def commits(self, base: str, head: str) -> list[dict[str, Any]]:
        """Commits reachable from head but not base, oldest first, as GitHub lists them."""
        return self._once("commits", self._commits, base, head)

    def _commits(self, base: str, head: str) -> list[dict[str, Any]]:
        fmt = "%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%B%x1e"
        out = self.git("log", "--reverse", f"--format={fmt}", f"{base}..{head}")
        found = []
        for rec in out.split("\x1e"):
            rec = rec.strip("\n")
            if not rec:
                continue
            sha, parents, name, email, date, message = rec.split("\x1f")
            found.append(
                {
                    "sha": sha,
                    "commit": {
                        "message": message.strip(),
                        "author": {"name": name, "email": email, "date": date},
                    },
                    "author": {"login": name.lower().replace(" ", ""), "type": "User"},
                    "parents": [{"sha": p} for p in parents.split()],
                }
            )
        return found

    def files(self, base: str, head: str) -> list[dict[str, Any]]:
        """The changed files from base to head, with GitHub's fields."""
        return self._once("files", self._files, base, head)

    def _files(self, base: str, head: str) -> list[dict[str, Any]]:
        counts: dict[str, tuple[str, str]] = {}
        parts = self.git("diff", "-z", "--numstat", "-M", base, head).split("\0")
        i = 0
        while i < len(parts) and parts[i]:
            add, rem, name = parts[i].split("\t", 2)
            if name == "":  # a rename: the old and new names follow
                name, i = parts[i + 2], i + 2
            counts[name] = (add, rem)
            i += 1
        found = []
        parts = self.git("diff", "-z", "--raw", "--abbrev=40", "-M", base, head).split("\0")
        i = 0
        while i < len(parts) and parts[i].startswith(":"):
            meta = parts[i][1:].split()
            code = meta[4][0]
            paths = parts[i + 1 : i + (3 if code in "RC" else 2)]
            i += 1 + len(paths)
            name = paths[-1]
            add, rem = counts.get(name, ("0", "0"))
            binary = add == "-"
            entry: dict[str, Any] = {
                "sha": meta[3] if code != "D" else "0" * 40,
                "filename": name,
                "status": STATUS.get(code, "modified"),
                "additions": 0 if binary else int(add),
                "deletions": 0 if binary else int(rem),
                "changes": 0 if binary else int(add) + int(rem),
            }
            if code in "RC":
                entry["previous_filename"] = paths[0]
            if not binary:
                patch = self._patch(base, head, paths)
                if patch and len(patch) <= MAX_PATCH_BYTES and entry["changes"] <= MAX_PATCH_LINES:
                    entry["patch"] = patch
            found.append(entry)
        return found

    def _patch(self, base: str, head: str, paths: list[str]) -> str:
        out = self.git("diff", "-M", base, head, "--", *paths)
        start = out.find("\n@@")
        return out[start + 1 :].rstrip("\n") if start >= 0 else ""

    def compare(self, base: str, head: str) -> dict[str, Any] | None:
        """GET /compare/base...head, or None when either side is unknown."""
        if not (self.exists(base) and self.exists(head)):
            return None
        mb = self.merge_base(base, head)
        if mb is None:
            return None
        ahead = int(self.git("rev-list", "--count", f"{base}..{head}").strip())
        behind = int(self.git("rev-list", "--count", f"{head}..{base}").strip())
        status = ("identical" if not ahead and not behind else "ahead" if not behind
                  else "behind" if not ahead else "diverged")  # fmt: skip
        return {
            "status": status,
            "ahead_by": ahead,
            "behind_by": behind,
            "total_commits": ahead,
            "merge_base_commit": {"sha": mb},
            "base_commit": {"sha": self.sha(base)},
            "commits": self.commits(mb, head),
            "files": self.files(mb, head),
        }


@dataclass
class PullRange:
    """A pull request made from a local range: `base` and `head` as given,
    the commits they name, and where head left base (GitHub diffs from there)."""

    base: str
    head: str
    base_sha: str
    head_sha: str
    merge_base: str
    commits: list[dict[str, Any]] = field(default_factory=list)


def pull_range(repo: LocalRepository, base: str, head: str) -> PullRange:
    """The range from base to head, or RepositoryError saying why it cannot
    be reviewed: an unknown ref, no shared history, nothing new on head."""
    base_sha, head_sha = repo.sha(base), repo.sha(head)
    mb = repo.merge_base(base_sha, head_sha)
    if mb is None:
        raise RepositoryError(
            f"{base!r} is not an ancestor of {head!r} and they share no history; "
            "pick a --base that the branch started from"
        )
    if repo.is_ancestor(head_sha, base_sha):
        raise RepositoryError(
            f"nothing to review: {head!r} ({head_sha[:7]}) has no commits that {base!r} "
            f"({base_sha[:7]}) lacks"
        )
    return PullRange(base, head, base_sha, head_sha, mb, repo.commits(base_sha, head_sha))


def describe(commits: list[dict[str, Any]]) -> tuple[str, str]:
    """A title and description for commits, as their author would open the
    pull request: one commit's subject and body; a merge of a pull request
    its title; for several commits the first subject and a list of them all."""
    messages = [c["commit"]["message"] for c in commits]
    if not messages:
        return "", ""
    first = messages[0].split("\n\n", 1)
    if len(messages) == 1:
        subject, body = first[0].strip(), (first[1] if len(first) > 1 else "").strip()
        if MERGE_SUBJECT.match(subject) and body:  # GitHub's merge commit: the title follows
            title, _, rest = body.partition("\n")
            return title.strip(), rest.strip()
        return subject, body
    return first[0].strip(), "\n".join(f"- {m.splitlines()[0]}" for m in messages if m)


class LocalGithub(GithubClient):
    """GitHub for one repository, answered from a local git repository: the
    pull request PullRange describes is #1; nothing else exists (no comments,
    labels or releases yet). Writes never get here: runs are dry runs."""

    def __init__(
        self,
        repo: LocalRepository,
        pull: PullRange,
        full_name: str,
        title: str = "",
        body: str = "",
        bot: str = "flows[bot]",
    ) -> None:
        super().__init__("https://local.invalid", NoToken(), 30.0, None, None)
        self.repo, self.pull_range, self.full_name, self.bot = repo, pull, full_name, bot
        self.title, self.body = title, body

    def requester(self, installation_id: int | None, timeout_s: float) -> _LocalRequester:
        return _LocalRequester(self)

    def viewer(self, installation_id: int | None, timeout_s: float) -> str:
        return self.bot

    # -- what GitHub would send --------------------------------------------------

    def repository_data(self) -> dict[str, Any]:
        owner, name = self.full_name.split("/", 1)
        return {
            "id": 1,
            "name": name,
            "full_name": self.full_name,
            "private": True,
            "owner": {"login": owner, "type": "User"},
            "html_url": f"https://github.com/{self.full_name}",
            # settings (.github/flows.yaml) are read from here: the base, as on GitHub
            "default_branch": self.pull_range.base,
        }

    def pull_data(self) -> dict[str, Any]:
        p, repo = self.pull_range, self.repository_data()
        files = self.repo.files(p.merge_base, p.head_sha)
        head = p.commits[-1]["commit"] if p.commits else {"author": {"name": "", "date": ""}}
        author = head["author"]["name"].lower().replace(" ", "") or "local"
        return {
            "number": NUMBER,
            "state": "open",
            "title": self.title,
            "body": self.body,
            "draft": False,
            "merged": False,
            "user": {"login": author, "type": "User"},
            "author_association": "OWNER",
            "html_url": f"https://github.com/{self.full_name}/pull/{NUMBER}",
            "created_at": head["author"]["date"],
            "updated_at": head["author"]["date"],
            "labels": [],
            "base": {"ref": p.base, "sha": p.base_sha, "label": p.base, "repo": repo},
            "head": {"ref": p.head, "sha": p.head_sha, "label": p.head, "repo": repo},
            "additions": sum(f["additions"] for f in files),
            "deletions": sum(f["deletions"] for f in files),
            "changed_files": len(files),
            "commits": len(p.commits),
        }

    def event_payload(self) -> dict[str, Any]:
        """The `pull_request` `opened` webhook GitHub would send for it."""
        pull = self.pull_data()
        return {
            "action": "opened",
            "number": NUMBER,
            "pull_request": pull,
            "repository": self.repository_data(),
            "sender": pull["user"],
        }


_EMPTY_LISTS = (
    re.compile(r"^/issues/\d+/(comments|labels|events|reactions)$"),
    re.compile(r"^/pulls/\d+/(comments|reviews|requested_reviewers)$"),
    re.compile(r"^/(labels|releases|issues/comments|pulls/comments)$"),
)


class _LocalRequester:
    """PyGithub's requestJson, answered from the local repository."""

    def __init__(self, gh: LocalGithub) -> None:
        self._gh = gh

    def requestJson(self, method, path, parameters=None, headers=None, input=None):
        if method.upper() != "GET":
            raise HostError(f"{method} {path}: a local review writes nothing to GitHub")
        prefix = f"/repos/{self._gh.full_name}".lower()
        if not path.lower().startswith(prefix):
            return _not_found(path)
        rest = path[len(prefix) :]
        query = dict(parameters or {})
        accept = (headers or {}).get("Accept", "")
        try:
            return self._answer(rest, query, accept, path)
        except RepositoryError as e:
            raise HostError(f"GET {path}: {e}") from None

    def _answer(self, rest: str, query: dict[str, str], accept: str, path: str):
        gh, p = self._gh, self._gh.pull_range
        if rest == "":
            return _json(gh.repository_data())
        if rest == f"/pulls/{NUMBER}":
            return _json(gh.pull_data())
        if rest == f"/pulls/{NUMBER}/files":
            return _page(gh.repo.files(p.merge_base, p.head_sha), query)
        if rest == f"/pulls/{NUMBER}/commits":
            return _page(p.commits, query)
        if rest == "/pulls":
            state = query.get("state", "open")
            return _page([gh.pull_data()] if state in ("open", "all") else [], query)
        if any(rx.match(rest) for rx in _EMPTY_LISTS):
            return _page([], query)
        m = re.match(r"^/contents/(.+)$", rest)
        if m:
            return self._contents(unquote(m.group(1)), query.get("ref") or p.base, accept)
        m = re.match(r"^/compare/(.+)\.\.\.(.+)$", rest)
        if m:
            found = gh.repo.compare(unquote(m.group(1)), unquote(m.group(2)))
            if found is None:
                return _not_found(path)
            per_page, page = int(query.get("per_page", 250)), int(query.get("page", 1))
            commits = found["commits"]
            out = {**found, "commits": commits[(page - 1) * per_page : page * per_page]}
            more = page * per_page < len(commits)
            return _json(out, _link(page + 1, per_page) if more else {})
        return _not_found(path)

    def _contents(self, path: str, ref: str, accept: str):
        repo = self._gh.repo
        if not repo.exists(ref):
            return 404, {}, json.dumps({"message": f"No commit found for the ref {ref}"})
        kind = repo.object_type(repo.sha(ref), path)
        if kind == "tree":
            return _json(repo.tree(ref, path))
        data = repo.show(ref, path) if kind == "blob" else None
        if data is None:
            return _not_found(path)
        if accept.endswith(".raw"):
            raw = data.decode("utf-8", "replace")
            return 200, {"content-type": "application/octet-stream"}, raw
        big = len(data) > MAX_CONTENT_BYTES
        return _json({"type": "file", "path": path, "name": path.rsplit("/", 1)[-1],
                      "size": len(data), "encoding": "none" if big else "base64",
                      "content": "" if big else base64.encodebytes(data).decode()})  # fmt: skip


def _json(data: Any, headers: dict[str, str] | None = None):
    return 200, {"content-type": "application/json", **(headers or {})}, json.dumps(data)


def _not_found(path: str):
    return 404, {"content-type": "application/json"}, json.dumps({"message": "Not Found"})


def _link(page: int, per_page: int) -> dict[str, str]:
    url = f"https://local.invalid/page?per_page={per_page}&page={page}"
    return {"link": f'<{url}>; rel="next"'}


def _page(items: list, query: dict[str, str]):
    per_page = min(int(query.get("per_page", 30)), 100)
    page = int(query.get("page", 1))
    chunk = items[(page - 1) * per_page : page * per_page]
    more = page * per_page < len(items)
    return _json(chunk, _link(page + 1, per_page) if more else {})
