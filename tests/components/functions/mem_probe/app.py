"""Test function: calls the memory capability as the event's payload says.

payload["ops"] = [[name, {arg: value}], ...]; returns each result (or error)."""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import memory, types


class WitWorld(wit_world.WitWorld):
    def handle(self, event: types.Event, context: types.Context) -> str:
        out = []
        for name, args in json.loads(event.payload).get("ops", []):
            try:
                out.append({"ok": getattr(memory, name)(**args)})
            except Err as e:
                out.append({"err": str(e.value)})
        return json.dumps(out)
