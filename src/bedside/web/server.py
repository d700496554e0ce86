"""`bedside serve`: uvicorn with the connection-level limits a public server needs.

uvicorn closes idle keep-alive connections, but a connection that never finishes its request headers (a client
that connects and says nothing, or trickles a header a byte at a time) is held open for ever, and nothing caps
how many are open: enough of them exhaust the process's file descriptors and every other client, `/api/health`
included, stops being served. Here each request's headers must arrive within `header_timeout` seconds of its
first byte (or of the connection opening), else 408 and the connection closes; at most `max_connections` are open
at once and at most `max_connections_per_client` from one address: beyond either, a new connection is closed at
once. Body size, body read time and requests in flight are limited in the app (bedside.web.limits). Forwarded-address
headers are believed only from the configured `trusted_proxies` (uvicorn would otherwise trust 127.0.0.1's).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from bedside.config import Settings

__all__ = ["GuardedH11Protocol", "ServerLimits", "server_config"]

log = logging.getLogger("bedside.serve")
TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
MAX_HEADER_BYTES = 32 * 1024  # a request's line and headers (h11's incomplete-event limit)


class ServerLimits:
    """The connection limits, and the count of open connections by client address (shared by one server)."""

    def __init__(self, header_timeout: float, max_connections: int, per_client: int) -> None:
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.per_client = per_client
        self.by_client: Counter[str] = Counter()
        self.refused = 0
        self.timed_out = 0


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a header read timeout and connection caps (`limits`, set by server_config)."""

    limits = ServerLimits(10.0, 1000, 100)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._address = ""
        self._counted = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limits = type(self).limits
        self._address = self.client[0] if self.client else ""
        if len(self.connections) > limits.max_connections or limits.by_client[self._address] >= limits.per_client:
            limits.refused += 1
            transport.abort()  # before a byte is read: costs the server nothing more
            return
        limits.by_client[self._address] += 1
        self._counted = True
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        if self._counted:
            limits = type(self).limits
            limits.by_client[self._address] -= 1
            if limits.by_client[self._address] <= 0:
                del limits.by_client[self._address]
            self._counted = False
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self._between_requests():
            self._arm_header_timer()  # the first bytes of a new request on a kept-alive connection
        super().data_received(data)
        if not self._between_requests():
            self._disarm_header_timer()  # its headers are complete: the app times the body

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(type(self).limits.header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._between_requests():
            return
        type(self).limits.timed_out += 1
        self.transport.write(TIMEOUT_RESPONSE)
        self.transport.close()


def server_config(app: Any, settings: Settings, host: str, port: int) -> Any:
    """The uvicorn configuration `bedside serve` runs: our protocol and the limits from the settings."""
    import uvicorn

    GuardedH11Protocol.limits = ServerLimits(
        settings.header_timeout, settings.max_connections, settings.max_connections_per_client
    )
    proxies = ",".join(settings.trusted_proxies)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        http=GuardedH11Protocol,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        timeout_keep_alive=max(1, round(settings.keep_alive_timeout)),
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        backlog=min(2048, settings.max_connections),
    )
