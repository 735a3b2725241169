"""GET /setup: register the GitHub App through GitHub's App-manifest flow.

GitHub shows the App for confirmation, then redirects to /setup/callback with
a one-time code that converts into the App's id, private key and webhook
secret. They are stored in `github.credentials_file` and used at once.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import socket
import time
import urllib.parse
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from github import Github, GithubException
from starlette.concurrency import run_in_threadpool

from flows.capabilities.github.app import AppCredentials, save_credentials

STATE_TTL_S = 3600
MAX_STATES = 100  # pending /setup visits kept; the oldest goes first
# GitHub login names: letters, digits and single hyphens, at most 39 characters
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_CODE = re.compile(r"[A-Za-z0-9_-]{1,128}")
PERMISSIONS = {
    "pull_requests": "write",
    "issues": "write",
    "contents": "read",
    "checks": "write",
    "metadata": "read",
}
EVENTS = [
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_review_thread",
    "issue_comment",
    "issues",
]


def manifest(name: str, base_url: str) -> dict[str, Any]:
    """The App manifest: what the code-review flow needs, and where to call."""
    return {
        "name": name,
        "url": base_url,
        "hook_attributes": {"url": f"{base_url}/webhooks/github", "active": True},
        "redirect_url": f"{base_url}/setup/callback",
        # where GitHub sends a console sign-in back (flows.server.console.oauth)
        "callback_urls": [f"{base_url}/console/oauth/callback"],
        "public": False,
        "default_permissions": PERMISSIONS,
        "default_events": EVENTS,
    }


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font:16px system-ui;max-width:44em;margin:3em auto;padding:0 1em}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


def _registered(creds: AppCredentials) -> str:
    link = f"{creds.html_url}/installations/new" if creds.html_url else None
    where = f"<a href='{html.escape(link)}'>install it on your repositories</a>" if link else ""
    return (
        f"<p>This server is GitHub App <b>{html.escape(creds.slug or str(creds.app_id))}</b> "
        f"(id {creds.app_id}). Next, {where or 'install it from its settings page'}.</p>"
    )


def registration_router(service: Any) -> APIRouter:
    router = APIRouter()
    cfg = service.cfg

    @router.get("/setup")
    def start(request: Request, name: str | None = None, org: str | None = None) -> HTMLResponse:
        if service.capabilities.app is not None:
            return _page("flows is registered", _registered(service.capabilities.app))
        if org is not None and not _LOGIN.fullmatch(org):
            return _page(
                "Not an organisation name",
                "<p><code>?org=</code> takes a GitHub organisation's login: letters, digits "
                "and single hyphens, at most 39 characters.</p>",
                400,
            )
        base = (cfg.server.public_url or str(request.base_url)).rstrip("/")
        app_name = name or f"flows-{socket.gethostname()}"[:34]
        now = time.time()
        for s, made in list(service.setup_states.items()):
            if now - made > STATE_TTL_S:
                service.setup_states.pop(s, None)
        while len(service.setup_states) >= MAX_STATES:  # dicts keep insertion order
            service.setup_states.pop(next(iter(service.setup_states)))
        state = secrets.token_urlsafe(24)
        service.setup_states[state] = now
        web = cfg.github.web_url
        target = (
            f"{web}/organizations/{urllib.parse.quote(org)}/settings/apps/new"
            if org
            else f"{web}/settings/apps/new"
        )
        data = html.escape(json.dumps(manifest(app_name, base)))
        return _page(
            "Register flows as a GitHub App",
            f"<p>GitHub will show the App <b>{html.escape(app_name)}</b>, with webhooks to "
            f"<code>{html.escape(base)}/webhooks/github</code>, for you to confirm.</p>"
            f"<form method='post' action='{html.escape(target)}?state={state}'>"
            f"<input type='hidden' name='manifest' value=\"{data}\">"
            "<button type='submit'>Create the GitHub App</button></form>"
            "<p>For an organisation, open <code>/setup?org=NAME</code>.</p>",
        )

    @router.get("/setup/callback")
    async def callback(code: str = "", state: str = "") -> HTMLResponse:
        if service.capabilities.app is not None:
            return _page("Already registered", _registered(service.capabilities.app), 409)
        made = service.setup_states.pop(state, None)
        if made is None or time.time() - made > STATE_TTL_S or not _CODE.fullmatch(code):
            return _page(
                "Setup link expired", "<p>Start again at <a href='/setup'>/setup</a>.</p>", 400
            )
        try:
            data = await run_in_threadpool(_convert, cfg.github.api_url, code)
        except GithubException as e:
            message = e.data.get("message") if isinstance(e.data, dict) else e.status
            return _page("GitHub refused the code",
                         f"<p>{html.escape(str(message))}. Start again at "
                         "<a href='/setup'>/setup</a>.</p>", 502)  # fmt: skip
        creds = AppCredentials(
            app_id=int(data["id"]),
            private_key=data["pem"],
            webhook_secret=data.get("webhook_secret"),
            slug=data.get("slug"),
            html_url=data.get("html_url"),
            client_id=data.get("client_id"),
            client_secret=data.get("client_secret"),
        )
        save_credentials(cfg.github.credentials_file, creds)
        service.capabilities.use_app(creds)
        return _page("flows is registered", _registered(creds))

    return router


def _convert(api_url: str, code: str) -> dict[str, Any]:
    gh = Github(base_url=api_url.rstrip("/"), user_agent="flows-github-app")
    _headers, data = gh.requester.requestJsonAndCheck("POST", f"/app-manifests/{code}/conversions")
    return data
