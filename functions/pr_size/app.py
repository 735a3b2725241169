"""pr-size: labels a pull request by how many lines it really changes.

Lock files, vendored and generated files do not count. Settings (app.yaml):
  thresholds: {XS: 10, S: 50, M: 200, L: 500}   # upper bounds; bigger is XL
  label_prefix: "size/"
  ignore: ["*.lock", ...]                        # replaces the default globs
  comment: false                                 # also keep one summary comment current
"""

import fnmatch
import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import github, log, types

DEFAULT_THRESHOLDS = {"XS": 10, "S": 50, "M": 200, "L": 500}
DEFAULT_IGNORE = [
    "*.lock", "*-lock.json", "*-lock.yaml", "go.sum", "*.min.js", "*.min.css",
    "vendor/*", "*/vendor/*", "third_party/*", "*.pb.go", "*_pb2.py", "dist/*",
]  # fmt: skip
ACTIONS = {"opened", "reopened", "synchronize", "ready_for_review"}


def size_label(lines: int, thresholds: dict) -> str:
    for name, bound in sorted(thresholds.items(), key=lambda kv: kv[1]):
        if lines <= bound:
            return name
    return "XL"


def _settings(raw: str):
    s = json.loads(raw or "{}")
    thresholds = s.get("thresholds", DEFAULT_THRESHOLDS)
    if not isinstance(thresholds, dict) or not all(
        isinstance(v, int) and v >= 0 for v in thresholds.values()
    ):
        raise Err("settings.thresholds must map size names to non-negative line counts")
    ignore = s.get("ignore", DEFAULT_IGNORE)
    if not isinstance(ignore, list) or not all(isinstance(g, str) for g in ignore):
        raise Err("settings.ignore must be a list of glob strings")
    comment = s.get("comment", False)
    if not isinstance(comment, bool):
        raise Err("settings.comment must be true or false")
    return thresholds, str(s.get("label_prefix", "size/")), ignore, comment


def _summary(label: str, counted: int, ignored: list, head_sha: str) -> str:
    lines = [f"**PR size: {label}** ({counted} changed lines counted, at `{head_sha[:12]}`)"]
    if ignored:
        shown = ", ".join(f"`{name}`" for name in ignored[:20])
        more = f" and {len(ignored) - 20} more" if len(ignored) > 20 else ""
        lines.append(f"\nNot counted (lock, vendored or generated): {shown}{more}")
    return "\n".join(lines)


class WitWorld(wit_world.WitWorld):
    def handle(self, event: types.Event, context: types.Context) -> str:
        if event.name != "pull_request" or event.action not in ACTIONS:
            return json.dumps({"skipped": f"{event.name}.{event.action} is not handled"})
        payload = json.loads(event.payload)
        pr = payload.get("pull_request")
        if not isinstance(pr, dict) or not isinstance(pr.get("number"), int):
            raise Err("the payload has no pull_request.number")
        number = pr["number"]
        thresholds, prefix, ignore, comment = _settings(context.settings)

        counted, ignored = 0, []
        for f in github.list_files(number):
            if any(fnmatch.fnmatch(f.filename, g) for g in ignore):
                ignored.append(f.filename)
            else:
                counted += f.additions + f.deletions
        label = prefix + size_label(counted, thresholds)

        current = github.list_labels(number)
        stale = [lb for lb in current if lb.startswith(prefix) and lb != label]
        for lb in stale:
            github.remove_label(number, lb)
        if label not in current:
            github.add_labels(number, [label])
        log.log(log.Level.INFO, f"#{number}: {counted} lines -> {label}")
        result = {"pull_request": number, "lines": counted, "label": label,
                  "removed": stale, "ignored_files": ignored}  # fmt: skip
        if comment:
            head = github.get_pull_request(number).head_sha
            made = github.upsert_comment(number, "pr-size", _summary(label, counted, ignored, head))
            result["comment"] = {"id": made.id, "action": made.action}
        return json.dumps(result)
