"""The Milvus backends beyond the shared index contract (tests/index/test_contract.py): bedside's analysis carried
intact, the BM25 sign, the optional capabilities, and a whole `Bedside` on Milvus (Milvus Lite here;
BEDSIDE_TEST_MILVUS_URI points the same tests at a server)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from bedside.index.embedder import HashingEmbedder
from bedside.index.milvus import MilvusDenseIndex, MilvusLexicalIndex, connect
from bedside.index.milvus_collection import analysed_tokens, filter_expression, quote, term_token
from bedside.index.protocols import Filters
from bedside.ingest import chunk
from bedside.ingest.builder import TextBuilder
from bedside.model import Document, DocumentId, EvidenceType
from bedside.store import SqliteKnowledgeStore
from bedside.text.analysis import analyze

if os.environ.get("CI") == "true":
    import pymilvus  # noqa: F401 - CI=true must run these: fail here when the milvus extra is missing
else:
    pytest.importorskip("pymilvus", reason="the milvus extra is not installed")


def _uri(tmp_path: Path) -> str:
    return os.environ.get("BEDSIDE_TEST_MILVUS_URI") or str(tmp_path / "milvus.db")


def _name(tmp_path: Path) -> str:
    return "t_" + hashlib.blake2b(str(tmp_path).encode(), digest_size=6).hexdigest()


def _doc(doc_id: str, title: str, text: str, etype=EvidenceType.RESEARCH, year=2020, source="J") -> Document:
    b = TextBuilder()
    b.paragraph(text)
    body, blocks = b.build()
    return Document(
        DocumentId(doc_id), title=title, text=body, blocks=blocks, evidence_type=etype, year=year, source=source
    )


DOCS = [
    _doc("a1c", "HbA1c thresholds", "An HbA1c of 6.5% or more confirms diabetes.", EvidenceType.GUIDELINE, 2019),
    _doc("six", "Six and five", "Six patients and five controls were enrolled in 2019.", year=2021),
    _doc("b12", "Vitamin B12 deficiency", "Hydroxocobalamin 1 mg IM treats vitamin B12 deficiency.", year=2014),
    _doc("ida", "Iron deficiency anaemia", "Ferrous sulfate 200 mg daily treats iron deficiency anaemia.", year=2021),
    _doc("gout", "Gout flares", "Colchicine treats acute gout flares.", EvidenceType.REVIEW, 2020, "ACR"),
]


@pytest.fixture
def backend(tmp_path):
    store = SqliteKnowledgeStore(tmp_path / "kb.sqlite")
    store.write([(d, chunk(d)) for d in DOCS])
    client = connect(_uri(tmp_path))
    lexical = MilvusLexicalIndex(_uri(tmp_path), _name(tmp_path), store, client)
    dense = MilvusDenseIndex(_uri(tmp_path), _name(tmp_path), store, HashingEmbedder(), client)
    lexical.sync(store)
    dense.sync(store)
    yield store, lexical, dense
    for index in (lexical, dense):
        client.drop_collection(index.collection)
    client.close()
    store.close()


def _docs(store, candidates) -> list[str]:
    passages = store.passages_by_seq([c.seq for c in candidates])
    return [passages[c.seq].document_id for c in candidates]


def test_terms_travel_whole_and_filters_quote_their_values():
    assert analysed_tokens("HbA1c 6.5%") == " ".join(term_token(t) for t in analyze("HbA1c 6.5%")) != ""
    assert "6.5" in analyze("HbA1c 6.5%")
    assert term_token("6.5").isalnum() and term_token("6.5") != term_token("65")
    assert quote('a"b\\c') == '"a\\"b\\\\c"'
    expression = filter_expression(
        Filters(evidence_types=frozenset({EvidenceType.GUIDELINE}), year_min=2010, document_ids=frozenset({'x"y'}))
    )
    assert expression == '(etype in ["guideline"]) and (year >= 2010 and year > 0) and (doc in ["x\\"y"])'


def test_bedside_analysis_is_kept_and_scores_are_positive_best_first(backend):
    """'6.5' stays one term (Milvus's own tokenizer would find '6' and '5' in the other document), and the BM25
    scores come back as scores (Milvus Lite reports minus the score as a distance)."""
    store, lexical, _ = backend
    hits = lexical.search("HbA1c 6.5", 5)
    assert _docs(store, hits) == ["a1c"]
    ranked = lexical.search("iron deficiency anaemia ferrous", 5)
    assert _docs(store, ranked)[0] == "ida" and all(c.score > 0 for c in ranked)
    assert [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)
    assert lexical.known(["hba1c", "6.5", "nonexistentterm"]) == frozenset({"hba1c", "6.5"})


def test_filters_run_inside_milvus(backend):
    store, lexical, dense = backend
    q = "treats deficiency flares diabetes"
    for index in (lexical, dense):
        assert set(_docs(store, index.search(q, 10, Filters(year_max=2015)))) == {"b12"}
        assert set(_docs(store, index.search(q, 10, Filters(sources=frozenset({"acr"}))))) == {"gout"}
        only = Filters(document_ids=frozenset({"ida", "gout"}))
        assert set(_docs(store, index.search(q, 10, only))) <= {"ida", "gout"}


def test_the_capabilities_match_what_the_store_says(backend):
    from bedside.index.hybrid import title_focus
    from bedside.text.analysis import analyze

    store, _, dense = backend
    seqs = store.seqs()
    passages = store.passages_by_seq(seqs)
    heads = store.document_heads([p.document_id for p in passages.values()])
    facts = dense.facts(seqs)
    terms = set(analyze("iron deficiency in gout"))
    focus = dense.focus(seqs, terms)
    for seq in seqs:
        doc = heads[passages[seq].document_id]
        assert facts[seq] == (doc.evidence_type, doc.year)
        assert focus[seq] == pytest.approx(title_focus(terms, doc.title))


def test_a_model_change_empties_the_dense_collection(backend, tmp_path):
    store, _, dense = backend

    other = HashingEmbedder()
    other.name = "hashing-other"
    again = MilvusDenseIndex(_uri(tmp_path), _name(tmp_path), store, other, dense.client)
    assert again.count() == 0 and again.watermark() == 0
    again.sync(store)
    assert again.count() == store.counts()[1]


def test_bedside_runs_on_milvus_and_finds_the_same_documents(tmp_path, monkeypatch):
    """BEDSIDE_SEARCH_BACKEND=milvus: ingest, search, remove and the integrity check, through the public object."""
    from bedside import Bedside
    from bedside.config import load_settings
    from bedside.ops.integrity import check_lexical, check_vectors

    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n" for d in DOCS))
    monkeypatch.setenv("BEDSIDE_SEARCH_BACKEND", "milvus")
    monkeypatch.setenv("BEDSIDE_MILVUS_URI", _uri(tmp_path))
    monkeypatch.setenv("BEDSIDE_MILVUS_COLLECTION", _name(tmp_path))
    settings = load_settings(data_dir=tmp_path / "data", starter_kb=False)
    with Bedside(settings=settings) as b:
        assert isinstance(b.lexical, MilvusLexicalIndex) and isinstance(b.dense, MilvusDenseIndex)
        assert b.ingest([corpus]).added == len(DOCS)
        assert [h.document_id for h in b.search("hydroxocobalamin vitamin B12", limit=1)] == ["b12"]
        assert check_lexical(b).ok and check_vectors(b).ok
        b.remove("b12")
        assert "b12" not in {h.document_id for h in b.search("hydroxocobalamin vitamin B12", limit=5)}
        assert b.store.watermarks()[b.lexical.name] == b.store.last_change()
        for index in (b.lexical, b.dense):
            b._milvus.drop_collection(index.collection)
    assert not (tmp_path / "data" / "lexical").exists()


def test_a_collection_reopened_later_is_loaded_for_search(tmp_path):
    """A collection made by an earlier run is released when its server restarts: opening it loads it again."""
    store = SqliteKnowledgeStore(tmp_path / "kb.sqlite")
    store.write([(d, chunk(d)) for d in DOCS])
    first = MilvusLexicalIndex(_uri(tmp_path), _name(tmp_path), store)
    first.sync(store)
    first.client.release_collection(first.collection)  # as after a restart of the server
    first.close()
    again = MilvusLexicalIndex(_uri(tmp_path), _name(tmp_path), store)
    try:
        assert _docs(store, again.search("colchicine gout", 1)) == ["gout"]
        assert again.sync(store).added == 0  # its watermark is in the store: nothing to redo
    finally:
        again.client.drop_collection(again.collection)
        again.close()
        store.close()


def test_the_consistency_setting_reaches_every_search_read(tmp_path, monkeypatch):
    """BEDSIDE_MILVUS_CONSISTENCY (any case) goes with every search and every read behind a search; counts and
    listings for integrity checks read Strong whatever the setting."""
    from bedside import Bedside
    from bedside.config import load_settings
    from bedside.errors import InvalidInput

    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n" for d in DOCS))
    monkeypatch.setenv("BEDSIDE_SEARCH_BACKEND", "milvus")
    monkeypatch.setenv("BEDSIDE_MILVUS_URI", _uri(tmp_path))
    monkeypatch.setenv("BEDSIDE_MILVUS_COLLECTION", _name(tmp_path))
    monkeypatch.setenv("BEDSIDE_MILVUS_CONSISTENCY", "bounded")
    settings = load_settings(data_dir=tmp_path / "data", starter_kb=False, embedder="hashing")
    assert settings.milvus_consistency == "Bounded"
    with Bedside(settings=settings) as b:
        assert b.lexical.consistency == "Bounded" and b.dense.consistency == "Bounded"
        b.ingest([corpus])
        calls: list[tuple[str, object]] = []
        for method in ("search", "query"):
            real = getattr(b._milvus, method)

            def recorded(*args, _real=real, _method=method, **kwargs):
                calls.append((_method, kwargs.get("consistency_level")))
                return _real(*args, **kwargs)

            monkeypatch.setattr(b._milvus, method, recorded)
        assert [h.document_id for h in b.search("hydroxocobalamin vitamin B12", limit=1)] == ["b12"]
        assert {m for m, _ in calls} == {"search", "query"}  # lexical and dense searches, facts and title focus
        assert {level for _, level in calls} == {"Bounded"}
        calls.clear()
        assert b.lexical.count() == b.dense.count() == len(DOCS)
        assert calls and {level for _, level in calls} == {"Strong"}
        for index in (b.lexical, b.dense):
            b._milvus.drop_collection(index.collection)
    with pytest.raises(InvalidInput, match="milvus_consistency"):
        load_settings(data_dir=tmp_path / "data", milvus_consistency="Sometimes")
    with pytest.raises(InvalidInput, match="Strong, Bounded, Session, Eventually"):
        MilvusLexicalIndex(
            _uri(tmp_path), _name(tmp_path), SqliteKnowledgeStore(tmp_path / "kb.sqlite"), consistency="Sometimes"
        )
