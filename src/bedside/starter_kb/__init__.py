"""The starter knowledge base: guideline digests shipped with bedside, loaded on first use."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import numpy as np

DIGESTS = Path(__file__).parent / "digests"
VECTORS = Path(__file__).parent / "vectors.npz"


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
    """Precomputed passage vectors for the digests, by passage-text hash, when they match `model`."""
    if not VECTORS.exists():
        return {}
    with np.load(VECTORS, allow_pickle=False) as data:
        if str(data["model"]) != model:
            return {}
        return dict(zip((str(h) for h in data["hashes"]), np.asarray(data["vectors"], dtype=np.float32), strict=True))
