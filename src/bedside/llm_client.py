"""The HTTP client for OpenAI-compatible chat-completions endpoints (vLLM, llama.cpp server, Ollama, hosted APIs),
which the LLM composer uses through its `ChatClient` protocol (`bedside.answer.llm`).

httpx sends the request, httpx-sse reads a streamed reply. Every failure becomes one UpstreamError line; the API key
never appears in messages.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import httpx
from httpx_sse import EventSource

from bedside.errors import UpstreamError
from bedside.index.endpoint import api_url

MAX_RESPONSE_BYTES = 8 * 1024 * 1024
_ERROR_EXCERPT_BYTES = 4096


def chat_url(base_url: str) -> str:
    """The chat-completions URL for a base URL as users write it (see `bedside.index.endpoint.api_url`)."""
    return api_url(base_url, "/chat/completions", "LLM base URL")


class _TimedOut(Exception):
    """The call's overall deadline passed."""


class OpenAICompatibleClient:
    """A client for POST {base}/chat/completions (vLLM, llama.cpp server, Ollama, hosted APIs).

    `timeout` is an overall deadline for one call, streaming included: connecting, sending and waiting for the
    reply's headers each get at most `timeout`, and from the headers on the connection is shut when the time is up.
    `json_mode` sends response_format {"type": "json_object"}, which only some servers accept. Error messages never
    contain the key.
    """

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 60.0, *, json_mode: bool = False):
        self.url = chat_url(base_url)
        self.model, self.api_key, self.timeout, self.json_mode = model, api_key, timeout, json_mode
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        self.where = f"{parts.scheme}://{parts.hostname}{port}"  # never the userinfo of the URL

    def complete(self, messages: list[dict[str, str]], *, on_delta: Callable[[str], None] | None = None) -> str:
        """See `bedside.answer.llm.ChatClient.complete`. A server that ignores `stream` and answers JSON is accepted
        (one delta)."""
        deadline = time.monotonic() + self.timeout
        stream = on_delta is not None
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0, "stream": stream}
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}
        headers = {"User-Agent": "bedside", "Accept": "text/event-stream" if stream else "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        expired = threading.Event()  # set when the connection was shut at the deadline
        try:
            with (
                httpx.Client(timeout=self.timeout, headers=headers) as http,
                http.stream("POST", self.url, json=body) as response,
                _shut_at(response, deadline, expired),
            ):
                content = self._reply(response, on_delta, deadline)
                if expired.is_set():  # the body ended because the connection was shut, not because it was whole
                    raise _TimedOut
        except UpstreamError:
            if expired.is_set():  # what was read was cut short by the deadline (a truncated body reads as malformed)
                raise UpstreamError(f"LLM endpoint {self.where} timed out after {self.timeout:g} s") from None
            raise
        except (_TimedOut, httpx.TimeoutException):
            raise UpstreamError(f"LLM endpoint {self.where} timed out after {self.timeout:g} s") from None
        except (httpx.HTTPError, OSError) as exc:
            if time.monotonic() >= deadline:  # a read cut short by the shut connection
                raise UpstreamError(f"LLM endpoint {self.where} timed out after {self.timeout:g} s") from None
            if _refused(exc):
                raise UpstreamError(
                    f"LLM endpoint {self.where} refused the connection (is the server running?)"
                ) from None
            reason = self._redact(str(exc) or type(exc).__name__)
            raise UpstreamError(f"could not talk to LLM endpoint {self.where}: {reason}") from None
        if not content.strip():
            raise UpstreamError(f"LLM endpoint {self.where} returned an empty answer")
        return content

    def _reply(self, response: httpx.Response, on_delta: Callable[[str], None] | None, deadline: float) -> str:
        if response.status_code != 200:
            excerpt = self._redact(_excerpt(_read(response, _ERROR_EXCERPT_BYTES, deadline)))
            raise UpstreamError(f"LLM endpoint {self.where} answered HTTP {response.status_code}: {excerpt}")
        if on_delta is not None and "text/event-stream" in response.headers.get("content-type", ""):
            return self._read_stream(response, on_delta, deadline)
        raw = _read(response, MAX_RESPONSE_BYTES + 1, deadline)
        if len(raw) > MAX_RESPONSE_BYTES:
            raise UpstreamError(f"LLM response is larger than {MAX_RESPONSE_BYTES} bytes")
        content = self._message_content(raw)
        if on_delta is not None:
            on_delta(content)
        return content

    def _message_content(self, raw: bytes) -> str:
        try:
            content = json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError, RecursionError):
            excerpt = self._redact(_excerpt(raw))
            raise UpstreamError(f"LLM endpoint {self.where} sent a malformed response: {excerpt}") from None
        return content if isinstance(content, str) else ""

    def _read_stream(self, response: httpx.Response, on_delta: Callable[[str], None], deadline: float) -> str:
        pieces: list[str] = []
        size = 0
        for event in EventSource(response).iter_sse():
            if time.monotonic() >= deadline:
                raise _TimedOut
            if not event.data:  # an event with no data (only a name or an id) carries no text
                continue
            if event.data.strip() == "[DONE]":
                break
            piece = self._delta(event.data)
            if piece:
                size += len(piece)
                if size > MAX_RESPONSE_BYTES:
                    raise UpstreamError(f"LLM response is larger than {MAX_RESPONSE_BYTES} bytes")
                pieces.append(piece)
                on_delta(piece)
        return "".join(pieces)

    def _delta(self, event: str) -> str:
        try:
            obj = json.loads(event)
            if isinstance(obj, dict) and "error" in obj:
                raise UpstreamError(f"LLM endpoint {self.where} reported an error: {self._redact(_excerpt(event))}")
            content = (obj["choices"][0].get("delta") or {}).get("content") if obj["choices"] else ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError):
            excerpt = self._redact(_excerpt(event))
            raise UpstreamError(f"LLM endpoint {self.where} sent a malformed stream event: {excerpt}") from None
        return content if isinstance(content, str) else ""

    def _redact(self, text: str) -> str:
        return text.replace(self.api_key, "***") if self.api_key else text


@contextmanager
def _shut_at(response: httpx.Response, deadline: float, expired: threading.Event) -> Iterator[None]:
    """Shut the response's connection at the deadline, so that no read of the body outlives it, and set `expired`
    when that happened. (httpx's read timeout applies to each read, not to the whole body.)"""
    network = response.extensions.get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    if not isinstance(sock, socket.socket):
        yield  # a transport without a socket: the checks between events are all there is
        return

    def shut() -> None:
        expired.set()
        with suppress(OSError):  # already closed
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # wakes a blocked read; the TLS layer is left alone

    timer = threading.Timer(max(0.0, deadline - time.monotonic()), shut)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _read(response: httpx.Response, cap: int, deadline: float) -> bytes:
    """At most `cap` bytes of the body."""
    body = bytearray()
    for chunk in response.iter_bytes():
        if time.monotonic() >= deadline:
            raise _TimedOut
        body += chunk
        if len(body) >= cap:
            break
    return bytes(body[:cap])


def _refused(exc: BaseException) -> bool:
    """Whether the connection was refused (httpx wraps the OSError, which stays in the exception's chain)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _excerpt(raw: bytes | str, limit: int = 200) -> str:
    """A short one-line excerpt of a response body, the error message when it is an OpenAI-style error."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        error = json.loads(text).get("error")
        text = str(error.get("message", error)) if isinstance(error, dict) else str(error or text)
    except (ValueError, AttributeError, RecursionError):
        pass
    text = " ".join(text.split()) or "(empty body)"
    return text if len(text) <= limit else text[: limit - 1] + "…"
