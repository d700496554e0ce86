"""Precompute the starter knowledge base's passage vectors: `python -m bedside.starter_kb.build_vectors`.

Run after changing any digest; the package ships the results (one file per model, see VECTOR_FILES) so a fresh
install answers its first question without embedding hundreds of passages. A test fails when the shipped vectors no
longer match.
"""

from __future__ import annotations

import tempfile

import numpy as np

from bedside import starter_kb
from bedside.config import load_settings
from bedside.engine import Bedside
from bedside.index.bge import BgeSmallEmbedder
from bedside.index.embedder import Embedder, MiniLmEmbedder
from bedside.index.vectors import text_hash


def build(embedder: Embedder) -> int:
    """Write the embedder's file of starter vectors; returns the number of vectors."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        Bedside(settings=load_settings(data_dir=tmp, starter_kb=True, embedder="none")) as b,
    ):
        b.ensure_starter_kb()
        rows = b.store.index_rows(None)
    texts = list(dict.fromkeys(r.embedding_text for r in rows))
    vectors = embedder.embed(texts).astype(np.float16)  # half precision: cosine changes by < 1e-3
    hashes = np.array([text_hash(t) for t in texts])
    path = starter_kb.VECTOR_FILES[embedder.name]
    np.savez_compressed(path, model=np.array(embedder.name), hashes=hashes, vectors=vectors)
    return len(texts)


if __name__ == "__main__":
    for model in (MiniLmEmbedder(), BgeSmallEmbedder()):
        print(f"wrote {build(model)} vectors to {starter_kb.VECTOR_FILES[model.name]}")
