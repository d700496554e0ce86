"""One huge document is never one all-or-nothing embedding step: vectors are embedded and committed in bounded
batches, and a sync interrupted part-way resumes with only the passages not yet embedded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bedside.index import vectors
from bedside.index.embedder import HashingEmbedder
from bedside.index.vectors import VectorIndex
from bedside.ingest import chunk
from bedside.ingest.builder import TextBuilder
from bedside.model import Document, DocumentId
from bedside.store import KnowledgeStore, SqliteKnowledgeStore


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, recording each call's size; fails on call number `fail_on` (1-based) if given."""

    def __init__(self, fail_on: int | None = None) -> None:
        super().__init__()
        self.calls: list[int] = []
        self.fail_on = fail_on

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        self.calls.append(len(texts))
        if self.fail_on is not None and len(self.calls) == self.fail_on:
            raise KeyboardInterrupt  # the process is stopped part-way
        return super().embed(texts, batch_size=batch_size)


def _huge(tmp_path: Path) -> KnowledgeStore:
    builder = TextBuilder()
    for i in range(400):
        builder.paragraph(f"Paragraph {i} records a dose of {i} mg of drug number {i * 7} for condition {i % 13}. " * 6)
    text, blocks = builder.build()
    doc = Document(DocumentId("huge"), title="A very long record", text=text, blocks=blocks)
    store = SqliteKnowledgeStore(tmp_path / "kb.sqlite")
    store.write([(doc, chunk(doc))])
    return store


def test_a_huge_document_is_embedded_in_bounded_committed_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "EMBED_BATCH", 64)
    store = _huge(tmp_path)
    passages = len(store.passages_of("huge"))
    assert passages > 3 * 64
    embedder = CountingEmbedder(fail_on=3)
    index = VectorIndex(tmp_path / "vectors", embedder)
    with pytest.raises(KeyboardInterrupt):
        index.sync(store)
    assert embedder.calls[:2] == [64, 64] and index.watermark() == 0
    index.close()

    resumed = CountingEmbedder()
    index = VectorIndex(tmp_path / "vectors", resumed)
    report = index.sync(store)
    assert max(resumed.calls) <= 64 and sum(resumed.calls) == passages - 128  # the two committed batches reused
    assert report.extras["embedded"] == passages - 128 and index.count() == passages
    assert index.watermark() == store.last_change()
    assert index.search("dose of 17 mg of drug number 119", 1)
    index.close()
    store.close()
