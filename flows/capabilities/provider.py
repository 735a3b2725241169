"""This process's capabilities: secrets, clients and stores, scoped to each run."""

from __future__ import annotations

import threading
from typing import Any

from flows.capabilities.github.api import GithubApi
from flows.capabilities.github.app import (
    AppCredentials,
    InstallationTokens,
    StaticToken,
    load_credentials,
)
from flows.capabilities.github.client import GithubClient, TokenSource
from flows.capabilities.llm.api import LlmApi
from flows.capabilities.llm.backend import Backend, make_backend
from flows.capabilities.memory.api import MemoryApi
from flows.capabilities.memory.knowledge import KnowledgeStore
from flows.capabilities.memory.store import MemoryStore
from flows.capabilities.replay import (
    Recording,
    RecordingBackend,
    RecordingGithub,
    ReplayBackend,
    ReplayGithub,
)
from flows.db import get_engine, is_sqlite
from flows.db.migrate import ensure_schema
from flows.project.config import AppConfig
from flows.sandbox.capability import HOST_GITHUB_API, HOST_LLM, HOST_LOG, HOST_MEMORY
from flows.sandbox.report import Redactor, RunContext, RunJournal


class Capabilities:
    """Holds the secrets and clients; hands each run its capabilities.

    GitHub calls use the App's installation tokens when an App is configured
    (app.yaml or the file `/setup` wrote), else `github.token`, else nothing."""

    def __init__(self, cfg: AppConfig, tokens: TokenSource | None = None) -> None:
        self.cfg = cfg
        self.redactor = Redactor(_secrets(cfg))
        self.app: AppCredentials | None = None
        self.github: GithubClient
        self.llm: Backend = make_backend(cfg.llm)
        self.memory: MemoryStore | None = None  # made on first use
        self.knowledge: KnowledgeStore | None = None
        self._memory_lock = threading.RLock()
        self._schema_checked = False
        if tokens is not None:
            self._use(tokens)
        else:
            self.use_app(load_credentials(cfg.github))

    def use_app(self, creds: AppCredentials | None) -> None:
        """Switch to these App credentials (None: the PAT, if any)."""
        self.app = creds
        gh = self.cfg.github
        if creds is None:
            pat = gh.token.get_secret_value() if gh.token else None
            self._use(StaticToken(pat))
            return
        self.redactor.add(*creds.secrets())
        self._use(InstallationTokens(creds, gh.api_url, gh.timeout_s, self.redactor.add))

    def _use(self, tokens: TokenSource) -> None:
        gh = self.cfg.github
        self.tokens = tokens
        self.github = GithubClient(
            gh.api_url, tokens, gh.timeout_s, gh.request_interval_s, gh.write_interval_s
        )

    def replay(self, recording: Recording) -> None:
        """Answer GitHub reads and model calls from a recording (nothing leaves the host)."""
        self.github = ReplayGithub(recording)
        self.llm = ReplayBackend(recording)

    def record(self, recording: Recording) -> None:
        """Keep every GitHub read and model answer of the next runs in `recording`."""
        self.github = RecordingGithub(self.github, recording)
        self.llm = RecordingBackend(self.llm, recording)

    @property
    def webhook_secret(self) -> str | None:
        if self.app is not None and self.app.webhook_secret:
            return self.app.webhook_secret
        secret = self.cfg.github.webhook_secret
        return secret.get_secret_value() if secret else None

    def available(self) -> set[str]:
        """The flows:host interfaces this host implements."""
        return {HOST_LOG, HOST_GITHUB_API, HOST_LLM, HOST_MEMORY}

    def memory_store(self) -> MemoryStore:
        """The memory store on app.yaml's database (the service, its ingest and
        every run share this one)."""
        with self._memory_lock:
            if self.memory is None:
                self.memory = MemoryStore(get_engine(self.cfg.database.url), self.cfg.memory)
            return self.memory

    def knowledge_store(self) -> KnowledgeStore:
        """Findings and knowledge, on the same database as the memory store."""
        with self._memory_lock:
            if self.knowledge is None:
                self.knowledge = KnowledgeStore(self.memory_store().engine)
            return self.knowledge

    def checked_memory_store(self) -> MemoryStore:
        """The memory store once its schema is checked (once per process; a
        SQLite file is migrated), so `flows run` works on a new database."""
        store = self.memory_store()
        if not self._schema_checked:
            ensure_schema(store.engine, auto=is_sqlite(store.engine))
            self._schema_checked = True
        return store

    def journal(self) -> RunJournal:
        return RunJournal(self.redactor)

    def for_run(self, ctx: RunContext, journal: RunJournal) -> dict[str, Any]:
        # log is made per component by the sandbox, so lines name their component
        return {
            HOST_GITHUB_API: GithubApi(self.github, ctx, journal),
            HOST_LLM: LlmApi(self.llm, ctx, journal),
            HOST_MEMORY: MemoryApi(self.checked_memory_store, self.knowledge_store, ctx, journal),
        }


def _secrets(cfg: AppConfig) -> list[str]:
    found = []
    keys = (cfg.github.token, cfg.github.webhook_secret, cfg.llm.openai.api_key,
            cfg.console.admin_token, cfg.console.session_secret)  # fmt: skip
    for secret in keys:
        if secret is not None:
            found.append(secret.get_secret_value())
    found.extend(cfg.llm.openai.headers.values())
    return found
