"""Shared fixtures: the test component project, a fake GitHub, a runtime."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from pydantic import SecretStr

from flows.project.config import AppConfig, load_config
from flows.project.events import Event
from flows.runtime import Runtime
from tests.fakes.github import FakeGitHub, load_fixture

ROOT = Path(__file__).parent.parent
COMPONENTS = Path(__file__).parent / "components"
# A fresh token per session, shaped like a real one, so a leak cannot hide.
TOKEN = "ghs_" + secrets.token_hex(18)


@pytest.fixture(autouse=True)
def _fresh_llm_servers():
    """What a backend learns about a server (its JSON mode, its tokenizer)
    lasts a process; each test starts without it."""
    from flows.capabilities.llm.openai_backend import forget_servers

    forget_servers()
    yield


@pytest.fixture(scope="session")
def fake_github():
    fake = FakeGitHub(token=TOKEN).start()
    yield fake
    fake.stop()
    # everything the fake answered is what GitHub documents for that operation
    assert fake.undocumented() == []


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


class Clock:
    """A clock tests move by hand (`clock.now += 60`)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


# -- databases -----------------------------------------------------------------

PG_URL = os.environ.get("FLOWS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_unavailable() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it can."""
    try:
        import psycopg

        url = PG_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, connect_timeout=3):
            return None
    except Exception as e:
        return f"no PostgreSQL at {PG_URL}: {type(e).__name__}: {e}".strip()


def reset_pg() -> None:
    """Drop every flows table so a test starts from an empty database."""
    from sqlalchemy import text

    from flows.db import get_engine
    from flows.db.models import Base

    engine = get_engine(PG_URL)
    with engine.begin() as conn:
        for table in [*reversed(Base.metadata.sorted_tables)]:
            conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """An empty database: a SQLite file, or the PostgreSQL test database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/flows.db"
    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    reset_pg()
    return PG_URL


# -- a GitHub App -----------------------------------------------------------------


@pytest.fixture(scope="session")
def app_key(tmp_path_factory) -> tuple[Path, str]:
    """A fresh RSA key for a test App: (private key file, public key PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    path = tmp_path_factory.mktemp("app") / "app.pem"
    path.write_text(pem)
    return path, public


@pytest.fixture
def app_github(app_key):
    """A fresh fake GitHub with the App 4242 (flows-test) installed as 1, 2 and 3."""
    fake = FakeGitHub().start()
    fake.set_app(4242, "flows-test", app_key[1]).installations.update({1, 2, 3})
    yield fake
    fake.stop()
    assert fake.undocumented() == []


def make_project(root: Path, flows_yaml: str, extra: str = "", source: Path = ROOT) -> Path:
    """A project folder using the functions and integrations of `source`
    (this repository's, or the test components')."""
    root.mkdir(parents=True, exist_ok=True)
    for d in ("functions", "integrations"):
        (root / d).symlink_to(source / d)
    (root / "app.yaml").write_text(f"{extra}\nflows:\n{flows_yaml}")
    return root / "app.yaml"


PR_SIZE = """
  pr-size:
    function: functions/pr_size
    integrations: [github]
    on:
      pull_request: [opened, reopened, synchronize]
    limits: {timeout_s: 30, memory_mb: 256}
    settings: {comment: true}
"""


def pull_request(fake: FakeGitHub, number: int, lines: int = 30):
    """A PR (GitHub's example payload, renumbered) in the fake, changing one file."""
    payload = load_fixture("pull_request.opened.json")
    payload["number"] = number
    payload["pull_request"] = {**payload["pull_request"], "number": number, "labels": []}
    repo = fake.add_repo_from_event(payload)
    repo.files[number] = [{"filename": "a.py", "status": "modified", "additions": lines,
                           "deletions": 0}]  # fmt: skip
    return repo, payload
