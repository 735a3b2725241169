"""Text the review posts: whole sentences at a cap, deterministic walkthrough lines."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[3] / "functions" / "code_review"))
sys.path.insert(0, str(Path(__file__).parents[3] / "flows" / "guest"))
import diffmap
import render


@pytest.mark.parametrize(
    ("text", "limit", "out"),
    [
        ("Short and whole.", 100, "Short and whole."),
        ("One. Two is cut in the mid", 26, "One. Two is cut in the…"),
        ("First sentence is long enough. The breaking changes are in", 58,
         "First sentence is long enough."),
        ("Ends exactly here.", 18, "Ends exactly here."),
        ("no sentence end at all in this text", 30, "no sentence end at all in…"),
    ],
)  # fmt: skip
def test_text_at_its_cap_ends_on_a_whole_sentence(text, limit, out):
    assert render.whole_sentences(text, limit) == out


PATCH = """@@ -1,4 +1,5 @@ class Store:
 def load(path):
-    return open(path).read()
+    with open(path) as f:
+        return f.read()
 def save(path, data):
+    pass
"""


def test_walkthrough_lines_from_the_diff_alone():
    hunks = diffmap.parse(PATCH)
    assert diffmap.describe("modified", None, hunks) == "+3 -1 in `load`, `save`."
    assert diffmap.describe("renamed", "old.py", hunks).startswith("Renamed from `old.py`; +3 -1")
    assert diffmap.describe("added", None, hunks) == "Added (3 lines)."
    assert diffmap.describe("removed", None, hunks) == "Deleted (1 line)."
