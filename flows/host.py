"""Process-wide host services; each run gets capabilities scoped to it."""

from __future__ import annotations

import threading
from typing import Any

from flows.capabilities import HOST_GITHUB_API, HOST_LLM, HOST_LOG, HOST_MEMORY
from flows.capabilities.github_api import GithubApi, GithubClient, TokenSource
from flows.capabilities.llm import LlmApi
from flows.capabilities.memory import MemoryApi
from flows.config import AppConfig
from flows.github_app import AppCredentials, InstallationTokens, load_credentials
from flows.knowledge import KnowledgeStore
from flows.llm import Backend, make_backend
from flows.memory import MemoryStore
from flows.replay import (
    Recording,
    RecordingBackend,
    RecordingGithub,
    ReplayBackend,
    ReplayGithub,
)
from flows.run import Redactor, RunContext, RunRecorder


class StaticToken:
    """One token for every run (a personal access token), or none."""

    def __init__(self, token: str | None) -> None:
        self._token = token

    def token(self, installation_id: int | None) -> str | None:
        return self._token

    def login(self) -> str | None:
        return None


class HostServices:
    """Holds the secrets and clients; hands each run its capabilities.

    GitHub calls use the App's installation tokens when an App is configured
    (app.yaml or the file `/setup` wrote), else `github.token`, else nothing."""

    def __init__(self, cfg: AppConfig, tokens: TokenSource | None = None) -> None:
        self.cfg = cfg
        self.redactor = Redactor(_secrets(cfg))
        self.app: AppCredentials | None = None
        self.github: GithubClient
        self.llm: Backend = make_backend(cfg.llm)
        self.memory: MemoryStore | None = None  # made on first use (or by the service)
        self.knowledge: KnowledgeStore | None = None
        self._memory_lock = threading.Lock()
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
        """The memory store on app.yaml's database (a SQLite file is migrated first)."""
        with self._memory_lock:
            if self.memory is None:
                from flows.db import get_engine, is_sqlite
                from flows.db.migrate import ensure_schema

                engine = get_engine(self.cfg.database.url)
                ensure_schema(engine, auto=is_sqlite(engine))
                self.memory = MemoryStore(engine, self.cfg.memory)
            return self.memory

    def knowledge_store(self) -> KnowledgeStore:
        """Findings and knowledge, on the same database as the memory store."""
        if self.knowledge is None:
            self.knowledge = KnowledgeStore(self.memory_store().engine)
        return self.knowledge

    def recorder(self) -> RunRecorder:
        return RunRecorder(self.redactor)

    def capabilities(self, ctx: RunContext, recorder: RunRecorder) -> dict[str, Any]:
        # log is made per component by the sandbox, so lines name their component
        return {
            HOST_GITHUB_API: GithubApi(self.github, ctx, recorder),
            HOST_LLM: LlmApi(self.llm, ctx, recorder),
            HOST_MEMORY: MemoryApi(self.memory_store, self.knowledge_store, ctx, recorder),
        }


def _secrets(cfg: AppConfig) -> list[str]:
    found = []
    for secret in (cfg.github.token, cfg.github.webhook_secret, cfg.llm.openai.api_key):
        if secret is not None:
            found.append(secret.get_secret_value())
    found.extend(cfg.llm.openai.headers.values())
    return found
