"""Cases files: what they may say, the key path of what is wrong, and the
YAML --history writes reading back the same."""

import pytest

from flows.evaluate.cases import CasesError, dump_cases, load_cases, parse_cases, repo_path

GOOD = """
cases:
  - name: drop-coupons
    repo: ../repo
    base: main
    head: feature
    breaking:
      - {kind: table-dropped, symbol: coupons}
      - {kind: parameter-removed, symbol: shop.api.get, detail: include, label: false}
    problems:
      - {path: src/a.py, lines: [5, 6], rule: security}
      - {path: src/a.py, lines: 9, label: unlabelled, title: "eval: bad", found_by: model}
  - {name: docs-only, base: v1, head: v2, clean: true}
"""


def test_a_good_file_and_its_defaults():
    cases = parse_cases(GOOD)
    first, docs = cases.cases
    assert first.breaking[0].label is True and first.breaking[1].label is False
    assert first.problems[1].lines == (9, 9) and first.problems[1].label == "unlabelled"
    assert first.exhaustive and docs.clean and docs.repo == "."


def test_written_yaml_reads_back_the_same(tmp_path):
    cases = parse_cases(GOOD)
    text = dump_cases(cases)
    assert "- {kind: table-dropped, symbol: coupons}" in text  # one line per item
    assert "label: unlabelled" in text and text.startswith("# flows eval cases")
    assert parse_cases(text) == cases
    (tmp_path / "c.yaml").write_text(text)
    assert load_cases(tmp_path / "c.yaml") == cases


def test_repo_paths_are_relative_to_the_cases_file(tmp_path):
    (case, _docs) = parse_cases(GOOD).cases
    assert repo_path(tmp_path / "evals" / "c.yaml", case) == tmp_path / "repo"


@pytest.mark.parametrize(
    "text, message",
    [
        ("cases: []", "cases: List should have at least 1 item"),
        ("cases:\n  - {name: a, base: b}", "cases.0.head: Field required"),
        ("cases:\n  - {name: a, base: b, head: c, colour: red}",
         "cases.0.colour: Extra inputs are not permitted"),
        ("cases:\n  - {name: a, base: b, head: c, problems: [{path: x, lines: [3, 1]}]}",
         "cases.0.problems.0: Value error, lines must be [start, end]"),
        ("cases:\n  - {name: a, base: b, head: c, problems: [{path: x, lines: five}]}",
         "cases.0.problems.0.lines: Input should be a valid tuple"),
        ("cases:\n  - {name: a, base: b, head: c, breaking: [{kind: k, symbol: s, label: maybe}]}",
         "cases.0.breaking.0.label"),
        ("cases:\n  - {name: a, base: b, head: c, clean: true, breaking: [{kind: k, symbol: s}]}",
         "a clean case expects nothing"),
        ("cases:\n  - {name: a, base: b, head: c}\n  - {name: a, base: b, head: d}",
         "two cases are named 'a'"),
        ("cases: [", "invalid YAML"),
        ("- a\n- b", "the top level must be a mapping"),
    ],
)  # fmt: skip
def test_bad_files_name_the_key_and_the_reason(text, message):
    with pytest.raises(CasesError, match=None) as e:
        parse_cases(text, "evals.yaml")
    assert message in str(e.value) and str(e.value).startswith("evals.yaml")
    assert e.value.exit_code == 2


def test_a_missing_file(tmp_path):
    with pytest.raises(CasesError, match="no such cases file"):
        load_cases(tmp_path / "none.yaml")
