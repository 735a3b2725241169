"""Process-wide host services; each run gets capabilities scoped to it."""

from __future__ import annotations

from typing import Any

from flows.capabilities import HOST_GITHUB_API, HOST_LOG
from flows.capabilities.github_api import GithubApi, GithubClient, TokenSource
from flows.config import AppConfig
from flows.run import Redactor, RunContext, RunRecorder


class StaticToken:
    """One token for every run (a personal access token), or none."""

    def __init__(self, token: str | None) -> None:
        self._token = token

    def token(self, installation_id: int | None) -> str | None:
        return self._token


class HostServices:
    """Holds the secrets and clients; hands each run its capabilities."""

    def __init__(self, cfg: AppConfig, tokens: TokenSource | None = None) -> None:
        gh = cfg.github
        pat = gh.token.get_secret_value() if gh.token else None
        self.github = GithubClient(gh.api_url, tokens or StaticToken(pat), gh.timeout_s)
        self.redactor = Redactor(_secrets(cfg))

    def available(self) -> set[str]:
        """The flows:host interfaces this host implements."""
        return {HOST_LOG, HOST_GITHUB_API}

    def recorder(self) -> RunRecorder:
        return RunRecorder(self.redactor)

    def capabilities(self, ctx: RunContext, recorder: RunRecorder) -> dict[str, Any]:
        # log is made per component by the sandbox, so lines name their component
        return {HOST_GITHUB_API: GithubApi(self.github, ctx, recorder)}


def _secrets(cfg: AppConfig) -> list[str]:
    found = []
    for secret in (cfg.github.token, cfg.github.webhook_secret, cfg.llm.openai.api_key):
        if secret is not None:
            found.append(secret.get_secret_value())
    return found
