"""The code-review function's pure parts: diff line maps and fingerprints,
commands, the comment's layout, and its state."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[3] / "functions" / "code_review"))
sys.path.insert(0, str(Path(__file__).parents[3] / "flows" / "guest"))
import commands
import comment
import diffmap
import prompts
from state import Change, Finding, State, split_json

hunks = diffmap.parse


PATCH = """@@ -1,4 +1,5 @@ class Shop:
 def pay(order):
-    charge(order)
+    check(order)
+    charge(order, retry=True)
     log(order)
 x = 1
@@ -20,2 +21,3 @@ def refund(order):
     a = 1
+    eval(order.note)
     return a"""


def test_numbered_diff_carries_head_line_numbers():
    text = diffmap.numbered("modified", hunks(PATCH))
    assert text.splitlines()[:2] == ["@@ class Shop:", "1  def pay(order):"]
    assert "\n2 +    check(order)\n" in text and "\n-    charge(order)\n" in text
    assert "\n22 +    eval(order.note)" in text
    renamed = diffmap.numbered("renamed", hunks(PATCH), previous="src/old.py")
    assert renamed.splitlines()[0] == "(renamed from src/old.py)"


def test_model_line_ranges_are_checked_against_the_diff():
    h = hunks(PATCH)
    assert diffmap.anchor(h, 2, 3) == (2, 3)
    assert diffmap.anchor(h, 3, 40) == (3, 5)  # the end is pulled into the hunk
    assert diffmap.anchor(h, 22, 1) == (22, 22)  # an end before the start
    assert diffmap.anchor(h, 10, 12) is None  # not in the diff
    assert diffmap.anchor(h, "2", 3) is None and diffmap.anchor(h, True, 3) is None


def test_fingerprints_follow_the_code_not_its_place():
    h = hunks(PATCH)
    a = diffmap.fingerprint("security", "src/shop.py", "refund", diffmap.code_at(h, 22, 22))
    moved = PATCH.replace("@@ -20,2 +21,3 @@", "@@ -30,2 +41,3 @@")
    h2 = hunks(moved)
    b = diffmap.fingerprint("security", "src/shop.py", "refund", diffmap.code_at(h2, 42, 42))
    assert a == b and re.fullmatch(r"[0-9a-f]{20}", a)
    assert a != diffmap.fingerprint("bug", "src/shop.py", "refund", diffmap.code_at(h, 22, 22))
    assert diffmap.symbol_at(h, 22) == "refund" and diffmap.symbol_at(h, 2) == "pay"


def test_lines_are_carried_across_a_push():
    push = hunks("@@ -3,0 +4,2 @@\n+new1\n+new2\n@@ -10,2 +12,1 @@\n-gone\n ctx")
    assert [diffmap.map_line(push, n) for n in (1, 3, 4, 9)] == [1, 3, 6, 11]
    assert diffmap.map_line(push, 10) is None  # the line was removed
    assert diffmap.map_line(push, 11) == 12 and diffmap.map_line(push, 30) == 31


def test_commands_from_people_not_bots():
    def c(body, assoc="MEMBER", kind="User", login="octo"):
        return {"body": body, "author_association": assoc, "user": {"login": login, "type": kind}}

    assert commands.parse(c("/review")) == commands.Command("review", "", "octo", True)
    ask = commands.parse(c("/ask  is this\nsafe?", assoc="NONE"))
    assert (ask.name, ask.arg, ask.trusted) == ("ask", "is this\nsafe?", False)
    assert commands.parse(c("/Summary")).name == "summary"
    assert commands.parse(c("/review", kind="Bot")) is None
    assert commands.parse(c("/review", login="flows[bot]")) is None
    for body in ("please /review", "/reviewing", "/", "", "/deploy now"):
        assert commands.parse(c(body)) is None
    assert "only people with write access" in commands.refusal(ask)


def finding(fp="f1", severity="high", **kw) -> Finding:
    base = dict(
        fingerprint=fp,
        rule="security",
        path="src/a.py",
        symbol="run",
        title="eval",
        why="runs | user input",
        severity=severity,
        start_line=3,
        end_line=4,
    )
    return Finding(**{**base, **kw})


def test_the_comment_has_every_section_and_a_state_marker():
    s = State(
        head_sha="b" * 40,
        base_sha="a" * 40,
        ranges=[["", "b" * 40]],
        commits=2,
        summary="Adds a shop.",
        walkthrough={"src/a.py": "New | file"},
        findings=[finding("f1", "medium"), finding("f2", "critical", start_line=None)],
        breaking=[
            Change(
                "src/a.py",
                7,
                "pay",
                "object-removed",
                "Public object was removed",
                "callers of `a.pay`",
                "api",
            )
        ],
        skipped={"poetry.lock": "ignored by the settings (`*.lock`)"},
        model="m",
    )
    sections = ["summary", "walkthrough", "risks", "breaking", "not-reviewed"]
    body = comment.render(s, "https://github.com/o/r/pull/5", sections, ["x: bad"], "run1")
    heads = re.findall(r"^### (.+)$", body, re.M)
    assert heads == ["Summary", "Walkthrough", "Risks", "Breaking changes", "Not reviewed"]
    assert "| `src/a.py` | New \\| file |" in body
    risks = body.split("### Risks")[1].split("###")[0]
    assert risks.index("critical") < risks.index("medium")  # worst first
    assert "[`src/a.py` L3-4](https://github.com/o/r/pull/5/files#diff-" in risks
    assert "| `pay` | Public object was removed |" in body
    assert "- `poetry.lock`: ignored by the settings (`*.lock`)" in body
    assert "Reviewed `aaaaaaa..bbbbbbb` (2 commits) with m · run `run1`" in body
    assert body.rstrip().endswith('"findings": ["f1", "f2"]} -->')
    assert "Settings problems" in body and "x: bad" in body


def test_a_large_walkthrough_is_grouped_by_folder():
    walk = {f"src/pkg{i % 3}/m{i}.py": "x" for i in range(40)}
    lines = comment._walkthrough(walk)
    assert (
        lines.count("<details>") == 3
        and "<summary><code>src/pkg0</code>: 14 files</summary>" in lines
    )


def test_state_round_trips_and_splits_for_memory():
    s = State(
        head_sha="h", findings=[finding()], breaking=[Change("a", 1, "b", "c", "d", "e", "api")]
    )
    core, maps = s.to_parts()
    again = State.from_parts(core, json.loads(json.dumps(maps)))
    assert again == s
    assert State.from_json("not json") == State() and State.from_json(None) == State()
    parts = split_json({f"p{i}": "x" * 100 for i in range(50)}, 1000)
    assert len(parts) > 5 and all(len(p) <= 1000 for p in parts)


def test_schemas_bound_every_string_and_list():
    import json

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "string" and "enum" not in node:
                assert "maxLength" in node
            if node.get("type") == "array":
                assert "maxItems" in node
            for v in node.values():
                walk(v)

    for text in (prompts.review_schema([1, 2], True, True, True), prompts.summary_schema()):
        walk(json.loads(text))
    # files by number, as an enum: llama.cpp's grammar ignores integer minimum/maximum
    review = json.loads(prompts.review_schema([3, 4], False, True, True))
    assert review["$defs"]["file"] == {"type": "integer", "enum": [3, 4]}
    for key in ("files", "risks", "breaking"):
        assert review["properties"][key]["items"]["properties"]["file"] == {"$ref": "#/$defs/file"}
    assert "summary" not in review["properties"]  # a chunk among several: the overview writes it
    system = prompts.system(
        "review", "Deutsch", "Be kind.", [("convention", "snake_case"), ("pr", "#3: touched a.py")]
    )
    assert "Write in Deutsch" in system and "- snake_case" in system and "#3: touched" in system


def test_the_base_file_is_rebuilt_from_head_and_diff():
    base = "a\nb\nc\nd\ne\nf\ng\nh\n"
    head = "a\nB\nc\nd\ne\nf\nG\nG2\nh\n"
    patch = "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n@@ -6,3 +6,4 @@\n f\n-g\n+G\n+G2\n h"
    assert diffmap.base_text(head, hunks(patch)) == base
    removed = "@@ -1,2 +0,0 @@\n-x = 1\n-y = 2"
    assert diffmap.base_text("", hunks(removed)) == "x = 1\ny = 2\n"
    assert diffmap.base_text("other\ntext\n", hunks(patch)) is None  # not this head


def test_a_huge_review_still_fits_one_comment_and_its_memory():
    s = State(head_sha="h" * 40, base_sha="b" * 40, ranges=[["", "h" * 40]], summary="x" * 900,
              walkthrough={f"src/m{i}.py": "c" * 160 for i in range(3000)},
              skipped={f"vendor/v{i}.js": "ignored by the settings (`vendor/**`)"
                       for i in range(3000)},
              breaking=[Change(f"src/m{i % 50}.py", i, f"f{i}", "object-removed", "d" * 60,
                               "w" * 60, "api") for i in range(5000)])  # fmt: skip
    body = comment.render(s, "https://github.com/o/r/pull/1", ["summary", "walkthrough",
                          "risks", "breaking", "not-reviewed"], [], "r")  # fmt: skip
    assert len(body) < 60_000 and body.rstrip().endswith("-->")
    assert "…and 2850 more files." in body and "…and 4960 more in" in body
    assert "- …and 2950 more: ignored by the settings (`vendor/**`)" in body
    core, maps = s.to_parts()
    assert len(core) < 5000
    for items in maps.values():
        assert all(len(p) <= 48_000 for p in split_json(items, 48_000))
    again = State.from_parts(core, {k: json.loads(json.dumps(v)) for k, v in maps.items()})
    assert len(again.breaking) == 5000 and again.walkthrough == s.walkthrough
