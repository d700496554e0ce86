"""MCP over Streamable HTTP at `/mcp/`, behind the API tokens of the review API, rate-limited and logged.

Each request must carry `Authorization: Bearer TOKEN` of an active account (`bedside users token EMAIL`); each
account may make `mcp_rate_per_minute` requests a minute (then 429 with Retry-After); each request is logged with
its account, JSON-RPC method and tool. New answers go through the web service, so they pass its admission gate.
The transport is stateless (JSON answers, no session to resume).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from bedside.errors import InvalidInput
from bedside.mcp_server import build_server
from bedside.model import Answer, Document, SearchHit
from bedside.web.article_backend import EditorialService

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from bedside.editorial.interface import User
    from bedside.web.site import WebService

__all__ = ["McpHttp"]

log = logging.getLogger("bedside.mcp")
MAX_BODY = 1 << 20


class _WebFaces:
    """The tools' needs met by the web service (its locks, its admission gate)."""

    def __init__(self, service: WebService) -> None:
        self.service = service

    def search_evidence(
        self,
        query: str,
        limit: int,
        evidence_type: str | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
    ) -> list[SearchHit]:
        return self.service.search_evidence(query, limit, evidence_type, year_min, year_max)

    def public_answer(self, question: str, audience: str) -> Answer:
        return self.service.ask(question, audience).answer

    def document(self, document_id: str) -> Document:
        return self.service.document(document_id)


class McpHttp:
    """The ASGI app mounted at /mcp, and the server whose session manager the web app's lifespan runs."""

    def __init__(self, service: WebService, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        from mcp.server.transport_security import TransportSecuritySettings

        if not isinstance(service.articles, EditorialService):
            raise InvalidInput("BEDSIDE_MCP_HTTP needs the article database's API tokens (an SQL article service)")
        self._user_by_token: Callable[[str], User | None] = service.articles.user_by_token
        self.server: MCPServer = build_server(_WebFaces(service))
        # Bearer tokens protect every request, so the DNS-rebinding guard (for unauthenticated local servers) is off.
        self._inner = self.server.streamable_http_app(
            streamable_http_path="/",
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.per_minute = per_minute
        self._clock = clock
        self._recent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._inner(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        scheme, _, token = headers.get("authorization", "").partition(" ")
        user = await run_in_threadpool(self._user_by_token, token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            await _refuse(
                scope,
                receive,
                send,
                401,
                "an API token is needed: Authorization: Bearer TOKEN",
                {"WWW-Authenticate": "Bearer"},
            )
            return
        wait = self._wait(user.email)
        if wait:
            await _refuse(
                scope,
                receive,
                send,
                429,
                f"at most {self.per_minute} MCP requests a minute",
                {"Retry-After": str(wait)},
            )
            return
        body, more = await _read(receive)
        log.info("mcp %s %s by %s", scope.get("method"), _what(body), user.email)
        await self._inner(scope, _replay(body, more, receive), send)

    def _wait(self, who: str) -> int:
        """0 when `who` may make a request now (and counts it), else the seconds until they may."""
        now = self._clock()
        with self._lock:
            recent = self._recent.setdefault(who, deque())
            while recent and recent[0] <= now - 60:
                recent.popleft()
            if len(recent) >= self.per_minute:
                return max(1, math.ceil(recent[0] + 60 - now))
            recent.append(now)
            return 0


async def _refuse(scope: Scope, receive: Receive, send: Send, code: int, detail: str, headers: dict[str, str]) -> None:
    kind = {401: "unauthorized", 429: "too_many_requests"}[code]
    await JSONResponse({"error": kind, "detail": detail}, status_code=code, headers=headers)(scope, receive, send)


async def _read(receive: Receive) -> tuple[bytes, bool]:
    """The request body (up to MAX_BODY bytes: the rest is left to the inner app), and whether more follows."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False
        if size > MAX_BODY:
            return b"".join(chunks), True


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return again


def _what(body: bytes) -> str:
    """The JSON-RPC method (and tool) of a request body, for the log."""
    try:
        data: Any = json.loads(body) if body else None
    except ValueError:
        return "(not JSON)"
    calls = data if isinstance(data, list) else [data]
    parts = []
    for call in calls:
        if isinstance(call, dict):
            params = call.get("params")
            params = params if isinstance(params, dict) else {}
            name = params.get("name") or params.get("uri") or ""
            parts.append(f"{call.get('method', '?')}{' ' + str(name)[:100] if name else ''}")
    return ", ".join(parts) or "-"
