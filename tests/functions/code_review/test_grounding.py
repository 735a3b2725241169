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


ADDED = [
    {
        "lines": [
            ("context", None, 1, "def connect(dsn):"),
            ("context", None, 2, "    return db.open(dsn)"),
            ("added", None, 3, "def find(cur, name):"),
            ("added", None, 4, "    cur.execute(f\"SELECT * FROM t WHERE n = '{name}'\")"),
        ]
    }
]


@pytest.mark.parametrize(
    ("title", "why", "start", "end", "kept"),
    [
        ("SQL injection in find", "name is put into the SQL text", 4, 4, True),
        ("Query built with an f-string", "cur.execute gets user text", 3, 4, True),
        # cites lines the PR did not change
        ("SQL injection in connect", "connect builds SQL", 1, 2, False),
        # cites changed lines but names nothing on them
        ("Possible security issue", "This could be dangerous for users.", 4, 4, False),
    ],
)
def test_a_model_risk_must_cite_changed_lines_that_hold_what_it_names(title, why, start, end, kept):
    assert grounding.risk_grounded(title, why, ADDED, start, end) is kept


def test_where_something_was_removed_counts_as_changed():
    hunks = [
        {
            "lines": [
                ("context", 1, 1, "def transfer(accounts, src, dst, amount):"),
                ("removed", 2, None, "    if amount <= 0:"),
                ("removed", 3, None, "        raise ValueError('amount must be positive')"),
                ("context", 4, 2, "    if accounts[src] < amount:"),
                ("context", 5, 3, "        raise ValueError('insufficient funds')"),
            ]
        }
    ]
    assert grounding.changed_head_lines(hunks) == {1, 2}
    assert grounding.risk_grounded("Negative amount accepted", "amount is no longer checked",
                                   hunks, 2, 2)  # fmt: skip
    assert not grounding.risk_grounded("Funds check", "raise ValueError", hunks, 3, 3)


def test_a_risk_on_nothing_but_imports_is_not_grounded():
    hunks = [{"lines": [("added", None, 1, "import logging"), ("added", None, 2, ""),
                        ("added", None, 3, "log = logging.getLogger(__name__)")]}]  # fmt: skip
    assert not grounding.risk_grounded("Improper use of logging", "logging is misused", hunks, 1, 1)
    assert grounding.risk_grounded("Logger at import", "logging.getLogger runs", hunks, 3, 3)


def test_a_risk_over_a_whole_file_is_at_no_line():
    hunks = [{"lines": [("added", None, n, f"x{n} = compute(x{n - 1})") for n in range(1, 21)]}]
    assert grounding.risk_grounded("compute misuse", "x5 from compute", hunks, 5, 6)
    assert not grounding.risk_grounded("compute misuse", "x5 from compute", hunks, 1, 20)


@pytest.mark.parametrize(
    ("change", "kept"),
    [
        # what the real 0.5B model wrote on this repository's recorded samples
        ("163", False),
        ("raw_url", False),
        ("1,6", False),
        ('1  {2    "event": "pull_request", -', False),
        ('1214 +            "contents_url":', False),
        ("`delivery_id`", False),
        # what a reader can use
        ("The `--verbose` flag was removed.", True),
        ("APP_TIMEOUT_S is no longer read; set TIMEOUT instead", True),
        ("GET /v1/orders is gone", True),
    ],
)
def test_a_model_breaking_row_must_say_what_changed_in_words(change, kept):
    assert grounding.described(change) == kept
