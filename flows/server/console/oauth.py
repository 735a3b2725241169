"""Sign-in with GitHub: the web flow with the App's own OAuth client (the
client id and secret /setup stored). Logins in console.admins see every
installation; anyone else sees the installations they administer, or is
refused. The user's token is used during the sign-in only, never kept."""

from __future__ import annotations

from typing import Any

import httpx

from flows.project.config import GithubConfig

TIMEOUT_S = 10.0


class SignInFailed(Exception):
    """GitHub did not say who this is; the message says why."""


def authorize_url(gh: GithubConfig, client_id: str, redirect_uri: str, state: str) -> str:
    query = httpx.QueryParams(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "allow_signup": "false",
        }
    )
    return f"{gh.web_url.rstrip('/')}/login/oauth/authorize?{query}"


def token_for_code(gh: GithubConfig, client_id: str, client_secret: str, code: str) -> str:
    """Trade the callback's code for a user token (used for this sign-in only)."""
    try:
        r = httpx.post(
            f"{gh.web_url.rstrip('/')}/login/oauth/access_token",
            json={"client_id": client_id, "client_secret": client_secret, "code": code},
            headers={"Accept": "application/json"},
            timeout=TIMEOUT_S,
        )
        answer = r.json() if r.status_code == 200 else {}
        token = answer.get("access_token") if isinstance(answer, dict) else None
    except (httpx.HTTPError, ValueError) as e:
        raise SignInFailed(f"GitHub did not answer the sign-in: {type(e).__name__}") from None
    if not token:
        why = answer.get("error_description") or answer.get("error") if answer else None
        raise SignInFailed(f"GitHub refused the sign-in code: {why or f'HTTP {r.status_code}'}")
    return str(token)


def _get(gh: GithubConfig, token: str, path: str) -> tuple[int, Any]:
    try:
        r = httpx.get(
            f"{gh.api_url.rstrip('/')}{path}",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
            timeout=TIMEOUT_S,
        )
        return r.status_code, (r.json() if r.content else None)
    except (httpx.HTTPError, ValueError) as e:
        raise SignInFailed(f"GitHub did not answer {path}: {type(e).__name__}") from None


def login_of(gh: GithubConfig, token: str) -> str:
    """Who the user token belongs to."""
    status, me = _get(gh, token, "/user")
    login = me.get("login") if status == 200 and isinstance(me, dict) else None
    if not isinstance(login, str) or not login:
        raise SignInFailed(f"GitHub did not say who signed in (HTTP {status} from /user)")
    return login


def administered(gh: GithubConfig, token: str, login: str) -> frozenset[int]:
    """The App's installations this user administers: their own account's, and
    those of organizations where GitHub says their membership role is admin."""
    status, body = _get(gh, token, "/user/installations?per_page=100")
    if status != 200 or not isinstance(body, dict):
        raise SignInFailed(f"GitHub did not list your installations (HTTP {status})")
    found = set()
    for inst in body.get("installations") or []:
        account = inst.get("account") or {}
        name, kind = str(account.get("login") or ""), account.get("type")
        if kind == "User" and name.lower() == login.lower():
            found.add(int(inst["id"]))
        elif kind == "Organization" and name:
            code, member = _get(gh, token, f"/user/memberships/orgs/{name}")
            if code == 200 and isinstance(member, dict) and member.get("role") == "admin" \
                    and member.get("state") == "active":  # fmt: skip
                found.add(int(inst["id"]))
    return frozenset(found)
