"""GitHub App identity: credentials, JWTs and installation tokens (PyGithub)."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from github import Auth, GithubException, GithubIntegration, RateLimitExceededException

from flows.capabilities.github.client import bounded_retry
from flows.errors import ConfigError
from flows.project.config import GithubConfig
from flows.sandbox.capability import HostError

# mint a new installation token this long before the old one expires
REFRESH_MARGIN_S = 300.0


@dataclass
class AppCredentials:
    """What identifies the App. Stored by /setup, or given in app.yaml."""

    app_id: int
    private_key: str
    webhook_secret: str | None = None
    slug: str | None = None
    html_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None

    def secrets(self) -> list[str]:
        return [s for s in (self.private_key, self.webhook_secret, self.client_secret) if s]


def load_credentials(gh: GithubConfig) -> AppCredentials | None:
    """The App's credentials: app.yaml's `github.app_id` + `private_key_path`
    win; otherwise the file `GET /setup` wrote; None when neither is there."""
    stored = _read_file(gh.credentials_file)
    if gh.app_id is None and stored is None:
        return None
    if gh.app_id is not None:
        if gh.private_key_path is None:
            raise ConfigError("github.private_key_path: required when github.app_id is set")
        try:
            key = gh.private_key_path.read_text()
        except OSError as e:
            raise ConfigError(f"github.private_key_path: cannot read {e.filename}: {e}") from None
        if "PRIVATE KEY" not in key:
            raise ConfigError(f"github.private_key_path: {gh.private_key_path} is not a PEM key")
        secret = gh.webhook_secret.get_secret_value() if gh.webhook_secret else None
        return AppCredentials(gh.app_id, key, secret or (stored.webhook_secret if stored else None))
    assert stored is not None
    if gh.webhook_secret is not None:
        stored.webhook_secret = gh.webhook_secret.get_secret_value()
    return stored


def _read_file(path: Path) -> AppCredentials | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        key_path = path.with_suffix(".pem")
        return AppCredentials(
            app_id=int(data["app_id"]),
            private_key=key_path.read_text(),
            webhook_secret=data.get("webhook_secret"),
            slug=data.get("slug"),
            html_url=data.get("html_url"),
            client_id=data.get("client_id"),
            client_secret=data.get("client_secret"),
        )
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"github.credentials_file: {path} is unreadable: {e}") from None


def save_credentials(path: Path, creds: AppCredentials) -> None:
    """Write the credentials file and the key beside it, owner-only, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = {k: v for k, v in asdict(creds).items() if k != "private_key"}
    _write_private(path.with_suffix(".pem"), creds.private_key)
    _write_private(path, json.dumps(data, indent=2) + "\n")


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class StaticToken:
    """One token for every run (a personal access token), or none."""

    def __init__(self, token: str | None) -> None:
        self._token = token

    def token(self, installation_id: int | None) -> str | None:
        return self._token

    def login(self) -> str | None:
        return None


class InstallationTokens:
    """A TokenSource that mints installation tokens and caches each until
    shortly before it expires. Thread-safe; one mint per installation at a time."""

    def __init__(
        self,
        creds: AppCredentials,
        api_url: str,
        timeout_s: float = 30.0,
        on_new_token: Any = None,
    ) -> None:
        self.creds = creds
        self._gi = GithubIntegration(
            auth=Auth.AppAuth(creds.app_id, creds.private_key),
            base_url=api_url.rstrip("/"),
            timeout=max(1, int(timeout_s)),
            retry=bounded_retry(),
            user_agent="flows-github-app",
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        self._on_new_token = on_new_token
        self._cache: dict[int, tuple[str, float]] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()
        self._login: str | None = None
        self.minted = 0

    def token(self, installation_id: int | None) -> str | None:
        if installation_id is None:
            raise HostError("this event has no installation, so there is no App token for it")
        with self._lock:
            lock = self._locks.setdefault(installation_id, threading.Lock())
        with lock:
            cached = self._cache.get(installation_id)
            if cached and cached[1] - REFRESH_MARGIN_S > time.time():
                return cached[0]
            auth = self._mint(installation_id)
            expires = auth.expires_at.timestamp() if auth.expires_at else time.time() + 3600
            self._cache[installation_id] = (auth.token, expires)
            self.minted += 1
            if self._on_new_token is not None:
                self._on_new_token(auth.token)
            return auth.token

    def forget(self, installation_id: int) -> None:
        """Drop a cached token (after a 401, or when the installation is gone)."""
        with self._lock:
            self._cache.pop(installation_id, None)

    def _mint(self, installation_id: int):  # -> InstallationAuthorization
        try:
            return self._gi.get_access_token(installation_id)
        except GithubException as e:
            message = e.data.get("message") if isinstance(e.data, dict) else e.data
            raise HostError(
                f"GitHub refused an installation token for installation {installation_id}: "
                f"{e.status} {message or ''}".rstrip(),
                transient=e.status >= 500
                or e.status == 429
                or isinstance(e, RateLimitExceededException),
            ) from None
        except Exception as e:
            raise HostError(
                f"could not mint an installation token: {type(e).__name__}", transient=True
            ) from None

    def login(self) -> str | None:
        """The App's bot login ("slug[bot]"), which is what its comments are by."""
        if self._login is None:
            slug = self.creds.slug
            if slug is None:
                try:
                    slug = self._gi.get_app().slug
                except Exception as e:
                    raise HostError(f"cannot read the App's own identity: {e}") from None
            self._login = f"{slug}[bot]"
        return self._login
