"""Who may use the console: an admin token, signed session cookies, CSRF.

A session is a cookie `flows_session` = base64(JSON {who, exp, sid}) + "." +
HMAC-SHA256 over it with the session secret; HttpOnly, SameSite=Strict.
Every state-changing request carries `csrf` = HMAC(secret, "csrf:" + sid):
a form field or the `X-CSRF-Token` header. Scripts send the admin token as
`Authorization: Bearer` instead (no cookie, so no CSRF).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from flows.project.config import ConsoleConfig

COOKIE = "flows_session"


@dataclass(frozen=True)
class Operator:
    """Someone signed in to the console."""

    who: str
    sid: str  # the session's id ("" for a bearer token)
    cookie: bool  # signed in with a cookie (so state changes need CSRF)
    # the installations this operator may see and steer (None: every one)
    scope: frozenset[int] | None = None


class Access:
    def __init__(self, cfg: ConsoleConfig, clock=time.time) -> None:  # type: ignore[no-untyped-def]
        self.cfg = cfg
        self.clock = clock
        given = cfg.session_secret.get_secret_value() if cfg.session_secret else ""
        self._key = (given or secrets.token_hex(32)).encode()

    def _mac(self, data: bytes) -> str:
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()

    def token_ok(self, token: str) -> bool:
        want = self.cfg.admin_token.get_secret_value() if self.cfg.admin_token else ""
        return bool(want) and hmac.compare_digest(token.encode(), want.encode())

    def sign(self, body: dict, seconds: float) -> str:
        """`body` with an expiry, signed: base64(JSON) + "." + HMAC."""
        data = base64.urlsafe_b64encode(
            json.dumps({**body, "exp": self.clock() + seconds}).encode()
        )
        return f"{data.decode()}.{self._mac(data)}"

    def unsign(self, value: str | None) -> dict | None:
        """What `sign` made, if the signature holds and it has not expired."""
        if not value or "." not in value:
            return None
        data, mac = value.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(data.encode())):
            return None
        try:
            body = json.loads(base64.urlsafe_b64decode(data.encode()))
            fresh = float(body["exp"]) > self.clock()
        except (ValueError, KeyError, TypeError):
            return None
        return body if fresh and isinstance(body, dict) else None

    def new_session(self, who: str, scope: frozenset[int] | None = None) -> str:
        """A cookie value for `who` (limited to `scope`), valid for console.session_hours."""
        body = {"who": who, "sid": secrets.token_hex(16),
                "scope": None if scope is None else sorted(scope)}  # fmt: skip
        return self.sign(body, self.cfg.session_hours * 3600)

    def admin_login(self, login: str) -> bool:
        """Whether this GitHub login is in console.admins."""
        return login.lower() in {a.lower().lstrip("@") for a in self.cfg.admins}

    def operator(self, cookie: str | None, authorization: str | None) -> Operator | None:
        """Who this request is, or None."""
        if authorization and authorization.lower().startswith("bearer "):
            return Operator("admin token", "", False) if self.token_ok(authorization[7:]) else None
        body = self.unsign(cookie)
        if body is None or not isinstance(body.get("who"), str) or "sid" not in body:
            return None
        scope = body.get("scope")
        if scope is not None and not (
            isinstance(scope, list) and all(isinstance(i, int) for i in scope)
        ):
            return None
        return Operator(
            body["who"], str(body["sid"]), True, None if scope is None else frozenset(scope)
        )

    def csrf(self, op: Operator) -> str:
        return self._mac(f"csrf:{op.sid}".encode())

    def csrf_ok(self, op: Operator, given: str | None) -> bool:
        return not op.cookie or (bool(given) and hmac.compare_digest(given, self.csrf(op)))
