"""Sign-in with GitHub: the web flow with the App's own OAuth client (the
client id and secret /setup stored). Only logins in console.admins get in;
the user's token is used once, to ask who they are, and never kept."""

from __future__ import annotations

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


def login_for_code(gh: GithubConfig, client_id: str, client_secret: str, code: str) -> str:
    """Trade the callback's code for a user token, then ask GitHub whose it is."""
    try:
        r = httpx.post(
            f"{gh.web_url.rstrip('/')}/login/oauth/access_token",
            json={"client_id": client_id, "client_secret": client_secret, "code": code},
            headers={"Accept": "application/json"},
            timeout=TIMEOUT_S,
        )
        answer = r.json() if r.status_code == 200 else {}
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not token:
            why = answer.get("error_description") or answer.get("error") if answer else None
            raise SignInFailed(f"GitHub refused the sign-in code: {why or f'HTTP {r.status_code}'}")
        me = httpx.get(
            f"{gh.api_url.rstrip('/')}/user",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
            timeout=TIMEOUT_S,
        )
    except (httpx.HTTPError, ValueError) as e:
        raise SignInFailed(f"GitHub did not answer the sign-in: {type(e).__name__}") from None
    login = me.json().get("login") if me.status_code == 200 else None
    if not isinstance(login, str) or not login:
        raise SignInFailed(f"GitHub did not say who signed in (HTTP {me.status_code} from /user)")
    return login
