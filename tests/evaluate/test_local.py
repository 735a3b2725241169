"""`flows review`'s engine: the App's flow on a local range prints the same
comment the App posts on GitHub for the same pull request."""

from __future__ import annotations

import copy
import re

import pytest
import respx
from fastapi.testclient import TestClient
from pydantic import SecretStr

from flows.db.migrate import upgrade
from flows.errors import ConfigError, RepositoryError
from flows.evaluate.local import LocalReviewer, markdown, review_flow
from flows.server.http import create_app
from flows.server.service import Service
from tests.conftest import TOKEN
from tests.evaluate.helpers import BASE_URL, clone_with_branch, config
from tests.fakes.github import FakeGitHub, load_fixture
from tests.fakes.model import Rule, ScriptedModel
from tests.functions.code_review.fixtures import SECRET, Deliver, inline, ours

pytestmark = pytest.mark.slow
TITLE, BODY = "Drop LinkError; run hooks", "Hooks run through the shell."


@pytest.fixture
def model():
    m = ScriptedModel(rules=[Rule(r"shell=True", "high", "security", "Shell command")])
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{BASE_URL}/chat/completions").mock(side_effect=m)
        yield m


def app_comment(tmp_path, repo) -> tuple[str, list[str]]:
    """The pull request base -> pr of `repo`, delivered to the App (service,
    worker, fake GitHub): the comment it posts and its inline comments."""
    fake = FakeGitHub(token=TOKEN).start()
    try:
        cfg = config(tmp_path / "app")
        cfg.github.api_url, cfg.github.token = fake.url, SecretStr(TOKEN)
        cfg.github.webhook_secret = SecretStr(SECRET)
        cfg.github.request_interval_s = cfg.github.write_interval_s = 0
        svc = Service(cfg)
        upgrade(svc.engine)
        payload = copy.deepcopy(load_fixture("pull_request.opened.json"))
        payload["number"] = 1
        payload["pull_request"].update(
            number=1,
            title=TITLE,
            body=BODY,
            labels=[],
            draft=False,
            html_url="https://github.com/Codertocat/Hello-World/pull/1",
        )
        fake.git_pull(payload, repo, "base", "pr")
        payload["pull_request"]["head"]["sha"] = repo.sha("pr")
        with TestClient(create_app(svc)) as client:
            Deliver(client, svc)("pull_request", payload)
        gh_repo = fake.repos["codertocat/hello-world"]
        (c,) = ours(gh_repo, 1)
        return c["body"], [i["body"] for i in inline(gh_repo, 1)]
    finally:
        fake.stop()


def _same(text: str) -> str:
    return re.sub(r"run `[0-9a-f]{16}`", "run `RUN`", text)


def test_a_branch_of_this_repository_gets_the_comment_the_app_posts(tmp_path, model):
    repo = clone_with_branch(tmp_path / "clone")
    posted, posted_inline = app_comment(tmp_path, repo)
    with LocalReviewer(config(tmp_path / "local")) as reviewer:
        reviewer.prepare()
        done = reviewer.review(repo, "base", "pr", "Codertocat/Hello-World", TITLE, BODY)
    assert done.ok, done.error
    assert _same(done.comment) == _same(posted)
    assert [c["body"] for c in done.inline] == posted_inline
    assert "flows.errors.LinkError" in done.comment  # the removed class, by the API diff
    assert "shell" in done.comment and posted_inline  # the check's risk, inline too
    # nothing was sent anywhere, and the printed Markdown holds it all
    assert all(w["dry_run"] for w in done.report["writes"])
    text = markdown(done)
    assert (
        text.startswith(done.comment) and "**Inline comment** on `flows/devtools/watch.py`" in text
    )


def test_memory_is_throwaway_and_each_review_is_a_first_review(tmp_path, model):
    repo = clone_with_branch(tmp_path / "clone")
    cfg = config(tmp_path / "local")
    with LocalReviewer(cfg) as reviewer:
        first = reviewer.review(repo, "base", "pr")
        again = reviewer.review(repo, "base", "pr")
        assert reviewer.cfg.database.url != cfg.database.url
    assert first.result["mode"] == again.result["mode"] == "auto"  # not "incremental"
    assert "skipped" not in again.result  # not "already reviewed"
    assert not (tmp_path / "local" / "app.db").exists()  # app.yaml's database untouched
    assert first.report["repository"] == "local/clone"  # no GitHub remote: a local name


def test_the_review_flow_is_found_or_named(tmp_path):
    cfg = config(tmp_path / "p")
    assert review_flow(cfg) == "code-review"
    with pytest.raises(ConfigError, match="unknown flow 'nope'"):
        review_flow(cfg, "nope")
    cfg.flows = {}
    with pytest.raises(ConfigError, match="no flow runs functions/code_review; name one"):
        review_flow(cfg)


def test_a_range_that_cannot_be_reviewed_is_refused_before_any_run(tmp_path, model):
    repo = clone_with_branch(tmp_path / "clone")
    reviewer = LocalReviewer(config(tmp_path / "local"))
    with reviewer, pytest.raises(RepositoryError, match="nothing to review"):
        reviewer.review(repo, "pr", "base")
    assert model.requests == []


def test_a_branch_that_merged_its_base_is_compared_from_the_merge_base(tmp_path, model):
    """main made pkg a package after the branch started, and the branch
    merged main: GitHub diffs from the new merge base, and the API diff
    compares from there too (from the branch's first parent, pkg was no
    package yet and its API change went unseen)."""
    from tests.fakes.git import GitRepo

    git = GitRepo(tmp_path / "repo", default_branch="main")
    api = "def keep(a, strict=False):\n    return a\n"
    git.commit("initial", {"pyproject.toml": "[project]\nname = 'pkg'\n", "pkg/api.py": api})
    git.checkout("feature", create=True)
    git.commit("Drop strict", {"pkg/api.py": api.replace(", strict=False", "")})
    git.checkout("main")
    git.commit("Make pkg a package", {"pkg/__init__.py": ""})
    git.checkout("feature")
    git.git("merge", "-q", "main", "-m", "Merge main")
    with LocalReviewer(config(tmp_path / "p")) as reviewer:
        done = reviewer.review(git, "main", "feature")
    rows = [(b["kind"], b["symbol"]) for b in done.result["breaking"]]
    assert rows == [("parameter-removed", "pkg.api.keep")]
