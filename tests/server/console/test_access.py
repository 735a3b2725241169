"""Console access: the admin token, signed expiring sessions, CSRF per session."""

import pytest
from pydantic import SecretStr

from flows.project.config import ConsoleConfig
from flows.server.console.access import Access

TOKEN = "t" * 24


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def access(clock=None, secret="s" * 32) -> Access:
    cfg = ConsoleConfig(enabled=True, admin_token=SecretStr(TOKEN), session_hours=1,
                        session_secret=SecretStr(secret))  # fmt: skip
    return Access(cfg, clock or Clock())


def test_a_session_is_signed_and_expires():
    clock = Clock()
    a = access(clock)
    cookie = a.new_session("admin")
    assert a.operator(cookie, None).who == "admin"
    data, mac = cookie.rsplit(".", 1)
    assert a.operator(data + "." + "0" * len(mac), None) is None  # tampered
    assert access(clock, secret="o" * 32).operator(cookie, None) is None  # another key
    clock.now += 3601
    assert a.operator(cookie, None) is None


def test_csrf_is_per_session_and_bearer_needs_none():
    a = access()
    one, two = (a.operator(a.new_session("admin"), None) for _ in range(2))
    assert a.csrf_ok(one, a.csrf(one)) and not a.csrf_ok(one, a.csrf(two))
    assert not a.csrf_ok(one, None) and not a.csrf_ok(one, "")
    bearer = a.operator(None, f"Bearer {TOKEN}")
    assert bearer is not None and a.csrf_ok(bearer, None)
    assert a.operator(None, "Bearer wrong") is None


def test_a_short_admin_token_is_a_config_error():
    with pytest.raises(ValueError, match="at least 16 characters"):
        ConsoleConfig(admin_token=SecretStr("short"))
