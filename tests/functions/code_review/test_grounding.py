"""Model claims checked against the diff (grounding.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[3] / "functions" / "code_review"))
import grounding


def hunk(*lines):
    return [{"lines": [(k, None, None, t) for k, t in lines]}]


DIFF = hunk(
    ("context", "import argparse"),
    ("removed", "    parser.add_argument('--verbose', action='store_true')"),
    ("removed", "TIMEOUT_S = int(os.environ['APP_TIMEOUT_S'])"),
    ("added", "TIMEOUT = 30"),
    ("removed", "@app.get('/v1/orders')"),
)
ADDED_ONLY = hunk(("context", "x = 1"), ("added", "def brand_new(): pass"))


@pytest.mark.parametrize(
    ("what", "grounded"),
    [
        ("--verbose", {"--verbose"}),
        ("The `--verbose` flag is gone", {"--verbose"}),
        ("APP_TIMEOUT_S environment variable", {"APP_TIMEOUT_S"}),
        ("GET /v1/orders endpoint", {"/v1/orders"}),
        ("TIMEOUT", {"TIMEOUT"}),  # one word: a name (on a changed, added line)
        # the prompt echoed back names nothing from the diff
        ("Removed or changed public functions, classes, HTTP endpoints, CLI flags, and so.", set()),
        ("removed_function_that_is_not_there", set()),
    ],
)
def test_a_model_breaking_row_must_name_something_removed_or_changed(what, grounded):
    assert grounding.breaking_grounded(what, "", DIFF) == grounded


def test_pure_additions_ground_nothing():
    assert grounding.breaking_grounded("brand_new", "", ADDED_ONLY) == set()


def test_same_thing_as_a_deterministic_row():
    assert grounding.same_thing({"list_orders"}, "shop.api.list_orders")
    assert grounding.same_thing({"shop.api.list_orders"}, "shop.api.list_orders")
    assert not grounding.same_thing({"shop"}, "shop.api.list_orders")
    assert not grounding.same_thing({"orders"}, "shop.api.list_orders")
