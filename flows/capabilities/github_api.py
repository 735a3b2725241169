"""flows:host/github-api: authenticated GitHub REST calls, confined to one repository."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from typing import Any, Protocol

import requests
from github import Auth, Github, GithubRetry
from github.GithubException import GithubException, RateLimitExceededExceedsMaxWait
from wasmtime.component import Record

from flows.capabilities import HOST_GITHUB_API, HostError
from flows.run import RunContext, RunRecorder

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


def _dry_run_response(method: str, body: Any) -> tuple[int, dict[str, str], str]:
    if method == "DELETE":
        return 204, {}, ""
    echo = dict(body) if isinstance(body, dict) else {}
    echo.setdefault("id", 0)
    echo["dry_run"] = True
    return (
        (201 if method == "POST" else 200),
        {"content-type": "application/json"},
        json.dumps(echo),
    )


class GithubApi:
    interface = HOST_GITHUB_API

    def __init__(self, client: GithubClient | None, ctx: RunContext, recorder: RunRecorder) -> None:
        self._client = client
        self._ctx = ctx
        self._recorder = recorder
        self._requester = None

    def repository(self) -> str | None:
        return self._ctx.repository

    def viewer(self) -> str:
        if self._client is None:
            raise HostError("GitHub is not configured (github.api_url in app.yaml)")
        return self._client.viewer(self._ctx.installation_id, max(1.0, self._ctx.remaining()))

    def send(self, req: Record) -> Record:
        method = str(req.method).upper()
        if method not in METHODS:
            raise HostError(f"method {req.method!r} is not allowed (use one of {sorted(METHODS)})")
        path = confine(req.path, self._ctx.repository)
        body = None
        if req.body is not None:
            if len(req.body) > MAX_BODY:
                raise HostError("request body is over 20 MB")
            try:
                body = json.loads(req.body)
            except ValueError as e:
                raise HostError(f"request body is not JSON: {e}") from None
        query = {k: v for k, v in req.query}
        if method != "GET":
            entry = {"method": method, "path": path, "body": body, "dry_run": self._ctx.dry_run}
            self._recorder.write(entry)
        if method != "GET" and self._ctx.dry_run:
            status, headers, text = _dry_run_response(method, body)
        else:
            status, headers, text = self._send(method, path, query, body, req.accept)
        self._recorder.log("host:github-api", "debug", f"{method} {path} -> {status}")
        return _response(status, headers, text)

    def _send(self, method: str, path: str, query: dict, body: Any, accept: str | None):
        if self._client is None:
            raise HostError("GitHub is not configured (github.api_url in app.yaml)")
        remaining = self._ctx.remaining()
        if remaining < 0.5:
            raise HostError("the run's deadline has passed; GitHub call not made")
        if self._requester is None:
            timeout = min(self._client.timeout_s, remaining)
            self._requester = self._client.requester(self._ctx.installation_id, timeout)
        headers = {"Accept": accept or DEFAULT_ACCEPT}
        try:
            status, resp_headers, text = self._requester.requestJson(
                method, path, parameters=query or None, headers=headers, input=body
            )
        except RateLimitExceededExceedsMaxWait as e:
            wait = e.wait if e.wait is not None else MAX_WAIT_S
            self._recorder.transient(f"GitHub rate limit on {method} {path}", wait)
            return e.status, dict(e.headers or {}), json.dumps(e.data)
        except GithubException as e:  # PyGithub's retry gave up on this answer: pass it on
            status, resp_headers, text = e.status, dict(e.headers or {}), json.dumps(e.data)
        except requests.exceptions.RetryError as e:
            got = re.search(r"too many (\d+) error responses", str(e))
            status = f" (last status {got.group(1)})" if got else ""
            raise HostError(
                f"GitHub failed on every attempt{status}; retries exhausted", transient=True
            ) from None
        except requests.exceptions.Timeout:
            raise HostError(
                f"GitHub did not answer {method} {path} in time", transient=True
            ) from None
        except HostError:  # the request was refused before it was made (e.g. a replay)
            raise
        except Exception as e:  # connection refused, DNS, TLS
            raise HostError(
                f"GitHub request {method} {path} failed: {type(e).__name__}", transient=True
            ) from None
        return self._check(method, path, status, resp_headers, text or "")

    def _check(self, method: str, path: str, status: int, headers: dict[str, str], text: str):
        forget = getattr(self._client.tokens, "forget", None) if self._client else None
        if status == 401 and forget is not None and self._ctx.installation_id is not None:
            forget(self._ctx.installation_id)  # revoked or expired early: mint anew next time
            self._recorder.transient(f"GitHub refused the installation token on {path} (401)")
            return status, headers, text
        retry, wait = transient_reason(status, headers)
        if retry:
            self._recorder.transient(f"GitHub answered {status} to {method} {path}", wait)
        return status, headers, text


def _response(status: int, headers: dict[str, str], text: str) -> Record:
    r = Record()
    r.status = int(status)
    r.headers = [(str(k).lower(), str(v)) for k, v in headers.items()]
    r.body = text
    return r
