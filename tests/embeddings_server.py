"""A small OpenAI-compatible embeddings server for tests: real HTTP on loopback, vectors from the hashing embedder
(scaled, so that clients must normalise), and scripted misbehaviour for the next requests."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bedside.index.embedder import HashingEmbedder

MODES = ("ok", "500", "429", "401", "not-json", "short", "wrong-dim", "slow", "shuffled", "nan", "bad-index")


@dataclass
class EmbeddingsServer:
    """What the server did, and what it will do next (`script`: one mode per coming request, then `default`)."""

    url: str = ""
    dim: int = 32
    seed_word: str = ""  # added to every text before hashing: another "model" under the same name
    default: str = "ok"
    slow_s: float = 2.0
    script: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def vectors(self, texts: list[str]) -> list[list[float]]:
        model = HashingEmbedder(self.dim)
        return (model.embed([f"{self.seed_word} {t}" for t in texts]) * 3.0).tolist()


def _handler(state: EmbeddingsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            state.requests.append({"path": self.path, "auth": self.headers.get("authorization"), **body})
            mode = state.script.pop(0) if state.script else state.default
            texts = list(body["input"])
            if mode in ("500", "429", "401"):
                self._send(int(mode), {"error": {"message": f"mode {mode}"}}, {"Retry-After": "0"})
                return
            if mode == "not-json":
                self._raw(200, b"<html>proxy error</html>")
                return
            if mode == "slow":
                time.sleep(state.slow_s)
            vecs = state.vectors(texts)
            if mode == "wrong-dim":
                vecs = [[*v, 0.0] for v in vecs]
            data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vecs)]
            if mode == "short":
                data = data[:-1]
            if mode == "shuffled":
                data.reverse()
            if mode == "bad-index":
                data[0]["index"] = len(data) + 5
            if mode == "nan":
                data[0]["embedding"][0] = float("nan")
            self._send(200, {"object": "list", "model": body.get("model"), "data": data})

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self._write(raw)

        def _write(self, raw: bytes) -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client that gave up waiting (slow)
                self.wfile.write(raw)

        def _raw(self, status: int, raw: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self._write(raw)

    return Handler


@contextmanager
def embeddings_server(**kw: Any) -> Iterator[EmbeddingsServer]:
    """Serve on an ephemeral loopback port for the duration of the block."""
    state = EmbeddingsServer(**kw)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
