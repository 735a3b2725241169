"""The token used for GitHub never enters a guest: not its memory, not its output."""

import json
import secrets

import pytest

from tests.conftest import TOKEN, probe_event
from tests.memscan import linear_memories, search


@pytest.mark.slow
def test_token_never_enters_guest_memory_or_output(probe_runtime, fake_github, pr_event):
    canary = "CANARY-" + secrets.token_hex(8)
    seen: dict[str, list] = {}

    def inspect() -> None:
        regions = linear_memories()
        seen["regions"] = regions
        seen["canary"] = search(canary.encode(), regions)
        seen["token"] = search(TOKEN.encode(), regions)

    fake_github.requests.clear()
    report = probe_runtime.run("probe", probe_event("ok", canary=canary), inspect=inspect)

    assert report.ok, report.error
    # The token was really used: GitHub saw it on both calls the integration made.
    auths = {r["authorization"] for r in fake_github.requests}
    assert auths == {f"token {TOKEN}"}
    assert [r["method"] for r in fake_github.requests] == ["GET", "POST"]
    # Three sandboxes (function, alpha, beta) were mapped and searched, and the
    # search works: the canary the event carried is found in guest memory.
    assert len(seen["regions"]) >= 3
    assert seen["canary"], "scanner found no canary: it is not looking at guest memory"
    assert seen["token"] == []
    assert TOKEN not in json.dumps(report.to_dict(), default=str)


@pytest.mark.slow
def test_secret_in_config_is_redacted_from_logs(probe_runtime):
    # A guest that somehow printed a configured secret gets it masked in the record.
    recorder = probe_runtime.host.recorder()
    recorder.log("function", "info", f"leaked {TOKEN}?")
    assert TOKEN not in recorder.logs[0]["message"]
    assert "[redacted]" in recorder.logs[0]["message"]
