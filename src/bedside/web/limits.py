"""Request limits, outermost in the app: body size (checked before a byte is read), body read time, and how many
requests run at once.

A declared Content-Length over the limit is refused with 413 before the body is read; a body without one is
counted as it arrives and refused as soon as it passes the limit. The whole body must arrive within the body
timeout (a client trickling a byte at a time gets 408). Beyond `max_in_flight` requests at once, 503 with
Retry-After at once rather than a queue of worker threads; `/api/health` is never counted, so a monitor sees the
server's state even while it sheds load. Refusals carry `Connection: close`, so the rest of a refused body is never
read. The server side (header read timeout, connection caps) is in bedside.web.server.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyTooLarge", "BodyTooSlow", "Limits", "RequestLimits"]

EXEMPT = ("/api/health",)


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may take."""

    max_body_bytes: int = 2_000_000
    body_timeout_s: float = 30.0
    max_in_flight: int = 64


class BodyTooLarge(HTTPException):
    """The body passed the limit while it was being read (raised from `receive`: the app's handlers answer it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body passed {limit} bytes, the most accepted", {"Connection": "close"})


class BodyTooSlow(HTTPException):
    """The body did not arrive within the body timeout."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body did not arrive within {seconds:g} seconds", {"Connection": "close"})


async def _refuse(send: Send, status: int, error: str, detail: str, retry_after: int = 0) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if retry_after:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


class RequestLimits:
    """The ASGI middleware enforcing `Limits`."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.max_body_bytes
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, 413, "too_large", f"the request body is {declared} bytes; at most {limit} are accepted")
            return
        if declared is not None and declared < 0:
            await _refuse(send, 400, "bad_request", "the Content-Length header is not a number")
            return
        counted = scope["path"] not in EXEMPT
        if counted and self.in_flight >= self.limits.max_in_flight:
            await _refuse(send, 503, "overloaded", "too many requests at once; try again shortly", retry_after=1)
            return
        self.in_flight += counted
        try:
            await self._guarded(scope, receive, send)
        finally:
            self.in_flight -= counted

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        read = 0
        deadline: float | None = None

        async def limited_receive() -> Message:
            nonlocal read, deadline
            now = time.monotonic()
            deadline = deadline or now + self.limits.body_timeout_s
            try:
                message = await asyncio.wait_for(receive(), max(deadline - now, 0.001))
            except TimeoutError:
                raise BodyTooSlow(self.limits.body_timeout_s) from None
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.limits.max_body_bytes:
                    raise BodyTooLarge(self.limits.max_body_bytes)
                if not message.get("more_body", False):
                    deadline = float("inf")  # the body is complete: later waits (for a disconnect) are not reads
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except (BodyTooLarge, BodyTooSlow) as exc:  # read outside the app's handlers (none of ours do)
            if not started:
                await _refuse(send, exc.status_code, "too_large" if exc.status_code == 413 else "timeout", exc.detail)
