"""Test function: calls the github integration as the event's payload says.

payload["ops"] = [[name, {arg: value}], ...]; returns each result (or error)."""

import dataclasses
import enum
import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import github, types

SIDES = {"left": github.Side.LEFT, "right": github.Side.RIGHT}
SUBJECTS = {
    "issue": github.ReactionSubject.ISSUE,
    "issue-comment": github.ReactionSubject.ISSUE_COMMENT,
    "review-comment": github.ReactionSubject.REVIEW_COMMENT,
}


def plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def convert(name, args):
    if name == "create_review":
        args["comments"] = [
            github.ReviewComment(
                c["path"], c["line"], c.get("start_line"), SIDES[c["side"]], c["body"]
            )
            for c in args["comments"]
        ]
    if name == "add_reaction":
        args["subject"] = SUBJECTS[args["subject"]]
    if name in ("create_check_run", "update_check_run"):
        args["run"] = github.CheckRun(**args["run"])
    return args


class WitWorld(wit_world.WitWorld):
    def handle(self, event: types.Event, context: types.Context) -> str:
        out = []
        for name, args in json.loads(event.payload).get("ops", []):
            try:
                out.append({"ok": plain(getattr(github, name)(**convert(name, args)))})
            except Err as e:
                out.append({"err": str(e.value)})
        return json.dumps(out)
