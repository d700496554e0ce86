"""The sentence rerank stage: splitting, the MaxSim blend, the sentence-vector cache and the searcher switch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bedside.index.embedder import HashingEmbedder
from bedside.index.hybrid import FusionConfig
from bedside.index.sentence_vectors import SentenceVectors, maxsim_rerank, split_sentences


class CountingEmbedder(HashingEmbedder):
    """Counts the texts it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        self.calls.append(len(texts))
        return super().embed(texts, batch_size=batch_size)


def test_split_sentences_breaks_before_capitals_and_digits_only():
    text = "Iron deficiency is common. 30% of women are affected (n = 12). Oral iron, e.g. ferrous sulfate, helps."
    assert split_sentences(text) == [
        "Iron deficiency is common.",
        "30% of women are affected (n = 12).",
        "Oral iron, e.g. ferrous sulfate, helps.",
    ]
    assert split_sentences("  ") == []


def test_maxsim_lifts_the_passage_with_one_matching_sentence():
    q = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    sentences = {
        1: np.array([[0.3, 0.95, 0.0], [0.3, 0.0, 0.95]], dtype=np.float32),  # no sentence says it
        2: np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=np.float32),  # one sentence says exactly it
        3: np.array([[0.0, 0.0, 1.0]], dtype=np.float32),
    }
    scores = {1: 0.9, 2: 0.7, 3: 0.5}
    blended = maxsim_rerank(scores, q, sentences, weight=0.5)
    assert max(blended, key=blended.__getitem__) == 2
    kept = maxsim_rerank(scores, q, sentences, weight=0.0)
    assert sorted(kept, key=kept.__getitem__, reverse=True) == [1, 2, 3]
    missing = maxsim_rerank({1: 0.5, 4: 0.5}, q, sentences, weight=1.0)
    assert missing[1] > missing[4]  # no sentence vectors: least similar
    assert maxsim_rerank({}, q, sentences, weight=0.5) == {}


def test_sentence_vectors_are_embedded_once_and_cached(tmp_path):
    embedder = CountingEmbedder()
    store = SentenceVectors(tmp_path / "sentences.sqlite", embedder)
    texts = {7: "Colchicine treats gout flares. It is given early.", 8: "Calcium gluconate protects the heart."}
    first = store.vectors_for(texts)
    assert first[7].shape == (2, embedder.dim) and first[8].shape == (1, embedder.dim)
    assert np.allclose(np.linalg.norm(first[7], axis=1), 1.0, atol=1e-2)
    assert store.vectors_for(texts)[7].shape == (2, embedder.dim)
    assert embedder.calls == [3]
    assert store.warm([*texts.values(), "A new passage."]) == 1
    store.close()
    reopened = SentenceVectors(tmp_path / "sentences.sqlite", embedder)
    assert np.allclose(reopened.vectors_for({1: texts[8]})[1], first[8])
    assert embedder.calls == [3, 1]
    reopened.close()

    other = CountingEmbedder()
    other.name = "another-model"
    switched = SentenceVectors(tmp_path / "sentences.sqlite", other)
    assert switched.warm(texts.values()) == 2  # nothing of the other model is reused
    switched.close()


def test_search_with_the_rerank_switch(tmp_path):
    """Weight 0 reproduces the hybrid ranking; a positive weight reorders only within the rerank window."""
    from bedside import Bedside

    with Bedside(data_dir=tmp_path / "d", starter_kb=True) as b:
        b.ensure_starter_kb()
        assert b.sentences is not None
        for q in ("iron deficiency anaemia oral iron dose", "gout flare colchicine"):
            plain = b.searcher.search(q, 10, None, FusionConfig(priors=False))
            same = b.searcher.search(q, 10, None, FusionConfig(priors=False, rerank_depth=30, rerank_weight=0.0))
            assert [h.passage_id for h in same] == [h.passage_id for h in plain]
            window = {h.passage_id for h in b.searcher.search(q, 5, None, FusionConfig(priors=False))}
            reranked = b.searcher.search(q, 8, None, FusionConfig(rerank_depth=5, rerank_weight=0.5))
            assert {h.passage_id for h in reranked[:5]} <= window | {h.passage_id for h in plain[5:]}
            assert [h.score for h in reranked] == sorted((h.score for h in reranked), reverse=True)


def test_the_rerank_cuts_sentences_with_bedsides_one_splitter():
    """An abbreviation inside a citation ("No. RR-3") or a figure ("Fig. 2") does not end a sentence."""
    from bedside.index.sentence_vectors import split_sentences

    text = "CDC guidance (MMWR Recomm Rep 2021, No. RR-3) gives the schedule. Fig. 2 shows it.\n\n- Give 2 mg daily."
    assert split_sentences(text) == [
        "CDC guidance (MMWR Recomm Rep 2021, No. RR-3) gives the schedule.",
        "Fig. 2 shows it.",
        "- Give 2 mg daily.",
    ]
