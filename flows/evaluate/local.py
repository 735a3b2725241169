"""The review flow run on a local git range: the same flow, sandbox and
settings as the App, GitHub answered from the repository (LocalGithub),
every write captured as in a dry run, memory kept in a throwaway database."""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.capabilities.github.local import (
    NUMBER,
    LocalGithub,
    LocalRepository,
    PullRange,
    describe,
    pull_range,
)
from flows.errors import ConfigError
from flows.project.config import AppConfig
from flows.project.events import Event
from flows.runtime import Runtime

REVIEW_FUNCTION = "code_review"
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class Review:
    """What one review of a local range produced."""

    range: PullRange
    report: dict[str, Any]
    seconds: float
    comment: str | None = None  # the review comment, as it would be posted
    inline: list[dict[str, Any]] = field(default_factory=list)  # {path, line, body, ...}

    @property
    def ok(self) -> bool:
        return self.report.get("status") == "ok"

    @property
    def result(self) -> dict[str, Any]:
        result = self.report.get("result")
        return result if isinstance(result, dict) else {}

    @property
    def error(self) -> str:
        error = self.report.get("error") or {}
        return f"{error.get('kind', 'error')}: {error.get('message', '')}" if error else ""


def review_flow(cfg: AppConfig, name: str | None = None) -> str:
    """The flow that reviews pull requests: `name`, else the one whose
    function is functions/code_review."""
    if name is not None:
        cfg.flow(name)
        return name
    found = [n for n, f in cfg.flows.items() if f.function.name == REVIEW_FUNCTION]
    if len(found) == 1:
        return found[0]
    known = ", ".join(sorted(cfg.flows)) or "none"
    why = "no flow runs" if not found else "several flows run"
    raise ConfigError(f"{why} functions/{REVIEW_FUNCTION}; name one with --flow (flows: {known})")


def repository_name(repo: LocalRepository) -> str:
    """owner/name for links in the comment: the GitHub `origin`, else local/FOLDER."""
    found = repo.remote_repository()
    if found:
        return found
    folder = _SLUG.sub("-", repo.path.resolve().name).strip("-.") or "repository"
    return f"local/{folder}"


def captured_comments(report: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    """The last review comment body the run wrote and its inline comments."""
    body, inline = None, []
    for w in report.get("writes") or []:
        path, sent = str(w.get("path", "")), w.get("body")
        if not isinstance(sent, dict):
            continue
        if re.search(rf"/issues/({NUMBER}/comments|comments/\d+)$", path) and "body" in sent:
            body = str(sent["body"])
        elif path.endswith(f"/pulls/{NUMBER}/reviews"):
            inline += [c for c in sent.get("comments") or [] if isinstance(c, dict)]
    return body, inline


class LocalReviewer:
    """The review flow of one app.yaml, run on local ranges one at a time.
    Nothing reaches GitHub, and the database in app.yaml is not touched:
    what the flow remembers lives in a throwaway SQLite file, emptied
    before each review so every range is reviewed as a first review."""

    def __init__(self, cfg: AppConfig, flow: str | None = None) -> None:
        self.flow = review_flow(cfg, flow)
        self._tmp = tempfile.TemporaryDirectory(prefix="flows-review-")
        local = cfg.model_copy(deep=True)
        local.database.url = f"sqlite:///{Path(self._tmp.name) / 'memory.db'}"
        self.cfg = local
        self.runtime = Runtime(local)

    def prepare(self) -> None:
        """Build, load and link the flow (raises FlowsError subclasses)."""
        self.runtime.plan(self.flow)

    def review(
        self,
        repo: LocalRepository,
        base: str,
        head: str,
        repository: str | None = None,
        title: str | None = None,
        body: str | None = None,
    ) -> Review:
        """Review base..head of `repo` (RepositoryError when the range cannot be)."""
        pull = pull_range(repo, base, head)
        said_title, said_body = describe(pull.commits)
        gh = LocalGithub(
            repo,
            pull,
            repository or repository_name(repo),
            title if title is not None else said_title,
            body if body is not None else said_body,
        )
        caps = self.runtime.capabilities
        caps.github = gh
        memory = caps.checked_memory_store()
        memory.forget(gh.full_name)
        caps.knowledge_store().forget(gh.full_name, everything=True)
        event = Event("pull_request", gh.event_payload(), delivery_id=f"local-{pull.head_sha[:12]}")
        start = time.perf_counter()
        report = self.runtime.run(self.flow, event, dry_run=True).to_dict()
        seconds = time.perf_counter() - start
        comment, inline = captured_comments(report)
        return Review(pull, report, seconds, comment, inline)

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> LocalReviewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def markdown(review: Review) -> str:
    """The comment as the App would post it, then its inline comments."""
    out = [review.comment or "_The review wrote no comment._"]
    for c in review.inline:
        start = c.get("start_line")
        lines = f"lines {start}-{c.get('line')}" if start else f"line {c.get('line')}"
        where = f"`{c.get('path')}` {lines}"
        out.append(f"---\n\n**Inline comment** on {where}:\n\n{c.get('body', '')}")
    return "\n\n".join(out) + "\n"
