"""Test function: calls the llm integration as the event's payload says.

payload["ops"] = [[name, {arg: value}], ...]; messages as [[role, content]];
returns each result (or error)."""

import dataclasses
import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import llm, types


def plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def options(o):
    return llm.Options(o.get("max_tokens"), o.get("temperature"))


def convert(args):
    if "calls" in args:
        args["calls"] = [
            llm.Call(c.get("instructions", ""), c.get("preamble", ""),
                     [llm.Document(i, text) for i, text in c.get("documents", [])],
                     c.get("json_schema"), options(c.get("opts", {})))
            for c in args["calls"]
        ]  # fmt: skip
        return args
    if "messages" in args:
        args["messages"] = [llm.Message(role, content) for role, content in args["messages"]]
    if "documents" in args:
        args["documents"] = [llm.Document(i, text) for i, text in args["documents"]]
    if "opts" in args or any(k in args for k in ("messages", "documents")):
        args["opts"] = options(args.pop("opts", {}))
    return args


class WitWorld(wit_world.WitWorld):
    def handle(self, event: types.Event, context: types.Context) -> str:
        out = []
        for name, args in json.loads(event.payload).get("ops", []):
            try:
                out.append({"ok": plain(getattr(llm, name)(**convert(args)))})
            except Err as e:
                out.append({"err": str(e.value)})
        return json.dumps(out)
