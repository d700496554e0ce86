"""Precompute the starter knowledge base's passage vectors: `python -m bedside.starter_kb.build_vectors`.

Run after changing any digest or the model; the package ships the result (VECTOR_FILE) so a fresh install answers
its first question without embedding hundreds of passages. The file records the model's name and file digest, the
runtime that computed it, and a few probe texts with their full-precision vectors: a user's install checks those
against what its own runtime computes (ShippedVectors). A test fails when the shipped vectors no longer cover the
digests.
"""

from __future__ import annotations

import importlib.metadata
import tempfile

import numpy as np

from bedside import starter_kb
from bedside.config import load_settings
from bedside.facade import Bedside
from bedside.index.bge import BgeSmallEmbedder
from bedside.index.protocols import Embedder
from bedside.index.vectors import text_hash

PROBES = 4  # texts whose vectors a user's runtime recomputes to check it computes the same ones


def build(embedder: Embedder) -> int:
    """Write the starter vectors for `embedder`; returns the number of vectors."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        Bedside(settings=load_settings(data_dir=tmp, starter_kb=True, embedder="none")) as b,
    ):
        b.ensure_starter_kb()
        rows = b.index_rows()
    texts = list(dict.fromkeys(r.embedding_text for r in rows))
    full = embedder.embed(texts)
    probes = [texts[i] for i in np.linspace(0, len(texts) - 1, PROBES).astype(int)]
    np.savez_compressed(
        starter_kb.VECTOR_FILE,
        model=np.array(embedder.name),
        digest=np.array(embedder.digest()),
        runtime=np.array(f"onnxruntime {importlib.metadata.version('onnxruntime')}"),
        hashes=np.array([text_hash(t) for t in texts]),
        vectors=full.astype(np.float16),  # half precision: cosine changes by < 1e-6
        probe_texts=np.array(probes),
        probe_vectors=embedder.embed(probes),
    )
    return len(texts)


if __name__ == "__main__":
    print(f"wrote {build(BgeSmallEmbedder())} vectors to {starter_kb.VECTOR_FILE}")
