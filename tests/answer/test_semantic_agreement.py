"""Agreement in meaning: with a sentence embedder, the composer favours what the evidence as a whole says."""

import threading

import numpy as np
import pytest

from bedside.answer.candidates import candidates
from bedside.answer.centrality import semantic_centrality, sentence_vectors
from bedside.answer.evidence import EvidencePassage
from bedside.answer.extractive import compose
from bedside.answer.question import plan
from bedside.index.embedder import HashingEmbedder
from bedside.index.sentence_vectors import CachedEmbeddings
from bedside.model import DocumentId, EvidenceType, PassageId

# Three sources agree that the drug lowers blood pressure; one sentence of the first says something else.
PASSAGES = {
    "a": "Amlodipine lowers systolic blood pressure in adults with hypertension. "
    "Amlodipine tablets are white and round.",
    "b": "In adults with hypertension, amlodipine reduces blood pressure over 8 weeks.",
    "c": "Blood pressure in hypertension fell with amlodipine compared with placebo.",
}


def _passage(key: str, text: str) -> EvidencePassage:
    return EvidencePassage(
        passage_id=PassageId(f"{key}#0"),
        document_id=DocumentId(key),
        text=text,
        start=0,
        title=f"Study {key}",
        evidence_type=EvidenceType.RESEARCH,
        year=2020,
        source="Journal",
    )


def _evidence():
    return [_passage(k, t) for k, t in PASSAGES.items()]


class TopicEmbedder:
    """Two axes: 'blood pressure' and 'appearance'; stands in for a model that knows what sentences mean."""

    name = "topic"
    dim = 2

    def __init__(self):
        self.calls = 0

    def embed(self, texts, *, batch_size=32):
        self.calls += 1
        rows = []
        for t in texts:
            v = np.array([1.0 if "pressure" in t else 0.05, 1.0 if "white" in t else 0.05], dtype=np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.array(rows, dtype=np.float32).reshape(len(texts), 2)

    def embed_query(self, text):
        return self.embed([text])[0]


def test_sentences_that_agree_in_meaning_score_higher():
    cands = candidates(_evidence())
    scores = semantic_centrality(sentence_vectors(cands, TopicEmbedder().embed))
    odd = next(i for i, c in enumerate(cands) if "white" in c.text)
    assert all(scores[odd] < s for i, s in enumerate(scores) if i != odd)


def test_with_an_embedder_every_statement_is_still_a_cited_source_sentence():
    q = plan("What does amlodipine do in hypertension?")
    plain = compose(q, _evidence())
    semantic = compose(q, _evidence(), embed=TopicEmbedder().embed)
    for answer in (plain, semantic):
        texts = [s.text for s in answer.statements()]
        assert texts and all(s.citations for s in answer.statements())
        assert all(any(t[1:] in p for p in PASSAGES.values()) for t in texts)
    assert "white" not in semantic.bottom_line[0].text


def test_a_wrongly_shaped_embedding_is_an_error_not_a_silent_score():
    cands = candidates(_evidence())
    with pytest.raises(ValueError, match="shape"):
        sentence_vectors(cands, lambda texts: np.zeros((1, 4), dtype=np.float32))


def test_cache_embeds_each_text_once_and_keeps_order():
    inner = TopicEmbedder()
    cached = CachedEmbeddings(inner, capacity=3)
    first = cached(["blood pressure", "white tablet"])
    again = cached(["white tablet", "blood pressure"])
    assert inner.calls == 1
    assert np.array_equal(first[::-1], again)
    cached(["a", "b", "c", "d"])  # over capacity: the oldest are evicted, results still complete
    assert cached(["blood pressure"]).shape == (1, 2)


def test_cache_is_safe_under_threads():
    cached = CachedEmbeddings(HashingEmbedder(), capacity=50)
    texts = [f"sentence number {i}" for i in range(200)]
    expected = HashingEmbedder().embed(texts)
    errors = []

    def worker(offset):
        for start in range(offset, 200, 7):
            got = cached(texts[start : start + 5])
            if not np.allclose(got, expected[start : start + 5]):
                errors.append(start)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_the_setting_turns_the_composer_embedder_on(tmp_path, monkeypatch):
    from bedside import Bedside
    from bedside.config import load_settings

    def open_with(**kw):
        return Bedside(settings=load_settings(data_dir=tmp_path / "d", starter_kb=False, **kw))

    with open_with(embedder="hashing", answer_semantic=True) as b:
        assert b.sentence_embed is None  # hashing vectors carry no meaning
    with open_with(embedder="hashing") as b:
        assert b.sentence_embed is None
        topic = TopicEmbedder()
        b.sentence_embed = CachedEmbeddings(topic)  # as answer_semantic would with a real model
        answer = b.ask(
            "What does amlodipine do in hypertension?", evidence=[{"id": k, "text": t} for k, t in PASSAGES.items()]
        )
        assert topic.calls == 1 and answer.statements()
