"""GitHub REST client: installation tokens, bounded retries, pacing, repository confinement."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from typing import Protocol

from github import Auth, Github, GithubRetry
from github.GithubException import RateLimitExceededExceedsMaxWait

from flows.sandbox.capability import HostError

METHODS = {"GET", "POST", "PATCH", "PUT", "DELETE"}
DEFAULT_ACCEPT = "application/vnd.github+json"
MAX_BODY = 20 * 1024 * 1024
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


MAX_WAIT_S = 10.0  # longer rate-limit waits end the run; the job queue retries it later


class TokenSource(Protocol):
    """Gives the token for a run (a PAT, or an App installation token)."""

    def token(self, installation_id: int | None) -> str | None: ...

    def login(self) -> str | None:
        """The login writes appear under, when the source knows it without asking."""
        ...


class NoToken:
    """No credentials: for clients that never reach GitHub (replays, local git)."""

    def token(self, installation_id: int | None) -> str | None:
        return None

    def login(self) -> str | None:
        return None


class BoundedRetry(GithubRetry):
    """PyGithub's retry (5xx, secondary and primary rate limits), but a run never
    sleeps more than MAX_WAIT_S for a `Retry-After` either: longer waits raise,
    and the job is retried by the queue when the limit resets."""

    def increment(self, method=None, url=None, response=None, error=None, *args, **kwargs):  # type: ignore[override]
        if response is not None and response.status in (403, 429):
            after = response.headers.get("Retry-After") or ""
            if after.isdigit() and float(after) > MAX_WAIT_S:
                raise RateLimitExceededExceedsMaxWait(
                    response.status,
                    {"message": "rate limited"},
                    dict(response.headers),
                    wait=float(after),
                )
        return super().increment(method, url, response, error, *args, **kwargs)


def bounded_retry() -> GithubRetry:
    """The retry policy of every GitHub call the host makes."""
    return BoundedRetry(
        total=2, backoff_factor=0.5, secondary_rate_wait=5, max_rate_limit_wait=MAX_WAIT_S
    )


class GithubClient:
    """Process-wide GitHub access: base URL, timeouts and where tokens come from."""

    def __init__(
        self,
        api_url: str,
        tokens: TokenSource,
        timeout_s: float = 30.0,
        request_interval_s: float | None = 0.25,
        write_interval_s: float | None = 1.0,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.tokens = tokens
        self.timeout_s = timeout_s
        # PyGithub spaces requests (and writes more) to stay clear of secondary rate limits
        self.intervals = (request_interval_s or None, write_interval_s or None)
        self._viewer: dict[int | None, str] = {}
        self._lock = threading.Lock()

    def requester(self, installation_id: int | None, timeout_s: float):
        token = self.tokens.token(installation_id)
        auth = Auth.Token(token) if token else None
        gh = Github(
            auth=auth,
            base_url=self.api_url,
            timeout=max(1, int(timeout_s)),
            retry=bounded_retry(),
            user_agent="flows-github-app",
            seconds_between_requests=self.intervals[0],
            seconds_between_writes=self.intervals[1],
        )
        return gh.requester

    def viewer(self, installation_id: int | None, timeout_s: float) -> str:
        """The login this host writes as: "slug[bot]" for an App, else the token's user."""
        login = self.tokens.login() if hasattr(self.tokens, "login") else None
        if login:
            return login
        with self._lock:
            if installation_id in self._viewer:
                return self._viewer[installation_id]
        try:
            requester = self.requester(installation_id, timeout_s)
            status, _h, text = requester.requestJson("GET", "/user")
            login = json.loads(text).get("login") if status == 200 else None
        except Exception as e:
            raise HostError(f"cannot tell which user the token belongs to: {e}") from None
        if not login:
            raise HostError(f"cannot tell which user the token belongs to (GET /user: {status})")
        with self._lock:
            self._viewer[installation_id] = login
        return login


def transient_reason(status: int, headers: dict[str, str]) -> tuple[bool, float | None]:
    """Whether a response is worth retrying later, and how long GitHub asked to wait."""
    h = {k.lower(): v for k, v in headers.items()}
    after = h.get("retry-after", "")
    wait = float(after) if after.isdigit() else None
    if status >= 500:
        return True, wait
    limited = status == 429 or (
        status == 403 and (wait is not None or h.get("x-ratelimit-remaining") == "0")
    )
    if not limited:
        return False, None
    reset = h.get("x-ratelimit-reset", "")
    if wait is None and reset.isdigit():
        wait = max(0.0, int(reset) - time.time()) + 1
    return True, wait


def confine(path: str, repository: str | None) -> str:
    """Return the path if it stays inside `repos/{repository}`, else raise HostError."""
    if repository is None or not _REPO.match(repository):
        raise HostError("this event has no repository; GitHub calls are not available")
    parsed = urllib.parse.urlsplit(path)
    if parsed.scheme or parsed.netloc or parsed.query or parsed.fragment:
        raise HostError(f"path must be a plain API path without host or query: {path!r}")
    decoded = urllib.parse.unquote(parsed.path)
    segments = decoded.split("/")
    if not decoded.startswith("/") or any(s in (".", "..") for s in segments) or "//" in decoded:
        raise HostError(f"path is not a normalized API path: {path!r}")
    prefix = f"/repos/{repository}".lower()
    low = decoded.lower()
    if low != prefix and not low.startswith(prefix + "/"):
        raise HostError(f"path {path!r} is outside this event's repository {repository}")
    return parsed.path
