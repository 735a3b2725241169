"""`flows review` and `flows eval` from the command line: what they print,
what they write, and exit codes 0 / 1 (a case failed) / 2 (bad input)."""

from __future__ import annotations

import json

import pytest
import respx
from click.testing import CliRunner

from flows.cli import main
from tests.evaluate.helpers import BASE_URL, LLM, project
from tests.evaluate.test_history import merged_history
from tests.fakes.git import GitRepo
from tests.fakes.model import ScriptedModel
from tests.functions.code_review.fixtures import make_git

pytestmark = pytest.mark.slow
OTHER_URL = "https://llm.other.test/v1"


@pytest.fixture
def model():
    m = ScriptedModel()
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{BASE_URL}/chat/completions").mock(side_effect=m)
        mock.post(f"{OTHER_URL}/chat/completions").mock(side_effect=ScriptedModel())
        yield m


def flows(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_review_prints_the_comment_and_sends_nothing(tmp_path, model):
    git = make_git(tmp_path / "repo")
    cfg = str(project(tmp_path / "p"))
    r = flows("review", str(git.path), "--base", "master", "--config", cfg)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("<!-- flows:code-review -->\n## flows review")
    assert "shop.api.cancel_order" in r.stdout and "coupons" in r.stdout
    assert "reviewed master..HEAD: 1 commit, 5 files changed" in r.stderr
    assert "nothing was sent to GitHub" in r.stderr and "uncommitted" not in r.stderr
    (git.path / "src/shop/api.py").write_text("# edited, not committed\n")
    r = flows("review", str(git.path), "--base", "master", "--config", cfg)
    assert "note: 1 file with uncommitted changes not reviewed" in r.stderr
    r = flows("review", str(git.path), "--base", "master", "--json", "--config", cfg)
    report = json.loads(r.stdout)
    assert report["status"] == "ok" and report["dry_run"] is True
    assert report["comment"].startswith("<!-- flows:code-review -->")
    assert report["result"]["breaking"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["{tmp}", "--base", "master"], "is not a git repository"),
        (["{repo}", "--base", "nope"], "'nope' names no commit"),
        (["{repo}", "--base", "feature", "--head", "master"], "nothing to review"),
        (["{repo}", "--base", "feature"], "nothing to review"),
        (["{repo}", "--base", "master", "--head", "other"], "share no history"),
        (["{repo}", "--base", "master", "--flow", "nope"], "unknown flow 'nope'"),
    ],
)
def test_review_bad_input_exits_2(tmp_path, model, args, message):
    git = make_git(tmp_path / "repo")
    git.git("checkout", "-q", "--orphan", "other")
    git.commit("unrelated", {"x.txt": "x\n"})
    git.checkout("feature")
    cfg = str(project(tmp_path / "p"))
    args = [a.format(tmp=tmp_path, repo=git.path) for a in args]
    r = flows("review", *args, "--config", cfg)
    assert r.exit_code == 2 and message in r.stderr, r.stderr
    assert model.requests == []


CASES = """
cases:
  - name: orders
    repo: repo
    base: master
    head: feature
    breaking:
      - {kind: object-removed, symbol: shop.api.cancel_order}
      - {kind: table-dropped, symbol: coupons}
    problems:
      - {path: src/shop/handlers.py, lines: 6, rule: eval-exec}
  - {name: docs, repo: repo, base: master, head: docs, clean: true}
"""


def cases_file(tmp_path) -> tuple:
    git = make_git(tmp_path / "repo")
    git.checkout("docs", create=True, start="master")
    git.commit("Explain orders", {"docs/guide.md": "# Guide\n\nMore.\n"})
    path = tmp_path / "cases.yaml"
    path.write_text(CASES)
    return path, git


def test_eval_prints_scores_and_writes_json(tmp_path, model):
    path, _git = cases_file(tmp_path)
    out = tmp_path / "scores.json"
    cfg = str(project(tmp_path / "p"))
    r = flows("eval", str(path), "--config", cfg, "--json", str(out))
    assert r.exit_code == 0, r.stderr
    assert "orders" in r.stdout and "docs" in r.stdout
    assert "breaking  recall 1.00 (2/2)" in r.stdout
    assert "[1/2] orders: ok" in r.stderr and "[2/2] docs: ok" in r.stderr  # progress lines
    data = json.loads(out.read_text())
    # the API diff found 2 breaking changes; one is not in the cases: a false positive
    assert data["overall"]["breaking"]["found"] == 2 and data["overall"]["failed"] == 0
    assert [c["name"] for c in data["cases"]] == ["orders", "docs"]


def test_eval_compare_two_configurations(tmp_path, model):
    path, _git = cases_file(tmp_path)
    a = str(project(tmp_path / "a"))
    b = str(project(tmp_path / "b", LLM.replace(BASE_URL, OTHER_URL)))
    out = tmp_path / "both.json"
    r = flows("eval", str(path), "--compare", a, b, "--json", str(out))
    assert r.exit_code == 0, r.stderr
    table = r.stdout.split("breaking recall", 1)
    assert a in table[0].splitlines()[-1] and b in table[0].splitlines()[-1]  # the header
    assert "risks precision" in table[1]
    assert set(json.loads(out.read_text())) == {"a", "b", "metrics"}


