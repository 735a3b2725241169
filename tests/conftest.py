"""Shared fixtures: the test component project, a fake GitHub, a runtime."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pydantic import SecretStr

from flows.config import AppConfig, load_config
from flows.events import Event
from flows.runtime import Runtime
from tests.fakes.github import FakeGitHub, load_fixture

ROOT = Path(__file__).parent.parent
COMPONENTS = Path(__file__).parent / "components"
# A fresh token per session, shaped like a real one, so a leak cannot hide.
TOKEN = "ghs_" + secrets.token_hex(18)


@pytest.fixture(scope="session")
def fake_github():
    fake = FakeGitHub(token=TOKEN).start()
    yield fake
    fake.stop()


def configure(cfg: AppConfig, fake: FakeGitHub, pat: bool = True) -> AppConfig:
    cfg.github.api_url = fake.url
    cfg.github.token = SecretStr(TOKEN) if pat else None
    # no pause between requests: the fake has no secondary rate limits
    cfg.github.request_interval_s = cfg.github.write_interval_s = 0
    return cfg


@pytest.fixture(scope="session")
def probe_runtime(fake_github) -> Runtime:
    """The test project (probe function + alpha/beta integrations), built once."""
    return Runtime(configure(load_config(COMPONENTS / "app.yaml"), fake_github))


@pytest.fixture(scope="session")
def pr_event(fake_github) -> Event:
    payload = load_fixture("pull_request.opened.json")
    fake_github.add_repo_from_event(payload)
    return Event("pull_request", payload)


def probe_event(mode: str, **extra) -> Event:
    payload = load_fixture("pull_request.opened.json")
    payload.update(mode=mode, **extra)
    return Event("pull_request", payload)
