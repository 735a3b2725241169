"""Model text is posted as plain, safe Markdown."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[3] / "flows" / "guest"))
import render

DIFF = "+# see https://docs.example.com/api for details\n"


def test_links_only_when_the_diff_has_them():
    allowed = render.urls_in(DIFF)
    assert allowed == {"https://docs.example.com/api"}
    text = (
        "See [the docs](https://docs.example.com/api) and [this](https://evil.test/x), "
        "https://evil.test/y, <https://evil.test/z>, <https://docs.example.com/api>."
    )
    out = render.safe_markdown(text, allowed)
    assert "[the docs](https://docs.example.com/api)" in out
    assert "this (`https://evil.test/x`)" in out
    assert "`https://evil.test/y`," in out and "`https://evil.test/z`," in out
    assert out.endswith(", https://docs.example.com/api.")
    assert "](https://evil" not in out


def test_no_raw_html_images_or_control_characters():
    out = render.safe_markdown("<img src=x onerror=alert(1)> ![pixel](https://t.test/p.gif) ok\x07")
    assert "<img" not in out and "&lt;img" in out
    assert "pixel" in out and "t.test" not in out and "\x07" not in out


def test_code_is_left_as_written():
    text = "Use `a < b` here:\n```python\nif x < 3:\n    print('<b>')\n```\n> a quote"
    assert render.safe_markdown(text) == text
