"""The starter knowledge base: guideline digests shipped with bedside, loaded on first use."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np

from bedside.index.protocols import Embedder

DIGESTS = Path(__file__).parent / "digests"
# Precomputed passage vectors for bedside's model (bedside.starter_kb.build_vectors writes them).
VECTOR_FILE = Path(__file__).parent / "vectors-bge-small.npz"
# The smallest cosine between a shipped vector and the same text embedded afresh that counts as the same vector.
# Measured with bench/drift.py on the starter passages: one runtime agrees with itself to 0.9999998 (float16
# storage, any thread count), while ONNX Runtime 1.20.1, 1.28.0 and 1.32.0 agree with each other only to min 0.9975
# (median 0.9989), and that already moves dense retrieval's top passage for 3-4 of the 58 dev questions. So another
# runtime's output counts as drift, and the starter passages are embedded afresh (about 8 s, once).
DRIFT_TOLERANCE = 0.9995


def digest_files() -> list[Path]:
    """The shipped digest files, sorted by name."""
    return sorted(DIGESTS.glob("*.md"))


def fingerprint() -> str:
    """A hash of every shipped digest's name and content: it changes whenever a digest does."""
    h = hashlib.sha256()
    for path in digest_files():
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


class ShippedVectors(Mapping[str, np.ndarray]):
    """The shipped passage vectors by passage-text hash, read on first use and only when they are the vectors this
    embedder computes: the same model files (by digest) and a runtime whose output on the shipped probe texts is
    within DRIFT_TOLERANCE. Otherwise it is empty, `on_reject` hears why, and the passages are embedded afresh."""

    def __init__(self, embedder: Embedder, on_reject: Callable[[str], None] | None = None) -> None:
        self.embedder = embedder
        self.on_reject = on_reject
        self._vectors: dict[str, np.ndarray] | None = None

    def __getitem__(self, key: str) -> np.ndarray:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def _load(self) -> dict[str, np.ndarray]:
        if self._vectors is None:
            self._vectors = self._read()
        return self._vectors

    def _read(self) -> dict[str, np.ndarray]:
        if not VECTOR_FILE.exists():
            return {}
        with np.load(VECTOR_FILE, allow_pickle=False) as data:
            if str(data["model"]) != self.embedder.name:
                return {}
            if str(data["digest"]) != self.embedder.digest():
                return self._reject("the installed model files differ from those the starter vectors were made with")
            probes = [str(t) for t in data["probe_texts"]]
            expected = np.asarray(data["probe_vectors"], dtype=np.float32)
            vectors = dict(zip((str(h) for h in data["hashes"]), np.asarray(data["vectors"], np.float32), strict=True))
        agreement = float(np.min(np.sum(self.embedder.embed(probes) * expected, axis=1)))
        if agreement < DRIFT_TOLERANCE:
            return self._reject(f"this runtime's vectors differ from the shipped ones (cosine {agreement:.4f})")
        return vectors

    def _reject(self, why: str) -> dict[str, np.ndarray]:
        if self.on_reject is not None:
            self.on_reject(f"{why}; embedding the starter knowledge base afresh")
        return {}


def shipped_vectors(embedder: Embedder, on_reject: Callable[[str], None] | None = None) -> Mapping[str, np.ndarray]:
    """The shipped vectors `embedder` may use instead of embedding the starter passages (see ShippedVectors)."""
    return ShippedVectors(embedder, on_reject)
