"""Precompute the starter knowledge base's passage vectors: `python -m bedside.starter_kb.build_vectors`.

Run after changing any digest; the package ships the result (vectors.npz) so a fresh install answers its first
question without embedding hundreds of passages. A test fails when the shipped vectors no longer match.
"""

from __future__ import annotations

import tempfile

import numpy as np

from bedside import starter_kb
from bedside.config import load_settings
from bedside.engine import Bedside
from bedside.index.embedder import MiniLmEmbedder
from bedside.index.vectors import text_hash


def build() -> int:
    """Write starter_kb/vectors.npz; returns the number of vectors."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        Bedside(settings=load_settings(data_dir=tmp, starter_kb=True, embedder="none")) as b,
    ):
        b.ensure_starter_kb()
        rows = b.store.index_rows(None)
    texts = list(dict.fromkeys(r.embedding_text for r in rows))
    embedder = MiniLmEmbedder()
    vectors = embedder.embed(texts).astype(np.float16)  # half precision: cosine changes by < 1e-3
    np.savez_compressed(
        starter_kb.VECTORS, model=np.array(embedder.name), hashes=np.array([text_hash(t) for t in texts]),
        vectors=vectors,
    )  # fmt: skip
    return len(texts)


if __name__ == "__main__":
    print(f"wrote {build()} vectors to {starter_kb.VECTORS}")
