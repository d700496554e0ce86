"""An embedder that calls an OpenAI-compatible `POST /v1/embeddings` endpoint (TEI, vLLM, Infinity, Ollama), so that
ingestion workers on several hosts share GPU embedding servers.

Texts go in batches; a batch that fails for a reason that may pass (a refused or dropped connection, a timeout, HTTP
429 or 5xx, a reply that is not the JSON asked for) is retried with exponential backoff (a numeric Retry-After is
honoured, within reason); any other failure, or one that outlasts the retries, is one UpstreamError naming the
endpoint and the batch. The API key never appears in a message.

Identity: like the local model, an endpoint embedder is known by a name (`endpoint:<model>`, the model name the
endpoint was asked for) and by a probe vector, the embedding of one fixed text taken when it starts. A data directory
records the probe with its vectors (`check_probe`), so an endpoint that later serves another model under the same
name, which would silently mix two vector spaces, is refused instead.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from bedside.errors import InvalidInput, UpstreamError
from bedside.index.embedder import check_texts, normalise_
from bedside.index.protocols import F32

PROBE_TEXT = "Ferritin below 30 micrograms per litre confirms iron deficiency in adults."
PROBE_AGREEMENT = 0.99  # the least cosine between a recorded probe vector and today's for the same model
MAX_RETRY_AFTER_S = 30.0


def api_url(base_url: str, path: str, what: str) -> str:
    """The URL of an OpenAI-compatible endpoint (`path`: "/embeddings", "/chat/completions") for a base URL as users
    write it: one already ending in `path` as it is; one whose path has a version segment (/v1, /v1beta, ...) with
    `path` added; any other (a bare host such as http://localhost:11434) with /v1 and `path` added. `what` names the
    setting in the error for a malformed one."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InvalidInput(f"{what} must look like http(s)://host[:port][/path]")
    if parts.path.endswith(path):
        return url
    if re.search(r"/v\d+[a-z0-9]*(?:/|$)", parts.path):
        return url + path
    return url + "/v1" + path


def embeddings_url(base_url: str) -> str:
    """The embeddings URL for a base URL as users write it (see `api_url`)."""
    return api_url(base_url, "/embeddings", "the embeddings base URL")


class _Retryable(Exception):
    """A failure worth another try; `wait` is what the server asked for, if anything."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class EndpointEmbedder:
    """Embeddings from an OpenAI-compatible endpoint, L2-normalised here (endpoints differ on whether they do)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        *,
        timeout: float = 60.0,
        batch_size: int = 64,
        retries: int = 4,
        backoff: float = 0.5,
        query_instruction: str = "",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not model.strip():
            raise InvalidInput("the embeddings endpoint needs a model name (BEDSIDE_EMBEDDER_MODEL)")
        if batch_size < 1 or retries < 0 or timeout <= 0:
            raise InvalidInput("embeddings batch size must be at least 1, retries at least 0, the timeout positive")
        import httpx  # a dependency of bedside, imported here only to keep the start of every command quick

        self.url = embeddings_url(base_url)
        self.model = model.strip()
        self.name = f"endpoint:{self.model}"
        self.batch_size = batch_size
        self.retries = retries
        self.backoff = backoff
        self.query_instruction = query_instruction
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=timeout, headers=headers)
        self._httpx = httpx
        self.dim = 0  # set by the probe below: the endpoint says what dimension it serves
        try:
            self.probe: F32 = self._batch([PROBE_TEXT])[0]
        except BaseException:
            self._http.close()
            raise
        self.dim = int(self.probe.shape[0])

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def digest(self) -> str:
        """See `Embedder.digest`: the model name, dimension and probe vector (rounded) of this endpoint."""
        rounded = np.round(self.probe.astype(np.float64), 3).tobytes()
        return f"{self.name}:{self.dim}:{hashlib.blake2b(rounded, digest_size=8).hexdigest()}"

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> F32:
        """See `Embedder.embed`. Requests carry `self.batch_size` texts each (the endpoint's own batch setting);
        `batch_size` is accepted for interface compatibility."""
        check_texts(texts, batch_size)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            part = list(texts[start : start + self.batch_size])
            out[start : start + len(part)] = self._batch(part, start)
        return out

    def embed_query(self, text: str) -> F32:
        """See `Embedder.embed_query`: the model's query instruction, if it has one, then the question."""
        row: F32 = self.embed([self.query_instruction + text])[0]
        return row

    # -- one request ---------------------------------------------------------------------------------------------

    def _batch(self, texts: list[str], offset: int = 0) -> F32:
        where = f"embeddings endpoint {self.url} (texts {offset + 1}-{offset + len(texts)})"
        for attempt in range(self.retries + 1):
            try:
                return self._request(texts, where)
            except _Retryable as exc:
                if attempt == self.retries:
                    raise UpstreamError(f"{where} failed after {attempt + 1} tries: {exc}") from None
                wait = self.backoff * 2**attempt
                if exc.wait is not None:
                    wait = max(wait, min(exc.wait, MAX_RETRY_AFTER_S))
                self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(self, texts: list[str], where: str) -> F32:
        httpx = self._httpx
        payload = {"model": self.model, "input": texts, "encoding_format": "float"}
        try:
            response = self._http.post(self.url, json=payload)
        except httpx.TimeoutException:
            raise _Retryable("timed out") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection failed ({type(exc).__name__})") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}", _retry_after(response.headers.get("retry-after")))
        if response.status_code != 200:
            raise UpstreamError(f"{where}: HTTP {response.status_code}: {_snippet(response.text)}")
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _Retryable(f"the reply is not JSON: {_snippet(response.text)}") from None
        return self._vectors(body, len(texts), where)

    def _vectors(self, body: Any, n: int, where: str) -> F32:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != n:
            got = len(data) if isinstance(data, list) else "no"
            raise _Retryable(f"malformed reply: expected {n} embeddings in 'data', got {got}")
        rows: list[tuple[int, list[Any]]] = []
        for i, item in enumerate(data):
            vector = item.get("embedding") if isinstance(item, dict) else None
            index = item.get("index", i) if isinstance(item, dict) else i
            if not isinstance(vector, list) or not isinstance(index, int) or not 0 <= index < n:
                raise _Retryable(f"malformed reply: item {i} has no embedding list and valid index")
            rows.append((index, vector))
        if sorted(i for i, _ in rows) != list(range(n)):
            raise _Retryable("malformed reply: the embeddings' indexes do not cover the inputs once each")
        rows.sort(key=lambda r: r[0])
        dims = {len(v) for _, v in rows}
        expected = self.dim or next(iter(dims))
        if dims != {expected} or expected == 0:
            raise UpstreamError(
                f"{where}: embeddings of dimension {sorted(dims)} from model {self.model!r}, expected {expected}: "
                "the endpoint serves another model than the one this index was built with"
            )
        try:
            out = np.array([v for _, v in rows], dtype=np.float32)
        except (TypeError, ValueError):
            raise _Retryable("malformed reply: an embedding holds something other than numbers") from None
        if not np.all(np.isfinite(out)):
            raise _Retryable("malformed reply: an embedding holds a non-finite number")
        return normalise_(out)


def check_probe(embedder: EndpointEmbedder, recorded: str | None) -> str:
    """The probe to record (as JSON); InvalidInput when `recorded` (from an earlier run of this data) disagrees with
    what the endpoint serves now under the same model name."""
    if recorded:
        before = np.asarray(json.loads(recorded), dtype=np.float32)
        agreement = float(before @ embedder.probe) if before.shape == embedder.probe.shape else -1.0
        if agreement < PROBE_AGREEMENT:
            raise InvalidInput(
                f"embeddings endpoint {embedder.url} serves different vectors for model {embedder.model!r} than those "
                f"this knowledge base was indexed with (probe agreement {agreement:.3f}); point it at the same model, "
                "or give the new one another name so the dense index is rebuilt"
            )
    return json.dumps([round(float(x), 6) for x in embedder.probe])


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
