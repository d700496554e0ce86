"""Dense text embedders: the protocol, a hashing stand-in, and `load_embedder`, which knows bedside's one model,
bge-small-en-v1.5 run through ONNX Runtime (`bedside.index.bge`).

`HashingEmbedder` needs nothing beyond NumPy and is meant for unit tests and installs without the model.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from bedside.errors import InvalidInput

F32 = npt.NDArray[np.float32]
EMBEDDERS = ("bge-small", "hashing", "none")


def normalise_(x: F32) -> F32:
    """Scale each row to unit length in place (an all-zero row stays zero); return x."""
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.float32(1e-12))
    return x


class Embedder(Protocol):
    """Maps texts to unit-length float32 vectors whose dot product is their cosine similarity. A text with nothing
    to embed (HashingEmbedder: no word characters) may map to the zero vector."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> F32:
        """Return shape (len(texts), dim), float32, one L2-normalised row per text, in input order."""
        ...

    def digest(self) -> str:
        """Return the identity of what computes the vectors (a model's files); equal digests, equal vectors up to
        the runtime's rounding."""
        ...

    def embed_query(self, text: str) -> F32:
        """Return shape (dim,): the vector of a search query. For most models the row `embed([text])` would give;
        a model trained with a query instruction (bge-small) adds it here."""
        ...


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
