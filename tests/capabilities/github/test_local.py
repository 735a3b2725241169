"""LocalRepository and LocalGithub: GitHub's REST answers from a local git
repository, checked against the fake GitHub (whose answers are checked
against GitHub's OpenAPI description) on the same repository."""

import base64
import json

import pytest

from flows.capabilities.github.local import (
    MAX_CONTENT_BYTES,
    LocalGithub,
    LocalRepository,
    describe,
    pull_range,
)
from flows.errors import RepositoryError
from flows.sandbox.capability import HostError
from tests.fakes.git import GitRepo
from tests.fakes.github import FakeGitHub, load_fixture

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def history(tmp_path):
    git = GitRepo(tmp_path / "repo", default_branch="main")
    git.commit("initial", {"src/app.py": "def run():\n    return 1\n",
                           "src/old_name.py": "VALUE = 1\n" * 20,
                           "docs/a.md": "# A\n", "logo.png": PNG})  # fmt: skip
    git.checkout("feature", create=True)
    git.rename("src/old_name.py", "src/new_name.py")
    git.commit("Rename and change", {"src/app.py": "def run(x):\n    return x\n",
                                      "logo.png": PNG + b"\x00", "docs/a.md": None,
                                      "big.txt": "x" * (MAX_CONTENT_BYTES + 10)})  # fmt: skip
    git.commit("Second commit\n\nWith a body.", {"src/extra.py": "A = 1\n"})
    return git


def local(git, base="main", head="feature") -> LocalGithub:
    return LocalGithub(git, pull_range(git, base, head), "octo/repo", "Title", "Body")


def get(gh: LocalGithub, path: str, **query):
    status, headers, text = gh.requester(None, 5).requestJson(
        "GET", f"/repos/octo/repo{path}", parameters=query or None
    )
    return status, headers, (json.loads(text) if text.startswith(("{", "[")) else text)


def test_pull_request_files_as_github_reports_them(tmp_path):
    gh = local(history(tmp_path))
    status, _h, files = get(gh, "/pulls/1/files")
    assert status == 200
    by = {f["filename"]: f for f in files}
    assert by["src/new_name.py"]["status"] == "renamed"
    assert by["src/new_name.py"]["previous_filename"] == "src/old_name.py"
    assert "patch" not in by["src/new_name.py"]  # an unchanged rename has no diff
    assert by["logo.png"]["status"] == "modified" and "patch" not in by["logo.png"]
    assert by["logo.png"]["additions"] == 0
    assert by["docs/a.md"]["status"] == "removed"
    assert by["src/app.py"]["patch"].startswith("@@ -1,2 +1,2 @@")
    assert by["src/app.py"]["additions"] == 2 and by["src/app.py"]["deletions"] == 2
    _s, _h, pull = get(gh, "/pulls/1")
    assert pull["changed_files"] == len(files) and pull["commits"] == 2
    assert pull["base"]["ref"] == "main" and pull["head"]["sha"] == gh.repo.sha("feature")


def test_same_answers_as_the_fake_github(tmp_path):
    """Files, commits, contents and compare: LocalGithub and the fake GitHub
    (the App's view in tests) answer the same for the same branches."""
    git = history(tmp_path)
    gh = local(git)
    fake = FakeGitHub().start()
    try:
        payload = load_fixture("pull_request.opened.json")
        payload["pull_request"]["number"] = payload["number"] = 1
        payload["repository"]["full_name"] = "octo/repo"
        fake.git_pull(payload, git, "main", "feature")
        from github import Github

        theirs = Github(base_url=fake.url).requester
        for path, query in [
            ("/pulls/1/files", {"per_page": "100"}),
            ("/pulls/1/commits", {"per_page": "100"}),
            ("/contents/src/app.py", {"ref": "feature"}),
            (f"/compare/main...{git.sha('feature')}", {}),
        ]:
            _s, _h, text = theirs.requestJson("GET", f"/repos/octo/repo{path}", parameters=query)
            want = json.loads(text)
            status, _h, got = get(gh, path, **query)
            assert status == 200, path
            if isinstance(want, list):
                keys = ["filename", "status", "additions", "deletions", "patch", "sha"]
                pick = [{k: i.get(k) for k in keys} for i in want]
                assert [{k: i.get(k) for k in keys} for i in got] == pick, path
            else:
                for k in ("status", "ahead_by", "merge_base_commit", "content", "encoding"):
                    assert got.get(k) == want.get(k), (path, k)
    finally:
        fake.stop()
    assert fake.undocumented() == []


