"""Dense text embedders: a hashing stand-in, and `load_embedder`, which knows bedside's one model, bge-small-en-v1.5
run through ONNX Runtime (`bedside.index.bge`). Their protocol, `Embedder`, is in `bedside.index.protocols`.

`HashingEmbedder` needs nothing beyond NumPy and is meant for unit tests and installs without the model.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence

import numpy as np

from bedside.errors import InvalidInput
from bedside.index.protocols import F32, Embedder

EMBEDDERS = ("bge-small", "hashing", "none")


def normalise_(x: F32) -> F32:
    """Scale each row to unit length in place (an all-zero row stays zero); return x."""
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.float32(1e-12))
    return x


def check_texts(texts: Sequence[str], batch_size: int) -> None:
    if isinstance(texts, str):
        # A str is a Sequence[str] too, and would silently embed one character per row.
        raise InvalidInput("embed() takes a sequence of texts, not a single string; use embed_query()")
    if batch_size < 1:
        raise InvalidInput(f"batch_size must be at least 1, got {batch_size}")


# --- hashing -----------------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Signed feature hashing of lowercased word unigrams and bigrams; deterministic across runs and platforms.

    A text with no word characters maps to the zero vector (it cannot be normalised); every other row has unit norm.
    """

    def __init__(self, dim: int = 384) -> None:
        if dim < 1:
            raise InvalidInput(f"dim must be at least 1, got {dim}")
        self.dim = dim
        self.name = f"hashing-{dim}"

    def digest(self) -> str:
        """See `Embedder.digest`: the algorithm is the whole model."""
        return self.name

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> F32:
        """See `Embedder.embed`; batch_size is accepted for interface compatibility and has no effect."""
        check_texts(texts, batch_size)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            self._fill(out[row], text)
        return out

    def embed_query(self, text: str) -> F32:
        """See `Embedder.embed_query`."""
        row: F32 = self.embed([text])[0]
        return row

    def _fill(self, row: F32, text: str) -> None:
        words = _WORD.findall(text.lower())
        features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        for feature in features:
            # blake2b rather than hash(): Python's str hash is salted per process, so vectors would not persist.
            h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
            row[(h >> 1) % self.dim] += 1.0 if h & 1 else -1.0
        norm = float(np.linalg.norm(row))
        if norm > 0.0:
            row /= norm


def load_embedder(name: str) -> Embedder | None:
    """The embedder a setting names: bge-small -> BgeSmallEmbedder, hashing -> HashingEmbedder, none -> None (no
    dense retrieval). Raises InvalidInput for any other name, BackendUnavailable when the model is not installed."""
    key = name.strip().lower()
    if key == "minilm":
        raise InvalidInput("the minilm embedder was removed: bge-small is bedside's model (BEDSIDE_EMBEDDER=bge-small)")
    if key == "bge-small":
        from bedside.index.bge import BgeSmallEmbedder

        return BgeSmallEmbedder()
    if key == "hashing":
        return HashingEmbedder()
    if key == "none":
        return None
    raise InvalidInput(f"unknown embedder {name!r}; allowed: {', '.join(EMBEDDERS)}")
