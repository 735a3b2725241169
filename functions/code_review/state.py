"""What one review knows and keeps between pushes (in the PR's memory):
the reviewed range, the summary, the walkthrough, the findings and the
breaking changes. Pure Python; host tests import it."""

import json
from dataclasses import asdict, dataclass, field, fields

SEVERITIES = ("low", "medium", "high", "critical")
PARTS = ("walkthrough", "skipped", "breaking")  # stored apart from the core, in parts
MAX_RANGES = 20  # pushes remembered after the first review
MAX_CHANGES_PER_FILE = 100


@dataclass
class Finding:
    """A risk: a concrete problem in the diff, anchored to lines of the head file."""

    fingerprint: str
    rule: str
    path: str
    symbol: str
    title: str
    why: str
    severity: str
    start_line: int | None = None
    end_line: int | None = None
    comment_id: int | None = None
    found_by: str = "model"  # or "check <rule-id>"

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self.severity) if self.severity in SEVERITIES else 0

    def at_least(self, floor: str) -> bool:
        return self.rank >= SEVERITIES.index(floor)


@dataclass
class Change:
    """A breaking change and who it affects. source: api (griffe), schema or model."""

    path: str
    line: int | None
    symbol: str
    kind: str
    detail: str
    who: str
    source: str


@dataclass
class State:
    head_sha: str = ""
    base_sha: str = ""  # the merge base the PR is compared with
    # [from, to] commit ranges analysed, oldest first ("" from: the merge base)
    ranges: list = field(default_factory=list)
    commits: int = 0
    summary: str = ""
    walkthrough: dict = field(default_factory=dict)  # path -> what changed
    findings: list = field(default_factory=list)  # Finding
    breaking: list = field(default_factory=list)  # Change
    skipped: dict = field(default_factory=dict)  # path -> why it was not (fully) reviewed
    notes: list = field(default_factory=list)  # what the reader should know about this review
    model: str = ""
    incomplete: str = ""  # why the model's part failed, if it did (a later event retries it)

    def to_parts(self) -> tuple[str, dict[str, dict]]:
        """The state as a small core and its large mappings (walkthrough,
        skipped, breaking by path), which memory stores in parts."""
        data = asdict(self)
        data["ranges"] = data["ranges"][:1] + data["ranges"][1:][-MAX_RANGES:]
        by_path: dict[str, list] = {}
        for c in data.pop("breaking"):
            by_path.setdefault(c["path"], []).append(c)
        maps = {
            "walkthrough": data.pop("walkthrough"),
            "skipped": data.pop("skipped"),
            "breaking": {p: cs[:MAX_CHANGES_PER_FILE] for p, cs in by_path.items()},
        }
        return json.dumps(data, separators=(",", ":")), maps

    @classmethod
    def from_parts(cls, core: str | None, maps: dict[str, dict]) -> "State":
        s = cls.from_json(core)
        s.walkthrough.update(maps.get("walkthrough") or {})
        s.skipped.update(maps.get("skipped") or {})
        s.breaking += [Change(**c) for cs in (maps.get("breaking") or {}).values() for c in cs]
        return s

    @classmethod
    def from_json(cls, text: str | None) -> "State":
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            return cls()
        known = {f.name for f in fields(cls)}
        s = cls(**{k: v for k, v in data.items() if k in known})
        s.findings = [Finding(**f) for f in s.findings]
        s.breaking = [Change(**c) for c in s.breaking]
        return s


def split_json(items: dict, limit: int) -> list[str]:
    """A large mapping as JSON texts (ASCII, so characters are bytes) of at
    most about `limit` characters each (memory values have a size cap)."""
    parts, cur, size = [], {}, 2
    for key, value in items.items():
        n = len(json.dumps({key: value}))
        if cur and size + n > limit:
            parts.append(json.dumps(cur))
            cur, size = {}, 2
        cur[key] = value
        size += n
    if cur or not parts:
        parts.append(json.dumps(cur))
    return parts