def test_eval_a_failed_case_exits_1_and_the_others_run(tmp_path, model, monkeypatch):
    path, git = cases_file(tmp_path)
    import flows.evaluate.evaluation as evaluation

    real = evaluation.run_case

    def run_case(reviewer, repo, case):
        if case.name == "docs":  # gone since the cases were checked
            git.git("checkout", "-q", "master")
            git.git("branch", "-q", "-D", "docs")
        return real(reviewer, repo, case)

    monkeypatch.setattr(evaluation, "run_case", run_case)
    r = flows("eval", str(path), "--config", str(project(tmp_path / "p")))
    assert r.exit_code == 1
    assert "FAILED" in r.stdout and "1 case(s) failed" in r.stderr
    assert "orders" in r.stdout and "recall 1.00" in r.stdout


@pytest.mark.parametrize(
    "cases, message",
    [
        ("cases:\n  - {name: a, base: master, head: feature, colour: red}",
         "cases.0.colour: Extra inputs are not permitted"),
        ("cases:\n  - {name: a, repo: repo, base: master, head: nope}",
         "cases.0 (a): 'nope' names no commit"),
        ("cases:\n  - {name: a, repo: nowhere, base: master, head: feature}",
         "cases.0 (a): "),
    ],
)  # fmt: skip
def test_eval_bad_cases_exit_2(tmp_path, model, cases, message):
    make_git(tmp_path / "repo")
    path = tmp_path / "bad.yaml"
    path.write_text(cases)
    r = flows("eval", str(path), "--config", str(project(tmp_path / "p")))
    assert r.exit_code == 2 and message in r.stderr, r.stderr
    assert model.requests == []


def test_eval_usage_errors_exit_2(tmp_path):
    assert flows("eval").exit_code == 2
    r = flows("eval", "x.yaml", "--history", "3", str(tmp_path))
    assert r.exit_code == 2 and "--history writes --out" in r.stderr


def test_history_writes_unlabelled_cases_from_real_history(tmp_path, model):
    git = merged_history(tmp_path / "repo")
    out = tmp_path / "evals.yaml"
    cfg = str(project(tmp_path / "p"))
    r = flows("eval", "--history", "5", str(git.path), "--out", str(out), "--config", cfg)
    assert r.exit_code == 0, r.stderr
    assert "2 new case(s) from 2 change(s)" in r.stderr
    text = out.read_text()
    assert "- {label: unlabelled, kind: object-removed, symbol: shop.api.cancel_order" in text
    r = flows("eval", str(out), "--config", cfg)  # unlabelled: nothing scored, nothing failed
    assert r.exit_code == 0 and "unlabelled 3" in r.stdout
    again = flows("eval", "--history", "5", str(git.path), "--out", str(out), "--config", cfg)
    assert "0 new case(s) from 2 change(s), 2 kept" in again.stderr
    not_git = flows("eval", "--history", "5", str(tmp_path), "--out", str(out), "--config", cfg)
    assert not_git.exit_code == 2 and "not a git repository" in not_git.stderr


def test_history_of_squash_merged_commits(tmp_path, model):
    git = GitRepo(tmp_path / "repo", default_branch="main")
    git.commit("initial", {"a.py": "A = 1\n"})
    git.commit("Add b (#7)", {"b.py": "B = 2\n"})
    out = tmp_path / "evals.yaml"
    r = flows("eval", "--history", "3", str(git.path), "--out", str(out), "--config",
              str(project(tmp_path / "p")))  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "name: pr-7-add-b-7" in out.read_text()


def test_add_new_writes_what_no_item_judges_for_labelling(tmp_path, model):
    """A later run (another model, a new check) says something the labels do
    not cover: it is listed as not judged, and --add-new puts it in the file."""
    git = merged_history(tmp_path / "repo")
    out = tmp_path / "evals.yaml"
    cfg = str(project(tmp_path / "p"))
    flows("eval", "--history", "5", str(git.path), "--out", str(out), "--config", cfg)
    from flows.evaluate.cases import load_cases, save_cases

    cases = load_cases(out)
    cases.cases[0].breaking = cases.cases[0].breaking[:1]  # as if two were never said before
    save_cases(out, cases)
    r = flows("eval", str(out), "--config", cfg)
    assert r.stdout.count("not judged breaking:") == 2
    a = str(project(tmp_path / "a"))
    r = flows("eval", str(out), "--compare", cfg, a, "--add-new")
    assert "added 2 unlabelled item(s)" in r.stderr  # said by both configurations: added once
    assert len(load_cases(out).cases[0].breaking) == 3
    r = flows("eval", str(out), "--config", cfg)
    assert "not judged breaking:" not in r.stdout and "unlabelled 3" in r.stdout
