"""Test function: calls the memory capability as the event's payload says.

payload["ops"] = [[name, {arg: value}], ...]; returns each result (or error)."""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import memory, types


def convert(args):
    for key in ("findings", "candidates"):
        if key in args:
            args[key] = [memory.Finding(f["fingerprint"], f["rule"], f["path"], f["symbol"],
                                        f["title"], f["severity"], f.get("comment_id"))
                         for f in args[key]]  # fmt: skip
    return args


def plain(value):
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


class WitWorld(wit_world.WitWorld):
    def handle(self, event: types.Event, context: types.Context) -> str:
        out = []
        for name, args in json.loads(event.payload).get("ops", []):
            try:
                out.append({"ok": plain(getattr(memory, name)(**convert(args)))})
            except Err as e:
                out.append({"err": str(e.value)})
        return json.dumps(out)
