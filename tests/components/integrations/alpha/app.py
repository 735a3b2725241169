"""Test integration: calls the github-api host capability."""

import json
import time

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import github_api


def _send(method: str, path: str, body: str | None = None) -> github_api.Response:
    req = github_api.Request(method=method, path=path, query=[], body=body, accept=None)
    return github_api.send(req)


class Alpha(exports.Alpha):
    def fetch_repo(self) -> str:
        repo = github_api.repository()
        if repo is None:
            raise Err("no repository")
        resp = _send("GET", f"/repos/{repo}")
        if resp.status != 200:
            raise Err(f"GitHub answered {resp.status}")
        return json.loads(resp.body)["full_name"]

    def comment(self, number: int, body: str) -> int:
        repo = github_api.repository()
        resp = _send("POST", f"/repos/{repo}/issues/{number}/comments", json.dumps({"body": body}))
        if resp.status != 201:
            raise Err(f"GitHub answered {resp.status}")
        return json.loads(resp.body)["id"]

    def misbehave(self, mode: str) -> str:
        if mode == "raise":
            raise RuntimeError("alpha broke")
        while mode == "loop":
            pass
        if mode == "sleep":
            time.sleep(60)
        return mode

    def echo(self, text: str) -> str:
        return text
