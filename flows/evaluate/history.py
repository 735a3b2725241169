"""`flows eval --history N PATH`: the last N changes merged into a
repository's branch, reviewed, written as cases whose every item is
`unlabelled` for a maintainer to mark true or false once."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flows.capabilities.github.local import MERGE_SUBJECT, LocalRepository, describe
from flows.errors import FlowsError, RepositoryError
from flows.evaluate.cases import UNLABELLED, BreakingItem, Case, CasesFile, Problem
from flows.evaluate.local import LocalReviewer
from flows.evaluate.score import breaking_matches, risk_matches

_BRANCH_MERGE = re.compile(r"^Merge (?:remote-tracking )?branch '([^']+)'")
_SQUASHED = re.compile(r"\(#(\d+)\)\s*$")  # GitHub's squash merge: "Title (#123)"
_NOT_NAME = re.compile(r"[^a-z0-9]+")


@dataclass
class Change:
    """One change that reached the branch: a merged pull request (base: the
    merge's first parent, head: the branch it merged) or a single commit."""

    name: str
    base: str
    head: str
    title: str
    body: str
    note: str


def _slug(text: str, words: int = 6) -> str:
    return "-".join(_NOT_NAME.sub(" ", text.lower()).split()[:words]) or "change"


def _log(repo: LocalRepository, ref: str, n: int, *flags: str) -> list[tuple[str, list[str], str]]:
    fmt = "%H%x1f%P%x1f%B%x1e"
    out = repo.git("log", "--first-parent", f"-n{n}", f"--format={fmt}", *flags, ref)
    found = []
    for rec in out.split("\x1e"):
        rec = rec.strip("\n")
        if rec:
            sha, parents, message = rec.split("\x1f")
            found.append((sha, parents.split(), message.strip()))
    return found


def _merged(sha: str, parents: list[str], message: str) -> Change:
    subject, _, rest = message.partition("\n")
    rest = rest.strip()
    m = MERGE_SUBJECT.match(subject)
    if m:
        title, _, body = rest.partition("\n")
        title = title.strip() or m.group(2)
        name = f"pr-{m.group(1)}-{_slug(title)}"
    else:
        b = _BRANCH_MERGE.match(subject)
        title, body = (b.group(1) if b else subject), rest
        name = f"merge-{sha[:7]}-{_slug(title)}"
    return Change(name, parents[0], parents[1], title, body.strip(), f"merge {sha[:7]}: {subject}")


def _single(repo: LocalRepository, sha: str, parents: list[str], message: str) -> Change:
    title, body = describe(repo.commits(parents[0], sha))
    m = _SQUASHED.search(title)
    name = f"pr-{m.group(1)}-{_slug(title)}" if m else f"commit-{sha[:7]}-{_slug(title)}"
    return Change(name, parents[0], sha, title, body, f"commit {sha[:7]}: {title}")


def changes(repo: LocalRepository, n: int, ref: str = "HEAD", by: str = "auto") -> list[Change]:
    """The last n changes on ref's first-parent line, oldest first: merges
    of pull requests (`by` merges), single commits (`by` commits: how
    squash-merging projects land pull requests), or merges when there are
    any among the last n commits (`auto`)."""
    if n < 1:
        raise RepositoryError(f"--history needs a number of changes of at least 1, not {n}")
    repo.sha(ref)
    if by == "auto":
        recent = _log(repo, ref, max(n, 20))
        by = "merges" if any(len(parents) >= 2 for _s, parents, _m in recent) else "commits"
    if by == "merges":
        found = [_merged(*m) for m in _log(repo, ref, n, "--merges")]
    else:
        found = [_single(repo, *c) for c in _log(repo, ref, n, "--no-merges") if len(c[1]) == 1]
    return _checked(list(reversed(found)), ref, by)


def _checked(found: list[Change], ref: str, what: str) -> list[Change]:
    if not found:
        raise RepositoryError(f"no {what} with a parent on the first-parent history of {ref}")
    return found


def breaking_items(said: list[dict]) -> list[BreakingItem]:
    """Breaking changes a review said, as unlabelled items."""
    return [
        BreakingItem(kind=b["kind"], symbol=b["symbol"], detail=b.get("detail") or "",
                     label=UNLABELLED, path=b.get("path"), found_by=b.get("found_by"))
        for b in said
    ]  # fmt: skip


def problem_items(said: list[dict]) -> list[Problem]:
    """Risks a review posted, as unlabelled items."""
    return [
        Problem(path=f["path"], lines=(f["start_line"], f.get("end_line") or f["start_line"]),
                rule=f.get("rule"), label=UNLABELLED, found_by=f.get("found_by"),
                title=f.get("title"), severity=f.get("severity"))
        for f in said if isinstance(f.get("start_line"), int)
    ]  # fmt: skip


def case_from(change: Change, repo_field: str, result: dict) -> Case:
    """The change as a case, everything its review said marked unlabelled."""
    return Case(name=change.name, repo=repo_field, base=change.base, head=change.head,
                title=change.title, body=change.body or None, note=change.note,
                exhaustive=False, breaking=breaking_items(result.get("breaking") or []),
                problems=problem_items(result.get("findings") or []))  # fmt: skip


def add_new(cases: CasesFile, results: list) -> int:
    """What the reviews said that no item of its case judges, added to the
    case as unlabelled items (for a maintainer to label); how many were added."""
    by_name = {c.name: c for c in cases.cases}
    added = 0
    for r in results:
        case = by_name.get(r.name)
        if case is None or r.score is None:
            continue
        for b in r.score["breaking"]["new"]:
            if not any(breaking_matches(i, b) for i in case.breaking):  # another run's
                case.breaking.extend(breaking_items([b]))
                added += 1
        for f in r.score["risks"]["new"]:
            if not any(risk_matches(i, f) for i in case.problems):
                found = problem_items([f])
                case.problems.extend(found)
                added += len(found)
    return added


def relative_repo(repo: LocalRepository, cases_path: Path) -> str:
    """The repository as a cases file beside `cases_path` names it."""
    rel = os.path.relpath(repo.path.resolve(), cases_path.resolve().parent)
    return rel.replace(os.sep, "/")


def merge_into(existing: CasesFile | None, new: list[Case]) -> tuple[CasesFile, int]:
    """Existing cases (and their labels) kept; new ranges added. How many were added."""
    kept = list(existing.cases) if existing else []
    ranges = {(c.base, c.head) for c in kept}
    names = {c.name for c in kept}
    added = 0
    for c in new:
        if (c.base, c.head) in ranges:
            continue
        name, i = c.name, 2
        while name in names:
            name, i = f"{c.name}-{i}", i + 1
        kept.append(c.model_copy(update={"name": name}))
        names.add(name)
        added += 1
    return CasesFile(cases=kept), added


def review_history(
    reviewer: LocalReviewer,
    repo: LocalRepository,
    found: list[Change],
    repo_field: str,
    progress: Callable[[int, int, Change, str | None], None] | None = None,
) -> tuple[list[Case], list[str]]:
    """Each change reviewed and made a case; the failures, one line each."""
    cases, failures = [], []
    for i, change in enumerate(found, 1):
        if progress:
            progress(i, len(found), change, None)
        try:
            done = reviewer.review(repo, change.base, change.head, title=change.title,
                                   body=change.body)  # fmt: skip
            why = "" if done.ok else done.error
        except FlowsError as e:
            done, why = None, str(e)
        if done is not None and not why:
            cases.append(case_from(change, repo_field, done.result))
        else:
            failures.append(f"{change.name}: {why}")
        if progress:
            progress(i, len(found), change, why or "ok")
    return cases, failures
