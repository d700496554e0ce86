"""The analyzer, the graph index and the hybrid ranking."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bedside.index.hybrid import FusionConfig, fuse, prior
from bedside.index.protocols import Candidate, Filters
from bedside.model import EvidenceType
from bedside.text.analysis import QueryAnalyzer, analyze


def test_analyzer_keeps_numbers_units_and_alphanumerics():
    terms = analyze("Vitamin B-12 1 mg IM; HbA1c 6.5%; 1,000 mcg; anaemia and haemoglobin")
    for expected in ("b12", "1", "mg", "hba1c", "6.5", "1000", "ug", "anemia", "hemoglobin"):
        assert expected in terms
    assert analyze("anaemia") == analyze("anemia") and analyze("oesophageal") == analyze("esophageal")
    assert "the" not in analyze("the treatment")


def test_query_expansion_reaches_both_abbreviation_and_expansion():
    q = QueryAnalyzer()
    expanded = {t.term: t for t in q.terms("IDA in CKD")}
    assert {"iron", "defici", "anemia", "chronic", "kidney"} <= set(expanded)
    assert expanded["ida"].weight == 1.0 and expanded["iron"].expansion and expanded["iron"].weight < 1.0
    back = {t.term for t in q.terms("iron deficiency anaemia treatment")}
    assert "ida" in back


def _graph_or_skip():
    graph = pytest.importorskip("bedside.index.graph")
    if not graph.available():
        pytest.skip("faiss is not installed")
    return graph


def _unit_vectors(seed: int, n: int, dim: int) -> np.ndarray:
    vecs = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def test_graph_recall_against_exact_search(tmp_path):
    """The HNSW graph returns row numbers of the matrix it was built on and finds nearly all of the exact top 10."""
    graph = _graph_or_skip()
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(60, 48))
    vecs = centres[rng.integers(0, 60, 5000)] + 0.4 * rng.normal(size=(5000, 48))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    graph.GraphIndex.build(vecs, tmp_path / "g.hnsw")
    index = graph.GraphIndex.load(tmp_path / "g.hnsw")
    assert len(index) == 5000
    hits = 0
    for q in vecs[rng.integers(0, 5000, 50)]:
        exact = np.argsort(-(vecs @ q))[:10]
        rows, scores = index.search(q, 10)
        assert np.allclose(scores, vecs[rows] @ q, atol=0.01)  # the rows' inner products, from their 8-bit codes
        assert list(scores) == sorted(scores, reverse=True)
        hits += len(set(exact) & set(rows))
    assert hits / 500 >= 0.95


def test_the_graph_keeps_a_byte_per_dimension_and_extends_within_its_range(tmp_path):
    """The graph stores 8-bit codes, not float32 vectors: a saved 384-dimensional graph takes well under the 1,536
    bytes per vector that float32 alone would. Rows linked in later (coded over the ranges fixed at build time)
    are found with inner products close to the exact ones."""
    graph = _graph_or_skip()
    vecs = _unit_vectors(11, 3000, 384)
    graph.GraphIndex.build(vecs[:2000], tmp_path / "g.hnsw")
    assert (tmp_path / "g.hnsw").stat().st_size / 2000 < 800
    extended = graph.GraphIndex.extend(tmp_path / "g.hnsw", vecs[2000:], tmp_path / "g2.hnsw")
    assert len(extended) == 3000
    for row in (5, 2500, 2999):
        rows, scores = extended.search(vecs[row], 3)
        assert rows[0] == row and abs(scores[0] - 1.0) < 0.01


def test_weighted_fusion_and_rrf():
    lex = [Candidate(1, 10.0), Candidate(2, 8.0), Candidate(4, 3.0), Candidate(5, 2.0)]
    dense = [Candidate(2, 0.9), Candidate(3, 0.85), Candidate(6, 0.4), Candidate(7, 0.3)]
    fused = fuse(lex, dense, FusionConfig(dense_weight=0.5))
    assert fused[2] > fused[1] > fused[4]  # found by both beats found by one
    assert fused[2] > fused[3] > fused[6]
    assert fuse(lex[:2], [], FusionConfig()) == {1: 1.0, 2: 0.0}
    rrf = fuse(lex, dense, FusionConfig(method="rrf"))
    assert max(rrf, key=rrf.get) == 2


def test_priors_prefer_guidelines_and_newer_sources():
    cfg = FusionConfig()
    assert prior(EvidenceType.GUIDELINE, 2020, cfg, 2024) > prior(EvidenceType.RESEARCH, 2020, cfg, 2024)
    assert prior(EvidenceType.RESEARCH, 2024, cfg, 2024) > prior(EvidenceType.RESEARCH, 2000, cfg, 2024)


def test_the_rescoring_window_never_changes_results(tmp_path, monkeypatch):
    """Reading only the candidates that can still reach the top (by the bounds of the bonuses, then by their exact
    score from the snapshot) gives exactly the ranking of rescoring every candidate from the store."""
    from bedside import Bedside
    from bedside.index import hybrid

    with Bedside(data_dir=tmp_path / "d", starter_kb=True) as b:
        b.ensure_starter_kb()
        searcher = b.searcher
        read: list[int] = []
        real_read = searcher.store.passages_by_seq

        def counted(seqs):
            seqs = list(seqs)
            read.append(len(seqs))
            return real_read(seqs)

        monkeypatch.setattr(searcher.store, "passages_by_seq", counted)
        narrower = cut = 0
        for q in (
            "iron deficiency anaemia oral iron dose",
            "hyperkalaemia calcium gluconate",
            "gout flare colchicine",
            "statin for primary prevention",
            "asthma inhaled corticosteroid",
            "community-acquired pneumonia",
        ):
            for config in (searcher.config, FusionConfig(dense_weight=searcher.config.dense_weight, priors=False)):
                fused = searcher.candidates(q, config=config)
                priors = searcher._priors(fused, config)
                known = hybrid._window(fused, 10, config, priors)
                bound = hybrid._window(fused, 10, config)
                assert set(known) <= set(bound)  # each candidate's own prior, read from the snapshot, narrows it
                narrower += len(known) < len(bound)
                read.clear()
                fast = searcher.search(q, 10, config=config)
                assert len(fast) == 10 and read == [len(searcher._finalists(q, known, 10, config, priors))]
                cut += read[0] < len(known)
                with monkeypatch.context() as m:
                    m.setattr(hybrid, "_window", lambda fused, *args: fused)
                    m.setattr(searcher, "_finalists", lambda query, window, *args: window)
                    full = searcher.search(q, 10, config=config)
                assert [(h.passage_id, h.score) for h in fast] == [(h.passage_id, h.score) for h in full]
        assert narrower >= 3 and cut >= 6  # the exact in-memory scores cut the window further
        dense = b.dense
        assert dense is not None
        seqs = [int(s) for s in dense.snapshot().seqs[::3]]  # every document has a passage among them
        facts = dense.facts([*seqs, 10**9])  # an unknown seq is left out
        passages = real_read(seqs)
        docs = b.store.document_heads([p.document_id for p in passages.values()])
        assert sorted(facts) == sorted(seqs)
        for seq, (etype, year) in facts.items():
            doc = docs[passages[seq].document_id]
            assert (etype, year) == (doc.evidence_type, doc.year)
        for q in ("iron deficiency anaemia", "gout", "hypertension in adults", "vitamin B12 deficiency"):
            terms = set(analyze(q))
            focus = dense.focus([*seqs, 10**9], terms)
            assert sorted(focus) == sorted(seqs)
            expected = {seq: hybrid.title_focus(terms, docs[passages[seq].document_id].title) for seq in seqs}
            assert focus == pytest.approx(expected)
            assert any(v > 0 for v in focus.values())


def test_graph_builds_from_a_matrix_file_as_from_memory(tmp_path):
    """Built from a .npy file read a chunk at a time, the graph holds the same rows as one built from memory."""
    graph = _graph_or_skip()
    vecs = _unit_vectors(9, 1234, 16)
    np.save(tmp_path / "m.npy", vecs)
    chunks = list(graph._chunks(tmp_path / "m.npy", 500))
    assert [len(c) for c in chunks] == [500, 500, 234] and np.array_equal(np.concatenate(chunks), vecs)
    graph.GraphIndex.build(tmp_path / "m.npy", tmp_path / "g.hnsw")
    index = graph.GraphIndex.load(tmp_path / "g.hnsw")
    rows, scores = index.search(vecs[77], 5)
    assert len(index) == 1234 and rows[0] == 77 and scores[0] > 0.99  # 8-bit codes: near 1, not exactly
    with open(tmp_path / "m.npy", "r+b") as f:  # cut the file short: a clear error, not a half-built graph
        f.truncate(f.seek(0, 2) - 100)
    with pytest.raises(ValueError, match="truncated"):
        graph.GraphIndex.build(tmp_path / "m.npy", tmp_path / "g2.hnsw")
    assert not (tmp_path / "g2.hnsw").exists()


def test_the_searcher_fuses_with_its_dense_models_own_weight(tmp_path):
    """Each real model carries the fusion weight tuned for it; a model without one gets the default."""
    from bedside.index.bge import BgeSmallEmbedder
    from bedside.index.embedder import HashingEmbedder
    from bedside.index.hybrid import HybridSearcher
    from bedside.index.vectors import VectorIndex

    assert BgeSmallEmbedder.fusion_weight > FusionConfig().dense_weight  # tuned for it on the dev splits
    dense = VectorIndex(tmp_path / "v", HashingEmbedder())
    assert HybridSearcher(None, None, dense).config.dense_weight == FusionConfig().dense_weight  # type: ignore[arg-type]
    dense.embedder.fusion_weight = 0.8  # type: ignore[attr-defined]
    assert HybridSearcher(None, None, dense).config.dense_weight == 0.8  # type: ignore[arg-type]
    explicit = FusionConfig(dense_weight=0.3)
    assert HybridSearcher(None, None, dense, explicit).config is explicit  # type: ignore[arg-type]
    dense.close()


@given(
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=60),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=60),
    st.lists(st.integers(-5, 5), max_size=30),
)
def test_member_agrees_with_isin(values, pool, small):
    """The binary-search membership test that graph extension uses gives np.isin's answer, duplicates, extremes and
    empty arrays included."""
    from bedside.index.snapshot import member as _member

    for a, b in ((values, pool), (small, small[::2]), (values + small, pool + small), ([], pool), (values, [])):
        a_arr, b_arr = np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)
        assert np.array_equal(_member(a_arr, b_arr), np.isin(a_arr, b_arr))


class _LexicalOnly:
    """A lexical retriever that keeps the protocol and nothing more."""

    def __init__(self, inner):
        self._inner = inner

    def search(self, query, limit=100, filters=None):
        return self._inner.search(query, limit, filters)

    def known(self, terms):
        return self._inner.known(terms)


class _DenseOnly:
    """A dense retriever without the optional capabilities (facts, title focus)."""

    def __init__(self, inner):
        self._inner = inner

    @property
    def embedder(self):
        return self._inner.embedder

    def search_vector(self, q, limit=100, filters=None, seqs=None):
        return self._inner.search_vector(q, limit, filters, seqs)


def test_the_searcher_runs_on_the_bare_protocols_with_the_same_results(starter):
    """Facts and title focus are optional capabilities that save store reads: a backend without them gives the same
    ranking, read from the store instead."""
    from bedside.index.hybrid import HybridSearcher
    from bedside.index.protocols import PassageFacts, TitleFocus

    b = starter
    full = b.searcher
    assert isinstance(full.facts, PassageFacts) and isinstance(full.focus, TitleFocus)
    bare = HybridSearcher(b.store, _LexicalOnly(b.lexical), _DenseOnly(b.dense), config=full.config)
    assert bare.facts is None and bare.focus is None
    lexical_only = HybridSearcher(b.store, _LexicalOnly(b.lexical), None, config=full.config)
    for q in ("iron deficiency anaemia oral iron dose", "hyperkalaemia calcium gluconate", "gout flare colchicine"):
        for filters in (None, Filters(evidence_types=frozenset({EvidenceType.GUIDELINE}))):
            expected = [(h.passage_id, h.score) for h in full.search(q, 5, filters)]
            assert expected
            assert [(h.passage_id, h.score) for h in bare.search(q, 5, filters)] == expected
        assert lexical_only.search(q, 5)  # no dense retriever at all: lexical candidates alone
