"""The github integration: pure logic on the host, then every call through Wasm
against the fake GitHub (pagination, marker upserts, review-line checks)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flows.project.events import Event
from tests.fakes.github import load_fixture

sys.path.insert(0, str(Path(__file__).parents[2] / "flows" / "guest"))
sys.path.insert(0, str(Path(__file__).parents[2] / "integrations" / "github"))
import diff
import text

PATCH = """@@ -1,4 +1,5 @@ def main():
 import os
-import sys
+import json
+import re
{blank}
 x = 1
@@ -20,3 +21,3 @@ class A:
     a = 1
-    b = 2
+    b = 3
     c = 4
\\ No newline at end of file""".replace("{blank}", " ")


def test_parse_patch_numbers_every_line():
    hunks = diff.parse_patch(PATCH)
    assert [(h.old_start, h.old_lines, h.new_start, h.new_lines) for h in hunks] == [
        (1, 4, 1, 5),
        (20, 3, 21, 3),
    ]
    assert hunks[0].section == "def main():"
    got = [(ln.kind, ln.old, ln.new, ln.text) for ln in hunks[0].lines]
    assert got == [
        ("context", 1, 1, "import os"),
        ("removed", 2, None, "import sys"),
        ("added", None, 2, "import json"),
        ("added", None, 3, "import re"),
        ("context", 3, 4, ""),
        ("context", 4, 5, "x = 1"),
    ]
    assert [(ln.kind, ln.old, ln.new) for ln in hunks[1].lines] == [
        ("context", 20, 21), ("removed", 21, None), ("added", None, 22), ("context", 22, 23),
    ]  # fmt: skip


def test_parse_patch_refuses_text_that_is_not_a_diff():
    with pytest.raises(diff.PatchError, match="line 1"):
        diff.parse_patch("hello\n@@ -1 +1 @@\n")
    assert diff.parse_patch("") == []


def test_review_lines_are_checked_against_hunks():
    targets = diff.commentable(diff.parse_patch(PATCH))
    assert diff.line_problem(targets, "RIGHT", 3, None) is None
    assert diff.line_problem(targets, "RIGHT", 2, 1) is None
    assert diff.line_problem(targets, "LEFT", 2, None) is None
    assert "not in a diff hunk" in diff.line_problem(targets, "RIGHT", 10, None)
    assert "more than one hunk" in diff.line_problem(targets, "RIGHT", 22, 3)
    assert "after" in diff.line_problem(targets, "RIGHT", 2, 3)
    assert "not in the diff" in diff.line_problem(None, "RIGHT", 1, None)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("thanks @octocat!", "thanks @\u200boctocat!"),
        ("cc @github/security-team", "cc @\u200bgithub/security-team"),
        ("mail me@example.com", "mail me@example.com"),
        ("`@decorator` and ```\n@app.get\n```", "`@decorator` and ```\n@app.get\n```"),
        ("@a-b @-x", "@\u200ba-b @-x"),
    ],
)
def test_mentions_are_neutralized_outside_code(raw, want):
    assert text.neutralize_mentions(raw) == want


def test_markers_are_validated_and_bodies_fit_the_limit():
    assert text.marker_line("code-review:summary") == "<!-- flows:code-review:summary -->"
    with pytest.raises(ValueError, match="marker"):
        text.marker_line("bad -->")
    cut = text.fit("x" * 70000)
    assert len(cut) == text.MAX_BODY and cut.endswith("size limit)_")


# -- through Wasm, against the fake ------------------------------------------------

_numbers = iter(range(100, 1000))


@pytest.fixture
def pr(fake_github):
    """A fresh pull request in the fixture repository."""
    payload = load_fixture("pull_request.opened.json")
    number = next(_numbers)
    payload["number"] = number
    payload["pull_request"] = {**payload["pull_request"], "number": number, "labels": []}
    repo = fake_github.add_repo_from_event(payload)
    repo.files[number] = [
        {"filename": "app.py", "status": "modified", "additions": 3, "deletions": 2,
         "patch": PATCH},
        {"filename": "logo.png", "status": "added", "additions": 0, "deletions": 0},
    ]  # fmt: skip
    return repo, payload


def call(runtime, payload, *ops):
    event = Event("pull_request", {**payload, "ops": [list(op) for op in ops]})
    report = runtime.run("gh-probe", event)
    assert report.ok, report.error
    return report.result


@pytest.mark.slow
def test_upsert_creates_then_edits_in_place_then_leaves_alone(probe_runtime, fake_github, pr):
    repo, payload = pr
    n = payload["number"]
    for i in range(120):  # the flow's comment ends up on page 2
        fake_github.add_comment(repo, n, f"chatter {i}", "someone")
    fake_github.add_comment(repo, n, "quoting <!-- flows:size --> in my own comment", "mallory")
    up = ("upsert_comment", {"number": n, "marker": "size", "body": "v1 for @octocat"})
    first = call(probe_runtime, payload, up)[0]["ok"]
    assert first["action"] == "created"
    mine = next(c for c in repo.comments[n] if c["id"] == first["id"])
    assert mine["body"] == "<!-- flows:size -->\nv1 for @\u200boctocat"
    assert call(probe_runtime, payload, up)[0]["ok"]["action"] == "unchanged"
    up2 = ("upsert_comment", {"number": n, "marker": "size", "body": "v2"})
    second = call(probe_runtime, payload, up2)[0]["ok"]
    assert (second["id"], second["action"]) == (first["id"], "updated")
    ours = [c for c in repo.comments[n] if "flows:size" in c["body"]]
    assert len(ours) == 2  # ours, and mallory's untouched quote
    assert any(c["user"]["login"] == "mallory" and "quoting" in c["body"] for c in ours)


@pytest.mark.slow
def test_upsert_keeps_one_copy_and_survives_a_deleted_comment(probe_runtime, fake_github, pr):
    repo, payload = pr
    n = payload["number"]
    for body in ("<!-- flows:s -->\nold", "<!-- flows:s -->\nolder copy"):
        fake_github.add_comment(repo, n, body, "flows-test-user")
    res = call(
        probe_runtime, payload, ("upsert_comment", {"number": n, "marker": "s", "body": "x"})
    )
    assert res[0]["ok"]["removed_duplicates"] == 1
    assert [c["body"] for c in repo.comments[n]] == ["<!-- flows:s -->\nx"]
    found = call(probe_runtime, payload, ("find_comment", {"number": n, "marker": "s"}))
    assert found[0]["ok"]["id"] == res[0]["ok"]["id"]
    repo.comments[n].clear()
    again = call(
        probe_runtime, payload, ("upsert_comment", {"number": n, "marker": "s", "body": "y"})
    )
    assert again[0]["ok"]["action"] == "created"
    bad = call(
        probe_runtime, payload, ("upsert_comment", {"number": n, "marker": "a b", "body": "y"})
    )
    assert "marker" in bad[0]["err"]


@pytest.mark.slow
def test_review_folds_lines_outside_the_diff(probe_runtime, fake_github, pr):
    repo, payload = pr
    n = payload["number"]
    comments = [
        {"path": "app.py", "line": 3, "start_line": 2, "side": "right", "body": "new imports"},
        {"path": "app.py", "line": 2, "side": "left", "body": "why drop sys?"},
        {"path": "app.py", "line": 40, "side": "right", "body": "far away, cc @octocat"},
        {"path": "other.py", "line": 1, "side": "right", "body": "not in this PR"},
    ]
    args = {"number": n, "commit_sha": "abc", "body": "Review", "comments": comments}
    res = call(probe_runtime, payload, ("create_review", args))[0]["ok"]
    assert res["posted"] == 2
    assert [c["line"] for c in res["folded"]] == [40, 1]
    review = repo.reviews[n][-1]
    assert "Notes on lines outside the diff" in review["body"]
    assert "@\u200boctocat" in review["body"]
    assert len(repo.review_comments[n]) == 2


@pytest.mark.slow
def test_review_refused_by_github_is_folded_once_not_looped(probe_runtime, fake_github, pr):
    repo, payload = pr
    n = payload["number"]
    path = f"/repos/{repo.full_name}/pulls/{n}/reviews"
    fake_github.fail_next(path, 422)
    args = {"number": n, "commit_sha": "abc", "body": "Review",
            "comments": [{"path": "app.py", "line": 3, "side": "right", "body": "hm"}]}  # fmt: skip
    res = call(probe_runtime, payload, ("create_review", args))[0]["ok"]
    assert res["posted"] == 0 and len(res["folded"]) == 1
    posts = [r for r in fake_github.requests if r["path"] == path and r["method"] == "POST"]
    assert len(posts) == 2
    assert posts[1]["body"]["comments"] == []


@pytest.mark.slow
def test_files_contents_compare_commits_reactions_checks(probe_runtime, fake_github, pr):
    repo, payload = pr
    n = payload["number"]
    repo.contents["abc"] = {"src/m.py": b"def f():\n    return 1\n", "img.bin": b"\xff\xfe\x00"}
    commits = [{"sha": f"{i:040x}", "commit": {"message": f"c{i}", "author": {"name": "A"}},
                "parents": [{"sha": f"{i - 1:040x}"}]} for i in range(1, 131)]  # fmt: skip
    repo.commits[n] = commits
    repo.compares["b1...h1"] = {"status": "ahead", "ahead_by": 130, "behind_by": 0,
                                "merge_base_commit": {"sha": "b1"}, "commits": commits,
                                "files": repo.files[n]}  # fmt: skip
    run = {"name": "flows", "head_sha": "h1", "status": "in_progress", "conclusion": None,
           "title": "Reviewing", "summary": "started by @octocat", "text": None}  # fmt: skip
    done = {**run, "status": "completed", "conclusion": "success", "title": "Done"}
    out = call(
        probe_runtime,
        payload,
        ("list_files", {"number": n}),
        ("parse_patch", {"patch": PATCH}),
        ("get_file", {"path": "src/m.py", "ref": "abc"}),
        ("get_file", {"path": "missing.py", "ref": "abc"}),
        ("get_file", {"path": "img.bin", "ref": "abc"}),
        ("compare", {"base": "b1", "head": "h1"}),
        ("list_commits", {"number": n}),
        ("add_reaction", {"subject": "issue", "id": n, "content": "eyes"}),
        ("add_reaction", {"subject": "issue", "id": n, "content": "thumbs"}),
        ("create_check_run", {"run": run}),
        ("neutralize_mentions", {"text": "hi @you"}),
    )
    files, hunks, src, missing, binary, cmp, listed, react, bad_react, check, neut = out
    assert [f["filename"] for f in files["ok"]] == ["app.py", "logo.png"]
    assert files["ok"][1]["patch"] is None
    assert hunks["ok"][0]["lines"][1] == {"kind": "removed", "old_line": 2, "new_line": None,
                                          "text": "import sys"}  # fmt: skip
    assert src["ok"] == "def f():\n    return 1\n"
    assert missing["ok"] is None
    assert "not UTF-8" in binary["err"]
    assert len(cmp["ok"]["commits"]) == 130 and cmp["ok"]["merge_base_sha"] == "b1"
    assert len(listed["ok"]) == 130 and listed["ok"][0]["parents"] == [f"{0:040x}"]
    assert react == {"ok": None} and repo.reactions[-1]["content"] == "eyes"
    assert "reaction" in bad_react["err"]
    check_id = check["ok"]
    assert repo.check_runs[check_id]["output"]["summary"] == "started by @\u200boctocat"
    assert neut["ok"] == "hi @\u200byou"
    upd = call(probe_runtime, payload, ("update_check_run", {"id": check_id, "run": done}))
    assert upd == [{"ok": None}]
    assert repo.check_runs[check_id]["conclusion"] == "success"
    bad = call(probe_runtime, payload, ("update_check_run", {"id": check_id, "run": {
        **done, "conclusion": None}}))  # fmt: skip
    assert "conclusion" in bad[0]["err"]


@pytest.mark.slow
def test_http_errors_become_clear_errors(probe_runtime, fake_github, pr):
    _repo, payload = pr
    n = payload["number"]
    out = call(
        probe_runtime,
        payload,
        ("get_pull_request", {"number": 99999}),
        ("create_comment", {"number": n, "body": "x" * 70000}),
        ("remove_label", {"number": n, "label": "not-there"}),
    )
    assert "404 Not Found" in out[0]["err"]
    assert out[1]["ok"]["body"].endswith("size limit)_")
    assert out[2] == {"ok": None}
