"""Per-repository review settings: the `code_review:` section of
`.github/flows.yaml` on the default branch (never the PR head), over the
flow's `settings:` in app.yaml. An invalid value is reported and its default
used; nothing invalid stops a review."""

from dataclasses import dataclass, field, fields

import checks
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

PATH = ".github/flows.yaml"
SECTIONS = ("summary", "walkthrough", "risks", "breaking", "not-reviewed")
SEVERITIES = ("low", "medium", "high", "critical")
DEFAULT_IGNORE = [
    # lock files
    "*.lock", "*-lock.json", "*-lock.yaml", "*.lockb", "go.sum", "Cargo.lock", "poetry.lock",
    # vendored and generated
    "vendor/**", "**/vendor/**", "third_party/**", "node_modules/**", "dist/**", "build/**",
    "*.pb.go", "*_pb2.py", "*_pb2_grpc.py", "*.generated.*", "**/generated/**", "*.snap",
    # minified and binaries
    "*.min.js", "*.min.css", "*.map", "*.png", "*.jpg", "*.jpeg", "*.gif", "*.ico", "*.pdf",
    "*.zip", "*.gz", "*.jar", "*.so", "*.dll", "*.exe", "*.woff", "*.woff2", "*.ttf",
]  # fmt: skip


@dataclass
class Settings:
    ignore: list[str] = field(default_factory=lambda: list(DEFAULT_IGNORE))
    max_files: int = 300
    max_chunks: int = 8
    language: str = "English"
    sections: list[str] = field(default_factory=lambda: list(SECTIONS))
    inline_comments: bool = True
    inline_min_severity: str = "high"
    instructions: str = ""
    review_drafts: bool = False
    review_bots: bool = False
    disabled_checks: list[str] = field(default_factory=list)


def _check(name: str, value):
    """The value to use, or raise ValueError with what is wrong."""
    if name == "ignore":
        if not isinstance(value, list) or not all(isinstance(g, str) and g for g in value):
            raise ValueError("must be a list of glob patterns")
        return list(DEFAULT_IGNORE) + value
    if name == "max_files":
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 3000:
            raise ValueError("must be a whole number from 1 to 3000")
        return value
    if name == "max_chunks":
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 64:
            raise ValueError("must be a whole number from 1 to 64")
        return value
    if name == "language":
        if not isinstance(value, str) or not 2 <= len(value) <= 40:
            raise ValueError("must be a language name, e.g. English or Deutsch")
        return value
    if name == "sections":
        if not isinstance(value, list) or not value or any(v not in SECTIONS for v in value):
            raise ValueError(f"must be a list drawn from {', '.join(SECTIONS)}")
        return value
    if name in ("inline_comments", "review_drafts", "review_bots"):
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if name == "inline_min_severity":
        if value not in SEVERITIES:
            raise ValueError(f"must be one of {', '.join(SEVERITIES)}")
        return value
    if name == "disabled_checks":
        if not isinstance(value, list) or any(v not in checks.RULES for v in value):
            raise ValueError(f"must be a list drawn from {', '.join(sorted(checks.RULES))}")
        return value
    if name == "instructions":
        if not isinstance(value, str) or len(value) > 2000:
            raise ValueError("must be text of at most 2000 characters")
        return value.strip()
    raise KeyError(name)


def _apply(s: Settings, data, where: str, problems: list[str]) -> None:
    if data is None:
        return
    if not isinstance(data, dict):
        problems.append(f"{where}: must be a mapping of settings; using defaults")
        return
    known = {f.name for f in fields(Settings)}
    for key, value in data.items():
        if key not in known:
            problems.append(f"{where}.{key}: unknown setting (known: {', '.join(sorted(known))})")
            continue
        try:
            setattr(s, key, _check(key, value))
        except ValueError as e:
            problems.append(f"{where}.{key}: {e}; using {getattr(Settings(), key)!r}")


def load(repo_file: str | None, flow_settings: dict | None = None) -> tuple[Settings, list[str]]:
    """The settings for a review and the problems found in them."""
    s = Settings()
    problems: list[str] = []
    _apply(s, flow_settings or {}, "settings", problems)
    if repo_file is None:
        return s, problems
    try:
        data = YAML(typ="safe", pure=True).load(repo_file)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{PATH}:{mark.line + 1}" if mark else PATH
        problems.append(
            f"{where}: not valid YAML ({getattr(e, 'problem', None) or e}); using defaults"
        )
        return s, problems
    if data is not None and not isinstance(data, dict):
        problems.append(f"{PATH}: must be a mapping with a code_review: section; using defaults")
        return s, problems
    _apply(s, (data or {}).get("code_review"), f"{PATH} code_review", problems)
    return s, problems
