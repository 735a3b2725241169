"""The token used for GitHub never enters a guest: not its memory, not its output."""

import json
import secrets

import pytest

from flows.project.events import Event
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
    journal = probe_runtime.capabilities.journal()
    journal.log("function", "info", f"leaked {TOKEN}?")
    assert TOKEN not in journal.logs[0]["message"]
    assert "[redacted]" in journal.logs[0]["message"]


@pytest.mark.slow
def test_app_installation_token_and_private_key_never_enter_guest_memory(tmp_path, app_key):
    from flows.project.config import load_config
    from flows.runtime import Runtime
    from tests.conftest import PR_SIZE, make_project
    from tests.fakes.github import FakeGitHub, load_fixture

    fake = FakeGitHub().start()
    try:
        fake.set_app(4242, "flows-test", app_key[1]).installations.add(1)
        cfg = load_config(make_project(tmp_path / "p", PR_SIZE))
        cfg.github.api_url = fake.url
        cfg.github.app_id = 4242
        cfg.github.private_key_path = app_key[0]
        cfg.github.request_interval_s = cfg.github.write_interval_s = 0
        canary = "CANARY-" + secrets.token_hex(8)
        payload = load_fixture("pull_request.opened.json")
        payload["pull_request"]["body"] = canary
        fake.add_repo_from_event(payload)
        key_line = app_key[0].read_text().splitlines()[5]  # a line of the key's base64
        seen: dict[str, list] = {}

        def inspect() -> None:
            regions = linear_memories()
            seen["canary"] = search(canary.encode(), regions)
            seen["token"] = search(fake.minted[0].encode(), regions)
            seen["key"] = search(key_line.encode(), regions)

        report = Runtime(cfg).run("pr-size", Event("pull_request", payload), inspect=inspect)
        assert report.ok, report.error
        assert len(fake.minted) == 1
        assert seen["canary"], "scanner found no canary: it is not looking at guest memory"
        assert seen["token"] == [] and seen["key"] == []
        text = json.dumps(report.to_dict(), default=str)
        assert fake.minted[0] not in text and key_line not in text
        comment = fake.repos["codertocat/hello-world"].comments[2][0]["body"]
        assert fake.minted[0] not in comment
    finally:
        fake.stop()
