"""Test function: behaves as the event payload's "mode" says."""

import json
import sys
import time

import wit_world
from componentize_py_types import Err
from wit_world.imports import alpha, beta, log, types


class WitWorld(wit_world.WitWorld):
    def handle(self, event: types.Event, context: types.Context) -> str:
        payload = json.loads(event.payload)
        mode = payload.get("mode", "ok")
        print(f"probe: mode={mode}")
        if mode == "ok":
            log.log(log.Level.INFO, "canary " + payload.get("canary", ""))
            beta.note("hello from probe")
            repo = alpha.fetch_repo()
            comment_id = alpha.comment(1, "hello " + payload.get("canary", ""))
            return json.dumps(
                {"repo": repo, "comment_id": comment_id, "settings": json.loads(context.settings)}
            )
        if mode == "echo":
            for _ in range(payload.get("n", 1)):
                alpha.echo("x")
            return "{}"
        if mode == "noop":
            return "{}"
        if mode == "err":
            raise Err("expected failure: the PR has no description")
        if mode == "raise":
            raise ValueError("boom")
        if mode == "loop":
            while True:
                pass
        if mode == "mem":
            hog = []
            while True:
                hog.append(bytearray(8 * 1024 * 1024))
        if mode == "big":
            return json.dumps({"blob": "r" * payload.get("chars", 1)})
        if mode == "big-err":
            raise Err("e" * payload.get("chars", 1))
        if mode == "bad-arg":
            return json.dumps(alpha.comment(payload["number"], "x"))
        if mode == "sleep":
            time.sleep(payload.get("seconds", 30))
            return "{}"
        if mode == "fuel":
            return str(sum(i * i for i in range(10**8)))
        if mode == "spam":
            line = "y" * 1023
            for _ in range(4096):
                print(line)
            print("stderr still works", file=sys.stderr)
            return "{}"
        if mode.startswith("integration-"):
            return alpha.misbehave(mode.removeprefix("integration-"))
        raise Err(f"unknown mode {mode}")
