"""flows:host/github-api: authenticated GitHub REST calls, confined to one repository."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any, Protocol

import requests
from github import Auth, Github, GithubRetry
from github.GithubException import GithubException
from wasmtime.component import Record

from flows.capabilities import HOST_GITHUB_API, HostError
from flows.run import RunContext, RunRecorder

METHODS = {"GET", "POST", "PATCH", "PUT", "DELETE"}
DEFAULT_ACCEPT = "application/vnd.github+json"
MAX_BODY = 20 * 1024 * 1024
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class TokenSource(Protocol):
    """Gives the token for a run (a PAT, or an App installation token)."""

    def token(self, installation_id: int | None) -> str | None: ...


class GithubClient:
    """Process-wide GitHub access: base URL, timeouts and where tokens come from."""

    def __init__(self, api_url: str, tokens: TokenSource, timeout_s: float = 30.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.tokens = tokens
        self.timeout_s = timeout_s

    def requester(self, installation_id: int | None, timeout_s: float):
        token = self.tokens.token(installation_id)
        auth = Auth.Token(token) if token else None
        retry = GithubRetry(total=2, backoff_factor=0.5, secondary_rate_wait=5)
        gh = Github(
            auth=auth,
            base_url=self.api_url,
            timeout=max(1, int(timeout_s)),
            retry=retry,
            user_agent="flows-github-app",
        )
        return gh.requester


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
        except GithubException as e:  # raised only for failures PyGithub does not return
            raise HostError(f"GitHub request failed: {e.status} {e.data}") from None
        except requests.exceptions.RetryError as e:
            got = re.search(r"too many (\d+) error responses", str(e))
            status = f" (last status {got.group(1)})" if got else ""
            raise HostError(f"GitHub failed on every attempt{status}; retries exhausted") from None
        except requests.exceptions.Timeout:
            raise HostError(f"GitHub did not answer {method} {path} in time") from None
        except Exception as e:  # connection refused, DNS, TLS
            raise HostError(f"GitHub request {method} {path} failed: {type(e).__name__}") from None
        return status, resp_headers, text or ""


def _response(status: int, headers: dict[str, str], text: str) -> Record:
    r = Record()
    r.status = int(status)
    r.headers = [(str(k).lower(), str(v)) for k, v in headers.items()]
    r.body = text
    return r
