"""Real git repositories built by tests, read the way GitHub's REST API
answers: a pull request's files with their patches (none for binary files or
diffs GitHub would not show), its commits, file contents at a ref, and
compare (ahead/behind/diverged, merge base)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

# GitHub sends no `patch` for a file whose diff is this big
MAX_PATCH_LINES = 20_000
MAX_PATCH_BYTES = 1_000_000
_STATUS = {
    "A": "added",
    "D": "removed",
    "M": "modified",
    "R": "renamed",
    "C": "copied",
    "T": "changed",
}


class GitError(RuntimeError):
    pass


class GitRepo:
    def __init__(self, path: Path, default_branch: str = "main") -> None:
        self.path = path
        self._memo: dict[tuple, Any] = {}  # answers by commit SHAs, which never change
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", default_branch)
        self.git("config", "user.name", "Octo Cat")
        self.git("config", "user.email", "octocat@example.com")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, data: bytes | None = None) -> str:
        proc = subprocess.run(["git", "-C", str(self.path), *args], input=data, capture_output=True)
        if proc.returncode != 0:
            raise GitError(proc.stderr.decode("utf-8", "replace").strip())
        return proc.stdout.decode("utf-8", "replace")

    # -- building history -----------------------------------------------------

    def commit(self, message: str, files: dict[str, str | bytes | None]) -> str:
        """Write (None: delete) files on the current branch and commit them."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                self.git("rm", "-q", "--", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
            self.git("add", "--", name)
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.sha("HEAD")

    def rename(self, old: str, new: str) -> None:
        (self.path / new).parent.mkdir(parents=True, exist_ok=True)
        self.git("mv", old, new)

    def checkout(self, branch: str, create: bool = False, start: str | None = None) -> None:
        self.git(
            "checkout", "-q", *(["-b", branch] if create else [branch]), *([start] if start else [])
        )

    def sha(self, ref: str) -> str:
        if len(ref) == 40 and all(c in "0123456789abcdef" for c in ref) and self._known(ref):
            return ref
        return self.git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}").strip()

    # -- reading, as GitHub answers -------------------------------------------

    def _known(self, sha: str) -> bool:
        if ("known", sha) not in self._memo:
            proc = subprocess.run(
                ["git", "-C", str(self.path), "cat-file", "-e", sha + "^{commit}"],
                capture_output=True,
            )
            if proc.returncode != 0:
                return False
            self._memo[("known", sha)] = True
        return True

    def exists(self, ref: str) -> bool:
        try:
            self.sha(ref)
            return True
        except GitError:
            return False

    def show(self, ref: str, path: str) -> bytes | None:
        if not self.exists(ref):
            return None
        key = ("show", self.sha(ref), path)
        if key not in self._memo:
            self._memo[key] = self._show(key[1], path)
        return self._memo[key]

    def _show(self, ref: str, path: str) -> bytes | None:
        proc = subprocess.run(
            ["git", "-C", str(self.path), "show", f"{ref}:{path}"], capture_output=True
        )
        return proc.stdout if proc.returncode == 0 else None

    def merge_base(self, a: str, b: str) -> str | None:
        try:
            return self.git("merge-base", a, b).strip() or None
        except GitError:
            return None

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

    def _once(self, kind: str, fn, *refs: str):
        key = (kind, *(self.sha(r) for r in refs))
        if key not in self._memo:
            self._memo[key] = fn(*key[1:])
        return self._memo[key]

    def files(self, base: str, head: str) -> list[dict[str, Any]]:
        """The changed files from base to head, with GitHub's fields."""
        return self._once("files", self._files, base, head)

    def _files(self, base: str, head: str) -> list[dict[str, Any]]:
        numstat = {}
        raw = self.git("diff", "--numstat", "-M", base, head)
        for line in raw.splitlines():
            add, rem, name = line.split("\t", 2)
            if " => " in name:  # renamed: a/{x => y}/b or x => y
                name = _renamed_to(name)
            numstat[name] = (add, rem)
        found = []
        status_out = self.git("diff", "--name-status", "-M", base, head)
        for line in status_out.splitlines():
            parts = line.split("\t")
            code, paths = parts[0][0], parts[1:]
            name = paths[-1]
            add, rem = numstat.get(name, ("0", "0"))
            binary = add == "-"
            entry: dict[str, Any] = {
                "sha": self.git("rev-parse", f"{head}:{name}").strip() if code != "D" else "0" * 40,
                "filename": name,
                "status": _STATUS.get(code, "modified"),
                "additions": 0 if binary else int(add),
                "deletions": 0 if binary else int(rem),
                "changes": 0 if binary else int(add) + int(rem),
                "blob_url": f"https://github.com/blob/{head}/{name}",
                "raw_url": f"https://github.com/raw/{head}/{name}",
                "contents_url": f"https://api.github.com/contents/{name}?ref={head}",
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
        status = (
            "identical"
            if not ahead and not behind
            else "ahead"
            if not behind
            else "behind"
            if not ahead
            else "diverged"
        )
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


def _renamed_to(name: str) -> str:
    if "{" in name:
        pre, rest = name.split("{", 1)
        mid, post = rest.split("}", 1)
        new = mid.split(" => ", 1)[1]
        return (pre + new + post).replace("//", "/")
    return name.split(" => ", 1)[1]
