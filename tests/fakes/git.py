"""Real git repositories built by tests. Reading them the way GitHub's REST
API answers is the product's own LocalRepository (flows review uses it);
this adds making history: commits, renames, branches."""

from __future__ import annotations

from pathlib import Path

from flows.capabilities.github.local import LocalRepository


class GitRepo(LocalRepository):
    def __init__(self, path: Path, default_branch: str = "main") -> None:
        super().__init__(path)
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", default_branch)
        self.git("config", "user.name", "Octo Cat")
        self.git("config", "user.email", "octocat@example.com")
        self.git("config", "commit.gpgsign", "false")

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
