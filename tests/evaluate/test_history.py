"""`flows eval --history`: merged pull requests (merge commits, or squashed
single commits) found on the first-parent line, reviewed and written as
unlabelled cases; labels a maintainer adds survive the next --history and
score later runs."""

from __future__ import annotations

import pytest
import respx

from flows.errors import RepositoryError
from flows.evaluate.cases import load_cases, parse_cases, save_cases
from flows.evaluate.evaluation import evaluate
from flows.evaluate.history import changes, merge_into, relative_repo, review_history
from flows.evaluate.local import LocalReviewer
from tests.evaluate.helpers import BASE_URL, config
from tests.fakes.git import GitRepo
from tests.fakes.model import ScriptedModel
from tests.functions.code_review.fixtures import API_BASE, API_HEAD

pytestmark = pytest.mark.slow


@pytest.fixture
def model():
    m = ScriptedModel()
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{BASE_URL}/chat/completions").mock(side_effect=m)
        yield m


def merged_history(root) -> GitRepo:
    """main with two pull requests merged the way GitHub merges them, and
    a direct commit between them."""
    git = GitRepo(root, default_branch="main")
    git.commit("initial", {"src/shop/__init__.py": "", "src/shop/api.py": API_BASE,
                           "pyproject.toml": "[project]\nname = 'shop'\n"})  # fmt: skip
    for n, (branch, files) in enumerate(
        [("octo/api", {"src/shop/api.py": API_HEAD}), ("octo/docs", {"README.md": "# Shop\n"})], 1
    ):
        git.checkout(branch, create=True, start="main")
        git.commit(f"Work on {branch}", files)
        git.checkout("main")
        if n == 2:
            git.commit("A direct commit", {"NOTES.txt": "n\n"})
        git.git("merge", "-q", "--no-ff", branch, "-m",
                f"Merge pull request #{n} from {branch}\n\nPR {n}: {branch}")  # fmt: skip
    return git


def test_merges_on_the_first_parent_line_oldest_first(tmp_path):
    git = merged_history(tmp_path / "repo")
    found = changes(git, 5)
    assert [c.name for c in found] == ["pr-1-pr-1-octo-api", "pr-2-pr-2-octo-docs"]
    assert found[0].title == "PR 1: octo/api" and found[0].head == git.sha("octo/api")
    assert found[0].base == git.sha("main~2^1")  # the merge's first parent
    assert [c.title for c in changes(git, 1)] == ["PR 2: octo/docs"]
    singles = changes(git, 2, by="commits")
    assert [c.title for c in singles] == ["A direct commit"]  # the root has no parent


def test_squash_merged_projects_are_read_commit_by_commit(tmp_path):
    git = GitRepo(tmp_path / "repo", default_branch="main")
    git.commit("initial", {"a.py": "A = 1\n"})
    git.commit("Add b (#7)", {"b.py": "B = 2\n"})
    git.commit("Add c (#8)\n\nMore text.", {"c.py": "C = 3\n"})
    found = changes(git, 10)
    assert [c.name for c in found] == ["pr-7-add-b-7", "pr-8-add-c-8"]  # the root has no parent
    assert found[1].body == "More text."
    with pytest.raises(RepositoryError, match="at least 1"):
        changes(git, 0)
    with pytest.raises(RepositoryError, match="names no commit"):
        changes(git, 3, ref="nope")
    with pytest.raises(RepositoryError, match="no merges"):
        changes(git, 3, by="merges")


def test_history_writes_unlabelled_cases_that_labels_then_score(tmp_path, model):
    git = merged_history(tmp_path / "repo")
    out = tmp_path / "evals" / "cases.yaml"
    out.parent.mkdir()
    cfg = config(tmp_path / "p")
    with LocalReviewer(cfg) as reviewer:
        made, failures = review_history(reviewer, git, changes(git, 5), relative_repo(git, out))
    assert failures == []
    cases, added = merge_into(None, made)
    save_cases(out, cases)
    written = load_cases(out)
    api = written.cases[0]
    assert api.repo == "../repo" and not api.exhaustive
    assert {(b.kind, b.symbol) for b in api.breaking} == {
        ("parameter-removed", "shop.api.get_order"),
        ("object-removed", "shop.api.cancel_order"),
        ("parameter-added-required", "shop.api.list_orders"),
    }
    assert all(b.label == "unlabelled" for b in api.breaking)
    # a maintainer says the removed parameter was intended (false), the rest true
    lines = []
    for line in out.read_text().splitlines():
        if "label: unlabelled" in line and line.lstrip().startswith("- {"):
            verdict = "false" if "shop.api.get_order" in line else "true"
            line = line.replace("label: unlabelled", f"label: {verdict}")
        lines.append(line)
    text = "\n".join(lines) + "\n"
    assert "label: false" in text
    out.write_text(text)
    with LocalReviewer(cfg) as reviewer:
        ev = evaluate(out, load_cases(out), reviewer)
    b = ev.overall()["breaking"]
    assert (b["expected"], b["found"], b["false"]) == (2, 2, 1)
    assert b["precision"] == 0.667
    # --history again: the labelled cases are kept as they are, nothing is added twice
    again, added = merge_into(load_cases(out), made)
    assert added == 0 and again == load_cases(out)
    extra = made[0].model_copy(update={"head": "0" * 40})
    grown, added = merge_into(load_cases(out), [extra])
    assert added == 1 and grown.cases[-1].name == made[0].name + "-2"
    assert parse_cases(out.read_text()) == load_cases(out)
