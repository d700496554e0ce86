"""Resource exhaustion: bodies over the limit are refused before they are read, slow bodies and slow or absent
headers time out, connections are capped (per address and in all), and requests in flight are bounded; meanwhile
/api/health keeps answering. The server tests run `bedside serve`'s own uvicorn configuration on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from starlette.types import Message

from bedside.config import load_settings
from bedside.web.limits import Limits, RequestLimits
from bedside.web.server import GuardedH11Protocol, server_config

# -- the middleware, on its own ---------------------------------------------------------------------------------


class Recorder:
    """An ASGI app that reads the whole body (or waits on `gate` first), and what it was sent."""

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.gate = gate
        self.bodies: list[int] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.gate is not None:
            await self.gate.wait()
        size, more = 0, True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        self.bodies.append(size)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _scope(path: str = "/api/ask", length: int | None = None) -> dict[str, Any]:
    headers = [(b"content-length", str(length).encode())] if length is not None else []
    return {"type": "http", "method": "POST", "path": path, "headers": headers}


async def _call(app: Any, scope: dict[str, Any], chunks: list[bytes], delay: float = 0.0) -> list[Message]:
    sent: list[Message] = []
    pending = list(chunks)
    reads = 0

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        await asyncio.sleep(delay)
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    sent.append({"type": "reads", "count": reads})
    return sent


def _status(sent: list[Message]) -> int:
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


def _headers(sent: list[Message]) -> dict[bytes, bytes]:
    return dict(next(m["headers"] for m in sent if m["type"] == "http.response.start"))


def test_a_declared_oversized_body_is_refused_before_a_byte_is_read() -> None:
    inner = Recorder()
    app = RequestLimits(inner, Limits(max_body_bytes=1000))
    sent = asyncio.run(_call(app, _scope(length=300_000_000), [b"x" * 1000]))
    assert _status(sent) == 413 and sent[-1] == {"type": "reads", "count": 0} and inner.bodies == []
    assert _headers(sent)[b"connection"] == b"close"
    assert b"at most 1000 are accepted" in sent[1]["body"]


def test_an_undeclared_body_is_cut_off_at_the_limit() -> None:
    app = RequestLimits(Recorder(), Limits(max_body_bytes=1000))
    sent = asyncio.run(_call(app, _scope(), [b"x" * 600] * 50))
    assert _status(sent) == 413 and sent[-1]["count"] == 2  # stopped at the chunk that passed the limit


def test_a_body_trickling_past_the_body_timeout_gets_408() -> None:
    app = RequestLimits(Recorder(), Limits(body_timeout_s=0.3))
    started = time.monotonic()
    sent = asyncio.run(_call(app, _scope(length=100), [b"x"] * 100, delay=0.05))
    assert _status(sent) == 408 and time.monotonic() - started < 2


def test_requests_in_flight_are_bounded_but_health_is_not() -> None:
    async def run() -> tuple[list[int], int]:
        gate = asyncio.Event()
        app = RequestLimits(Recorder(gate), Limits(max_in_flight=2))
        held = [asyncio.create_task(_call(app, _scope(length=0), [])) for _ in range(2)]
        await asyncio.sleep(0.05)
        refused = await _call(app, _scope(length=0), [])
        health = asyncio.create_task(_call(app, _scope("/api/health", 0), []))
        await asyncio.sleep(0.05)
        gate.set()
        done = [await t for t in held]
        return [_status(d) for d in done] + [_status(await health)], _status(refused)

    statuses, refused = asyncio.run(run())
    assert statuses == [200, 200, 200] and refused == 503


def test_the_app_answers_an_oversized_json_body_with_413(client: TestClient) -> None:
    r = client.post(
        "/api/ask", content=b'{"question": "' + b"a" * 2_100_000 + b'"}', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["error"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"question": "'
        for _ in range(40):
            yield b"a" * 100_000
        yield b'"}'

    r = client.post("/api/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "passed 2000000 bytes" in r.json()["detail"]


# -- the server ---------------------------------------------------------------------------------------------------


@pytest.fixture
def guarded() -> Iterator[str]:
    """`bedside serve`'s uvicorn configuration with short timeouts and small caps, over a tiny app."""
    import uvicorn

    app = FastAPI()

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str]:
        return {"client": request.client.host if request.client else ""}

    @app.post("/echo")
    async def echo(body: dict[str, Any]) -> dict[str, int]:
        return {"keys": len(body)}

    settings = load_settings(header_timeout=0.5, keep_alive_timeout=1, max_connections=50, max_connections_per_client=5)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(server_config(RequestLimits(app, Limits(max_body_bytes=10_000)), settings, "127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


def _connect(address: str, source: str = "127.0.0.1") -> socket.socket:
    host, port = address.split(":")
    conn = socket.create_connection((host, int(port)), timeout=5, source_address=(source, 0))
    return conn


def _read_all(conn: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := conn.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def test_silent_and_trickling_connections_time_out(guarded: str) -> None:
    with _connect(guarded) as silent, _connect(guarded) as trickle:
        _time_out(silent, trickle)


def _time_out(silent: socket.socket, trickle: socket.socket) -> None:
    started = time.monotonic()
    trickle.sendall(b"GET /api/health HTTP/1.1\r\n")
    for _ in range(3):  # a header line every 0.2 s never completes the request
        time.sleep(0.2)
        trickle.sendall(b"X-Slow: 1\r\n")
    assert _read_all(trickle).startswith(b"HTTP/1.1 408")
    assert _read_all(silent).startswith(b"HTTP/1.1 408") and time.monotonic() - started < 3
    assert GuardedH11Protocol.limits.timed_out >= 2


def test_one_address_cannot_hold_every_connection(guarded: str) -> None:
    held = [_connect(guarded, "127.0.0.2") for _ in range(5)]
    try:
        with _connect(guarded, "127.0.0.2") as extra:
            assert _read_all(extra) == b""  # closed at once, nothing read
        r = httpx.get(f"http://{guarded}/api/health", timeout=5)  # another address is served meanwhile
        assert r.status_code == 200
    finally:
        for conn in held:
            conn.close()


def test_a_large_body_is_refused_without_being_read(guarded: str) -> None:
    with _connect(guarded) as conn:
        head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 300000000\r\n\r\n"
        conn.sendall(head + b"{" + b" " * 60_000)
        reply = _read_all(conn)
    assert reply.startswith(b"HTTP/1.1 413") and b"connection: close" in reply.lower()
    r = httpx.post(f"http://{guarded}/echo", json={"a": 1}, timeout=5)
    assert r.status_code == 200 and r.json() == {"keys": 1}


def test_forwarded_addresses_are_believed_only_from_configured_proxies(guarded: str) -> None:
    spoofed = httpx.get(f"http://{guarded}/whoami", headers={"X-Forwarded-For": "198.51.100.4"}, timeout=5)
    assert spoofed.json() == {"client": "127.0.0.1"}  # no proxy configured: the header is ignored, even from here
    config = server_config(FastAPI(), load_settings(trusted_proxies=["10.0.0.2"]), "127.0.0.1", 8000)
    assert config.proxy_headers and config.forwarded_allow_ips == "10.0.0.2"
    assert not server_config(FastAPI(), load_settings(), "127.0.0.1", 8000).proxy_headers
