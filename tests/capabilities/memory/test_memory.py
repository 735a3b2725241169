"""Memory in SQL on SQLite and PostgreSQL: tenants, limits, retention, no lost updates."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from flows.capabilities.memory.store import BadMemoryInput, MemoryStore, Tenant
from flows.db import get_engine
from flows.db.migrate import upgrade
from flows.project.config import MemoryConfig, load_config
from flows.project.events import Event
from flows.runtime import Runtime
from flows.server.ingest import Ingest
from tests.conftest import COMPONENTS, Clock
from tests.fakes.github import load_fixture

A = Tenant.of(1, "Octo/Alpha")
B = Tenant.of(1, "octo/beta")
OTHER_INSTALL = Tenant.of(2, "octo/alpha")


@pytest.fixture
def store(db_url):
    engine = get_engine(db_url)
    upgrade(engine)
    return MemoryStore(engine, MemoryConfig(max_repo_items=10, max_value_kb=1), Clock())


def test_get_put_delete_list(store):
    assert store.get(A, 7, "k") is None
    store.put(A, 7, "k", "v1")
    store.put(A, 7, "k", "v2")
    store.put(A, 7, "k2", "x")
    store.put(A, 0, "k", "long-term")
    assert store.get(A, 7, "k") == "v2" and store.get(A, 0, "k") == "long-term"
    assert store.list_keys(A, 7, "") == ["k", "k2"] and store.list_keys(A, 7, "k2") == ["k2"]
    assert store.delete(A, 7, "k") and not store.delete(A, 7, "k")
    assert store.list_keys(A, 7, "") == ["k2"]


def test_tenants_never_see_each_other(store):
    store.put(A, 7, "secret", "alpha's")
    assert store.get(B, 7, "secret") is None
    assert store.get(OTHER_INSTALL, 7, "secret") is None  # same repo name, other installation
    assert store.list_keys(B, 7, "") == [] and store.list_keys(OTHER_INSTALL, 7, "") == []
    assert not store.delete(B, 7, "secret")
    crafted = "secret' OR '1'='1"
    assert store.get(B, 7, crafted) is None
    store.put(B, 7, "x'; DROP TABLE memory; --", "still a plain key")
    assert store.get(B, 7, "x'; DROP TABLE memory; --") == "still a plain key"
    assert store.get(A, 7, "secret") == "alpha's"
    assert Tenant.of(1, "OCTO/ALPHA") == A  # names are compared case-insensitively


def test_bad_keys_and_values_are_refused_clearly(store):
    with pytest.raises(BadMemoryInput, match="over the limit of 1 KiB"):
        store.put(A, 7, "big", "x" * 2000)
    with pytest.raises(BadMemoryInput, match="1 to 512 characters"):
        store.put(A, 7, "k" * 513, "v")
    with pytest.raises(BadMemoryInput, match="control characters"):
        store.get(A, 7, "a\x00b")
    store.put(A, 7, "unicode", "naïve ✓ \U0001f600")
    assert store.get(A, 7, "unicode") == "naïve ✓ \U0001f600"
    assert store.get(A, 7, "big") is None


def test_the_oldest_items_are_evicted_over_the_cap(store):
    for i in range(12):
        store.clock.now += 1
        store.put(A, 7, f"k{i:02}", "v")
    keys = store.list_keys(A, 7, "")
    assert len(keys) == 10 and keys[0] == "k02"  # the two oldest went first
    store.put(B, 7, "b", "v")  # other repositories do not count against A
    assert store.list_keys(A, 7, "") == keys


def test_a_closed_pull_requests_memory_expires(store):
    store.put(A, 7, "k", "v")
    store.put(A, 0, "conv", "kept")
    with store.session() as s, s.begin():
        store.close_thread(s, A, 7, store.clock.now)
    store.clock.now += 29 * 86400
    assert store.get(A, 7, "k") == "v" and store.purge_expired() == 0
    store.clock.now += 2 * 86400
    assert store.get(A, 7, "k") is None  # invisible once expired, even before the purge
    assert store.purge_expired() == 1
    assert store.get(A, 0, "conv") == "kept"


def test_compare_and_set_loses_no_updates_under_concurrency(store):
    def bump() -> None:
        for _ in range(25):
            while True:
                cur = store.get(A, 7, "n")
                new = str(int(cur or 0) + 1)
                if store.put_if(A, 7, "n", cur, new):
                    break

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get(A, 7, "n") == "100"
    assert not store.put_if(A, 7, "n", "99", "x")
    assert not store.put_if(A, 7, "n", None, "x")


def test_closing_and_uninstalling_through_webhooks(store):
    cfg = load_config(COMPONENTS / "app.yaml")
    ingest = Ingest(cfg, store.engine, store, clock=store.clock)
    pr = load_fixture("pull_request.opened.json")
    tenant = Tenant.of(pr["installation"]["id"], pr["repository"]["full_name"])
    n = pr["number"]
    store.put(tenant, n, "k", "v")
    closed = {**pr, "action": "closed"}
    assert (
        ingest.accept(str(uuid.uuid4()), "pull_request", json.dumps(closed).encode()).status_code
        == 202
    )
    store.clock.now += 31 * 86400
    assert store.get(tenant, n, "k") is None
    store.clock.now -= 31 * 86400
    reopened = {**pr, "action": "reopened"}
    ingest.accept(str(uuid.uuid4()), "pull_request", json.dumps(reopened).encode())
    store.clock.now += 31 * 86400
    assert store.get(tenant, n, "k") == "v"
    gone = {"action": "deleted", "installation": pr["installation"]}
    ingest.accept(str(uuid.uuid4()), "installation", json.dumps(gone).encode())
    assert store.get(tenant, n, "k") is None


# -- the capability, through Wasm ------------------------------------------------


@pytest.fixture
def runtime(store, fake_github):
    cfg = load_config(COMPONENTS / "app.yaml")
    rt = Runtime(cfg)
    rt.capabilities.memory = store
    return rt


def run(runtime, repo: str, *ops, dry_run=False, number=5):
    payload = load_fixture("pull_request.opened.json")
    payload["repository"] = {**payload["repository"], "full_name": repo}
    payload["pull_request"] = {**payload["pull_request"], "number": number}
    payload["ops"] = [list(o) for o in ops]
    report = runtime.run("mem-probe", Event("pull_request", payload), dry_run=dry_run)
    assert report.ok, report.error
    return report


@pytest.mark.slow
def test_a_flow_reads_only_its_own_repositorys_memory(runtime):
    put = ("put", {"scope": "pr", "key": "seen", "value": "abc123"})
    conv = ("put", {"scope": "repo", "key": "convention", "value": "snake_case"})
    run(runtime, "octo/alpha", put, conv)
    got = run(runtime, "octo/alpha", ("get", {"scope": "pr", "key": "seen"}),
              ("get", {"scope": "repo", "key": "convention"}),
              ("list_keys", {"scope": "repo", "prefix": ""})).result  # fmt: skip
    assert got == [{"ok": "abc123"}, {"ok": "snake_case"}, {"ok": ["convention"]}]
    other = run(runtime, "octo/beta", ("get", {"scope": "pr", "key": "seen"}),
                ("get", {"scope": "repo", "key": "convention"})).result  # fmt: skip
    assert other == [{"ok": None}, {"ok": None}]
    another_pr = run(runtime, "octo/alpha", ("get", {"scope": "pr", "key": "seen"}), number=6)
    assert another_pr.result == [{"ok": None}]
    bad = run(runtime, "octo/alpha", ("get", {"scope": "org", "key": "x"}),
              ("put", {"scope": "repo", "key": "", "value": "v"})).result  # fmt: skip
    assert "use 'pr' or 'repo'" in bad[0]["err"] and "1 to 512" in bad[1]["err"]


@pytest.mark.slow
def test_dry_run_memory_writes_are_reported_not_stored(runtime, store):
    ops = [("put", {"scope": "pr", "key": "d", "value": "v"}),
           ("get", {"scope": "pr", "key": "d"}),
           ("put_if", {"scope": "pr", "key": "d", "expected": "v", "value": "w"}),
           ("list_keys", {"scope": "pr", "prefix": ""})]  # fmt: skip
    report = run(runtime, "octo/gamma", *ops, dry_run=True)
    assert report.result == [{"ok": None}, {"ok": "v"}, {"ok": True}, {"ok": ["d"]}]
    assert {w["memory"] for w in report.writes} == {"put"} and report.writes[0]["dry_run"]
    assert store.get(Tenant.of(1, "octo/gamma"), 5, "d") is None


def test_flows_memory_list_and_forget(tmp_path):
    import subprocess
    import sys

    from tests.conftest import make_project

    config = make_project(
        tmp_path / "p", "  {}\n", f'database: {{url: "sqlite:///{tmp_path}/m.db"}}'
    )
    config.write_text(config.read_text().replace("flows:\n  {}\n", "flows: {}\n"))
    engine = get_engine(f"sqlite:///{tmp_path}/m.db")
    upgrade(engine)
    mem = MemoryStore(engine, MemoryConfig())
    mem.put(A, 7, "reviewed-sha", "abc")
    mem.put(A, 0, "convention:sql", "snake_case columns")
    mem.put(B, 7, "other", "x")

    def flows(*args):
        cmd = [sys.executable, "-m", "flows.cli", "memory", *args, "--config", str(config)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    listed = flows("list", "--repo", "octo/alpha")
    assert listed.returncode == 0, listed.stderr
    assert "#7" in listed.stdout and "reviewed-sha" in listed.stdout
    assert "convention:sql" in listed.stdout and "other" not in listed.stdout
    assert flows("forget", "--repo", "octo/alpha", "--pr", "7").stdout.strip() == "forgot 1 items"
    assert mem.get(A, 7, "reviewed-sha") is None and mem.get(A, 0, "convention:sql")
    assert flows("forget", "--repo", "octo/alpha").stdout.strip() == "forgot 1 items"
    assert mem.get(B, 7, "other") == "x"
