"""Reading webhook bodies before they are authenticated: bounded in time and,
across all requests in flight, in memory."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from starlette.requests import ClientDisconnect, Request

MAX_BODY = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB


@dataclass
class Refused:
    """Why a body was not read: the HTTP status and the message."""

    status: int
    message: str
    outcome: str  # the metrics label


class BodyBudget:
    """Bytes of unauthenticated bodies this process holds at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        with self._lock:
            if self.held + n > self.limit:
                return False
            self.held += n
            return True

    def give_back(self, n: int) -> None:
        with self._lock:
            self.held -= n


async def read_body(request: Request, budget: BodyBudget, timeout_s: float) -> bytes | Refused:
    """The whole body, or why not: over 25 MB (413), slower than `timeout_s`
    (408), over the shared budget (503), or the client went away."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        return Refused(413, f"payload over {MAX_BODY // 2**20} MB", "too_large")
    body = bytearray()
    taken = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                if len(body) + len(chunk) > MAX_BODY:
                    return Refused(413, f"payload over {MAX_BODY // 2**20} MB", "too_large")
                if not budget.take(len(chunk)):
                    return Refused(503, "too many webhook bodies are being received at once "
                                   "(server.pending_bodies_mb); try again", "busy")  # fmt: skip
                taken += len(chunk)
                body += chunk
    except TimeoutError:
        return Refused(408, f"the body did not arrive within {timeout_s:g} s "
                       "(server.body_timeout_s)", "slow")  # fmt: skip
    except ClientDisconnect:
        return Refused(400, "the client went away before the body arrived", "disconnected")
    finally:
        budget.give_back(taken)
    return bytes(body)