def test_contents_large_raw_folder_and_missing(tmp_path):
    gh = local(history(tmp_path))
    _s, _h, small = get(gh, "/contents/src/app.py", ref="feature")
    assert base64.b64decode(small["content"]) == b"def run(x):\n    return x\n"
    _s, _h, big = get(gh, "/contents/big.txt", ref="feature")
    assert big["encoding"] == "none" and big["content"] == ""  # GitHub's answer over 1 MB
    status, _h, raw = gh.requester(None, 5).requestJson(
        "GET", "/repos/octo/repo/contents/big.txt", {"ref": "feature"},
        {"Accept": "application/vnd.github.raw"},
    )  # fmt: skip
    assert status == 200 and len(raw) == MAX_CONTENT_BYTES + 10
    _s, _h, folder = get(gh, "/contents/src", ref="feature")
    assert {e["name"] for e in folder} == {"app.py", "new_name.py", "extra.py"}
    assert get(gh, "/contents/docs/a.md", ref="feature")[0] == 404
    assert get(gh, "/contents/src/app.py", ref="no-such-ref")[0] == 404
    assert get(gh, "/issues/1/comments")[2] == []  # nothing posted yet
    assert get(gh, "/releases/latest")[0] == 404


def test_pages_follow_github_link_headers(tmp_path):
    git = GitRepo(tmp_path / "many", default_branch="main")
    git.commit("initial", {"a.txt": "a\n"})
    git.checkout("feature", create=True)
    git.commit("many", {f"f{i:03d}.txt": f"{i}\n" for i in range(130)})
    gh = local(git)
    _s, headers, first = get(gh, "/pulls/1/files", per_page="100")
    assert len(first) == 100 and 'rel="next"' in headers["link"]
    _s, headers, rest = get(gh, "/pulls/1/files", per_page="100", page="2")
    assert len(rest) == 30 and "link" not in headers


def test_writes_never_reach_it(tmp_path):
    gh = local(history(tmp_path))
    with pytest.raises(HostError, match="writes nothing"):
        gh.requester(None, 5).requestJson("POST", "/repos/octo/repo/issues/1/comments", None,
                                          None, {"body": "x"})  # fmt: skip


def test_ranges_that_cannot_be_reviewed(tmp_path):
    git = history(tmp_path)
    with pytest.raises(RepositoryError, match="'nope' names no commit"):
        pull_range(git, "nope", "feature")
    with pytest.raises(RepositoryError, match="nothing to review"):
        pull_range(git, "feature", "main")  # head is behind base
    with pytest.raises(RepositoryError, match="nothing to review"):
        pull_range(git, "feature", "feature")
    git.git("checkout", "-q", "--orphan", "other")
    git.commit("unrelated", {"x.txt": "x\n"})
    with pytest.raises(RepositoryError, match="share no history"):
        pull_range(git, "main", "other")
    with pytest.raises(RepositoryError, match="not a git repository"):
        LocalRepository.open(tmp_path)
    with pytest.raises(RepositoryError, match="no such folder"):
        LocalRepository.open(tmp_path / "missing")


def test_a_diverged_base_is_diffed_from_the_merge_base(tmp_path):
    git = history(tmp_path)
    git.checkout("main")
    git.commit("main moves on", {"src/later.py": "B = 2\n"})
    p = pull_range(git, "main", "feature")
    assert p.merge_base != p.base_sha
    gh = LocalGithub(git, p, "octo/repo")
    names = {f["filename"] for f in get(gh, "/pulls/1/files")[2]}
    assert "src/later.py" not in names and "src/extra.py" in names


def test_titles_from_commits():
    def commit(message):
        return {"commit": {"message": message}}

    assert describe([commit("Fix it\n\nBecause.")]) == ("Fix it", "Because.")
    merge = "Merge pull request #12 from octo/fix\n\nFix the parser\n\nDetails here."
    assert describe([commit(merge)]) == ("Fix the parser", "Details here.")
    assert describe([commit("One"), commit("Two\n\nx")]) == ("One", "- One\n- Two")


def test_remote_names_the_repository(tmp_path):
    git = GitRepo(tmp_path / "r")
    assert git.remote_repository() is None
    git.git("remote", "add", "origin", "git@github.com:octo-org/some.repo.git")
    assert git.remote_repository() == "octo-org/some.repo"
    git.git("remote", "set-url", "origin", "https://github.com/octo/hello")
    assert git.remote_repository() == "octo/hello"
