"""flows:host/github-api: authenticated GitHub REST calls, confined to one repository."""

from __future__ import annotations

import json
import re
from typing import Any

import requests
from github.GithubException import GithubException, RateLimitExceededExceedsMaxWait
from wasmtime.component import Record

from flows.capabilities.github.client import (
    DEFAULT_ACCEPT,
    MAX_BODY,
    MAX_WAIT_S,
    METHODS,
    GithubClient,
    confine,
    transient_reason,
)
from flows.sandbox.capability import HOST_GITHUB_API, HostError
from flows.sandbox.report import RunContext, RunJournal


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

    def __init__(self, client: GithubClient | None, ctx: RunContext, journal: RunJournal) -> None:
        self._client = client
        self._ctx = ctx
        self._journal = journal
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
        recorded = None
        if method != "GET":
            entry = {"method": method, "path": path, "body": body, "dry_run": self._ctx.dry_run}
            recorded = self._journal.write(entry)
        if method != "GET" and self._ctx.dry_run:
            status, headers, text = _dry_run_response(method, body)
        else:
            status, headers, text = self._send(method, path, query, body, req.accept)
            if recorded is not None:
                self._journal.answered(recorded, status, _html_url(text))
        self._journal.log("host:github-api", "debug", f"{method} {path} -> {status}")
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
            self._journal.transient(f"GitHub rate limit on {method} {path}", wait)
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
            self._journal.transient(f"GitHub refused the installation token on {path} (401)")
            return status, headers, text
        retry, wait = transient_reason(status, headers)
        if retry:
            self._journal.transient(f"GitHub answered {status} to {method} {path}", wait)
        return status, headers, text


def _response(status: int, headers: dict[str, str], text: str) -> Record:
    r = Record()
    r.status = int(status)
    r.headers = [(str(k).lower(), str(v)) for k, v in headers.items()]
    r.body = text
    return r


def _html_url(text: str) -> str | None:
    """The web address GitHub gave what a write made (a comment, a review)."""
    try:
        answer = json.loads(text) if text else None
    except ValueError:
        return None
    url = answer.get("html_url") if isinstance(answer, dict) else None
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None
