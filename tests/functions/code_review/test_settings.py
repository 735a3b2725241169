"""Review settings from .github/flows.yaml: valid values apply, invalid ones are
reported and fall back to defaults, a broken file never stops a review."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[3] / "functions" / "code_review"))
import settings


def test_defaults_and_a_valid_file():
    s, problems = settings.load(None)
    assert problems == [] and s.max_files == 300 and s.inline_comments is True
    assert "*.lock" in s.ignore and "*.min.js" in s.ignore and "vendor/**" in s.ignore
    text = """
code_review:
  ignore: ["docs/**"]
  max_files: 50
  language: Deutsch
  sections: [summary, risks]
  inline_comments: false
  inline_min_severity: medium
  instructions: "  Focus on SQL.  "
  review_drafts: true
"""
    s, problems = settings.load(text, {"max_files": 10, "review_bots": True})
    assert problems == []
    assert s.ignore[-1] == "docs/**" and "*.lock" in s.ignore  # added to the defaults
    assert (s.max_files, s.language, s.sections) == (50, "Deutsch", ["summary", "risks"])
    assert (s.inline_comments, s.inline_min_severity, s.instructions) == (
        False, "medium", "Focus on SQL.")  # fmt: skip
    assert s.review_drafts and s.review_bots  # the repository file wins key by key


def test_invalid_values_are_reported_and_defaults_used():
    text = """
code_review:
  max_files: lots
  sections: [summary, jokes]
  inline_comments: "yes"
  colour: blue
"""
    s, problems = settings.load(text)
    assert s.max_files == 300 and s.sections == list(settings.SECTIONS)
    assert s.inline_comments is True
    assert len(problems) == 4
    assert any("code_review.max_files: must be a whole number from 1 to 3000; using 300" in p
               for p in problems)  # fmt: skip
    assert any("code_review.colour: unknown setting" in p for p in problems)


def test_a_broken_file_gives_a_located_problem_and_defaults():
    s, problems = settings.load("code_review:\n  max_files: [1,\n")
    assert s == settings.Settings()
    assert problems[0].startswith(".github/flows.yaml:") and "not valid YAML" in problems[0]
    s, problems = settings.load("- just\n- a list\n")
    assert s == settings.Settings() and "must be a mapping" in problems[0]
    assert settings.load("")[1] == [] and settings.load("other: 1\n")[1] == []
