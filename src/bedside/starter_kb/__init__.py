"""The starter knowledge base: guideline digests shipped with bedside, loaded on first use."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import numpy as np

DIGESTS = Path(__file__).parent / "digests"
# Precomputed passage vectors, one file per model (bedside.starter_kb.build_vectors writes them).
VECTOR_FILES = {
    "all-MiniLM-L6-v2": Path(__file__).parent / "vectors.npz",
    "bge-small-en-v1.5": Path(__file__).parent / "vectors-bge-small.npz",
}


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


@cache
def shipped_vectors(model: str) -> dict[str, np.ndarray]:
    """Precomputed passage vectors for the digests, by passage-text hash, when some were shipped for `model`."""
    path = VECTOR_FILES.get(model)
    if path is None or not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as data:
        if str(data["model"]) != model:
            return {}
        return dict(zip((str(h) for h in data["hashes"]), np.asarray(data["vectors"], dtype=np.float32), strict=True))
