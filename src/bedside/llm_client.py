"""The HTTP client for OpenAI-compatible chat-completions endpoints (vLLM, llama.cpp server, Ollama, hosted APIs),
which the LLM composer uses through its `ChatClient` protocol (`bedside.answer.llm`).

Standard library only. Every failure becomes one UpstreamError line; the API key never appears in messages.
"""

from __future__ import annotations

import codecs
import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from bedside.errors import UpstreamError
from bedside.index.endpoint import api_url

MAX_RESPONSE_BYTES = 8 * 1024 * 1024


def chat_url(base_url: str) -> str:
    """The chat-completions URL for a base URL as users write it (see `bedside.index.endpoint.api_url`)."""
    return api_url(base_url, "/chat/completions", "LLM base URL")


class OpenAICompatibleClient:
    """A stdlib-only client for POST {base}/chat/completions (vLLM, llama.cpp server, Ollama, hosted APIs).

    `timeout` is an overall deadline for one call, streaming included. `json_mode` sends
    response_format {"type": "json_object"}, which only some servers accept. Error messages never contain the key.
    """

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 60.0, *, json_mode: bool = False):
        self.url = urlsplit(chat_url(base_url))
        self.model, self.api_key, self.timeout, self.json_mode = model, api_key, timeout, json_mode
        port = f":{self.url.port}" if self.url.port else ""
        self.where = f"{self.url.scheme}://{self.url.hostname}{port}"  # never the userinfo of the URL

    def complete(self, messages: list[dict[str, str]], *, on_delta: Callable[[str], None] | None = None) -> str:
        """See `bedside.answer.llm.ChatClient.complete`. A server that ignores `stream` and answers JSON is accepted
        (one delta)."""
        deadline = time.monotonic() + self.timeout
        conn_type = http.client.HTTPSConnection if self.url.scheme == "https" else http.client.HTTPConnection
        conn = conn_type(self.url.hostname or "", self.url.port, timeout=self.timeout)
        try:
            content = self._exchange(conn, messages, on_delta, deadline)
        except UpstreamError:
            raise
        except TimeoutError:
            raise UpstreamError(f"LLM endpoint {self.where} timed out after {self.timeout:g} s") from None
        except ConnectionRefusedError:
            raise UpstreamError(f"LLM endpoint {self.where} refused the connection (is the server running?)") from None
        except (OSError, http.client.HTTPException) as exc:
            reason = self._redact(str(exc) or type(exc).__name__)
            raise UpstreamError(f"could not talk to LLM endpoint {self.where}: {reason}") from None
        finally:
            conn.close()
        if not content.strip():
            raise UpstreamError(f"LLM endpoint {self.where} returned an empty answer")
        return content

    def _exchange(
        self, conn: http.client.HTTPConnection, messages: list[dict[str, str]],
        on_delta: Callable[[str], None] | None, deadline: float,
    ) -> str:  # fmt: skip
        stream = on_delta is not None
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0, "stream": stream}
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}
        headers = {"Content-Type": "application/json", "User-Agent": "bedside",
                   "Accept": "text/event-stream" if stream else "application/json"}  # fmt: skip
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        conn.connect()
        # Kept here because http.client drops conn.sock once a response owns the connection (HTTP/1.0, close).
        reader = _Reader(conn.sock, deadline)
        conn.request("POST", self.url.path, body=json.dumps(body).encode("utf-8"), headers=headers)
        reader.settle()
        with conn.getresponse() as response:
            reader.response = response
            if response.status != 200:
                excerpt = self._redact(_excerpt(reader.read_all(4096)))
                raise UpstreamError(f"LLM endpoint {self.where} answered HTTP {response.status}: {excerpt}")
            if stream and "text/event-stream" in (response.getheader("Content-Type") or ""):
                return self._read_stream(reader, on_delta)
            content = self._message_content(reader.read_all(MAX_RESPONSE_BYTES))
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

    def _read_stream(self, reader: _Reader, on_delta: Callable[[str], None] | None) -> str:
        pieces = []
        for event in reader.events():
            if event.strip() == "[DONE]":
                break
            piece = self._delta(event)
            if piece:
                pieces.append(piece)
                if on_delta is not None:
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


class _Reader:
    """Reads a response body in pieces, each socket operation allowed only the time left before the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline
        self.response: http.client.HTTPResponse | None = None

    def settle(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)

    def read(self) -> bytes:
        assert self.response is not None
        self.settle()
        return self.response.read1(65536)

    def read_all(self, cap: int) -> bytes:
        """At most `cap` bytes; UpstreamError when a full response (cap MAX_RESPONSE_BYTES) is larger."""
        body = b""
        while len(body) <= cap and (chunk := self.read()):
            body += chunk
        if len(body) > cap and cap >= MAX_RESPONSE_BYTES:
            raise UpstreamError(f"LLM response is larger than {MAX_RESPONSE_BYTES} bytes")
        return body[:cap]

    def events(self) -> Iterator[str]:
        """Server-sent events' data: `data:` lines joined per event; comments (keep-alives), other fields skipped."""
        decoder, pending, data = codecs.getincrementaldecoder("utf-8")("replace"), "", []
        while True:
            chunk = self.read()
            pending += decoder.decode(chunk, final=not chunk)
            lines = pending.split("\n")
            pending = lines.pop() if chunk else ""
            for line in (x.rstrip("\r") for x in lines + ([] if chunk else [""])):
                if line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif not line and data:
                    yield "\n".join(data)
                    data = []
            if not chunk:
                return


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


# --- prompt -------------------------------------------------------------------------------------------------------
