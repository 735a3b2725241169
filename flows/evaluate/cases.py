"""A cases file: local git ranges and what a good review of each must say.

    cases:
      - name: drop-coupons
        repo: .                  # a git repository, relative to this file
        base: main               # what the branch goes into
        head: feature            # the branch
        breaking:                # kind + symbol (or table / table.column)
          - {kind: table-dropped, symbol: coupons}
        problems:                # where a risk must be flagged
          - {path: src/shop/handlers.py, lines: [5, 6], rule: security}
      - {name: docs-only, repo: ., base: v1.2, head: v1.3, clean: true}

Each item has a `label`: true (the default: the review must say it), false
(a known wrong finding: saying it is a false positive) or `unlabelled` (a
finding `flows eval --history` wrote, not judged yet: not scored). A case is
`exhaustive` unless told otherwise: what the review says beyond its items is
a false positive; in a case that is not, it is reported as not judged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flows.errors import FlowsError
from flows.project.config import validation_lines
from flows.project.textfile import read_text
from flows.project.yamlfile import load_yaml

UNLABELLED = "unlabelled"
Label = bool | Literal["unlabelled"]


class CasesError(FlowsError):
    """A cases file that cannot be used (exit code 2)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BreakingItem(_Strict):
    """A breaking change: its kind (parameter-removed, column-dropped, ...)
    and symbol (a dotted Python name, a table, or table.column)."""

    kind: str = Field(min_length=1)
    symbol: str = Field(min_length=1)
    detail: str = ""  # must appear in what the review says (e.g. the parameter)
    label: Label = True
    # what the review said, as --history wrote it: not used for matching
    path: str | None = None
    found_by: str | None = None


class Problem(_Strict):
    """A problem a risk must flag: a file, its lines, and optionally the
    rule (a check id such as sql-fstring, or a category such as security)."""

    path: str = Field(min_length=1)
    lines: tuple[int, int]
    rule: str | None = None
    label: Label = True
    found_by: str | None = None
    title: str | None = None
    severity: str | None = None

    @field_validator("lines", mode="before")
    @classmethod
    def _one_or_two(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return (value, value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Problem:
        start, end = self.lines
        if start < 1 or end < start:
            raise ValueError(f"lines must be [start, end], 1 <= start <= end, not {start}-{end}")
        return self


class Case(_Strict):
    name: str = Field(min_length=1)
    repo: str = "."
    base: str = Field(min_length=1)
    head: str = Field(min_length=1)
    title: str | None = None  # the pull request's (default: from its commits)
    body: str | None = None
    note: str | None = None  # where the case comes from
    clean: bool = False  # the review must say nothing
    exhaustive: bool = True
    breaking: list[BreakingItem] = []
    problems: list[Problem] = []

    @model_validator(mode="after")
    def _clean_means_nothing(self) -> Case:
        if self.clean and any(i.label is True for i in [*self.breaking, *self.problems]):
            raise ValueError("a clean case expects nothing; remove its true items or `clean`")
        return self


class CasesFile(_Strict):
    cases: list[Case] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> CasesFile:
        seen: set[str] = set()
        for c in self.cases:
            if c.name in seen:
                raise ValueError(f"two cases are named {c.name!r}")
            seen.add(c.name)
        return self


def parse_cases(text: str, source: str = "cases.yaml") -> CasesFile:
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise CasesError(f"{where}: invalid YAML: {getattr(e, 'problem', None) or e}") from None
    if not isinstance(raw, dict):
        raise CasesError(f"{source}: the top level must be a mapping with `cases:`")
    try:
        return CasesFile.model_validate(raw)
    except ValidationError as e:
        raise CasesError(f"{source} is invalid:\n  " + "\n  ".join(validation_lines(e))) from None


def load_cases(path: str | Path) -> CasesFile:
    return parse_cases(read_text(path, "cases file", CasesError), str(path))


def repo_path(cases_path: str | Path, case: Case) -> Path:
    """A case's repository: relative paths are relative to the cases file."""
    repo = Path(case.repo).expanduser()
    return (repo if repo.is_absolute() else Path(cases_path).resolve().parent / repo).resolve()


HEADER = """\
# flows eval cases (flows eval --help). Mark each `label: unlabelled` item
# true (the review was right to say it) or false (it was wrong); then
# `flows eval` on this file scores later reviews against your labels.
"""


def dump_cases(cases: CasesFile) -> str:
    """The cases as YAML: one line per item."""
    data = cases.model_dump(exclude_defaults=True)
    for c in data["cases"]:
        for key in ("breaking", "problems"):
            items = c.get(key, [])
            for i, item in enumerate(items):
                if "lines" in item:
                    item["lines"] = list(item["lines"])
                if "label" in item:  # first, where a maintainer edits it
                    items[i] = {"label": item.pop("label"), **item}
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 16)
    return HEADER + body


def save_cases(path: str | Path, cases: CasesFile) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(dump_cases(cases), encoding="utf-8")
    tmp.replace(path)


class _Dumper(yaml.SafeDumper):
    """Cases as block mappings, their items as one-line flow mappings."""


def _item(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    scalars = all(not isinstance(v, (dict, list)) or k == "lines" for k, v in data.items())
    flow = scalars and "name" not in data  # an item, not a case
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


def _list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(isinstance(v, int) for v in data) and bool(data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(dict, _item)
_Dumper.add_representer(list, _list)
