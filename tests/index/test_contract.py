"""One contract for every SearchIndex implementation: sync, search, filters, removal, idempotency, crash replay."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from bedside.index.embedder import HashingEmbedder
from bedside.index.lexical import LexicalIndex
from bedside.index.protocols import Filters
from bedside.index.vectors import VectorIndex
from bedside.ingest import chunk
from bedside.ingest.builder import TextBuilder
from bedside.model import Document, DocumentId, EvidenceType
from bedside.store import SqliteKnowledgeStore

DOCS = [
    (
        "b12",
        "Hydroxocobalamin 1 mg intramuscularly treats vitamin B12 deficiency.",
        EvidenceType.GUIDELINE,
        2014,
        "BSH",
    ),
    (
        "ida",
        "Ferrous sulfate 200 mg daily treats iron deficiency anaemia in adults.",
        EvidenceType.GUIDELINE,
        2021,
        "BSG",
    ),
    ("gout", "Colchicine or an NSAID treats acute gout flares quickly.", EvidenceType.RESEARCH, 2020, "ACR"),
    ("hba1c", "An HbA1c of 48 mmol/mol or more confirms type 2 diabetes.", EvidenceType.REVIEW, 2019, "ADA"),
]


def _doc(doc_id: str, text: str, etype: EvidenceType, year: int, source: str) -> Document:
    b = TextBuilder()
    b.paragraph(text)
    body, blocks = b.build()
    return Document(
        DocumentId(doc_id),
        title=f"About {doc_id}",
        text=body,
        blocks=blocks,
        evidence_type=etype,
        year=year,
        source=source,
    )


def _lexical(tmp_path, store):
    return LexicalIndex(tmp_path / "lexical")


def _dense(tmp_path, store):
    return VectorIndex(tmp_path / "vectors", HashingEmbedder())


def _milvus_uri(tmp_path) -> str:
    """BEDSIDE_TEST_MILVUS_URI (a real server) when set, otherwise a Milvus Lite file of this test's own."""
    if os.environ.get("CI") != "true":  # CI=true must run them: the import below then fails loudly
        pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
    return os.environ.get("BEDSIDE_TEST_MILVUS_URI") or str(tmp_path / "milvus.db")


def _collection(tmp_path) -> str:
    """A collection name of this test's own (a shared server keeps every test's collections apart)."""
    return "t_" + hashlib.blake2b(str(tmp_path).encode(), digest_size=6).hexdigest()


def _milvus_lexical(tmp_path, store):
    from bedside.index.milvus import MilvusLexicalIndex

    return MilvusLexicalIndex(_milvus_uri(tmp_path), _collection(tmp_path), store)


def _milvus_dense(tmp_path, store):
    from bedside.index.milvus import MilvusDenseIndex

    return MilvusDenseIndex(_milvus_uri(tmp_path), _collection(tmp_path), store, HashingEmbedder())


IMPLEMENTATIONS = [_lexical, _dense, _milvus_lexical, _milvus_dense]


@pytest.fixture(params=IMPLEMENTATIONS, ids=["lexical-tantivy", "dense-vectors", "lexical-milvus", "dense-milvus"])
def setup(request, tmp_path):
    store = SqliteKnowledgeStore(tmp_path / "kb.sqlite")
    store.write([(d, chunk(d)) for d in (_doc(*row) for row in DOCS)])
    index = request.param(tmp_path, store)
    index.sync(store)
    yield store, index, request.param, tmp_path
    index.close()
    if request.param in (_milvus_lexical, _milvus_dense) and os.environ.get("BEDSIDE_TEST_MILVUS_URI"):
        from bedside.index.milvus import connect

        client = connect(os.environ["BEDSIDE_TEST_MILVUS_URI"])
        client.drop_collection(index.collection)
        client.close()
    store.close()


def _doc_ids(store, candidates):
    passages = store.passages_by_seq([c.seq for c in candidates])
    return [passages[c.seq].document_id for c in candidates]


def test_sync_indexes_every_passage_and_reaches_the_watermark(setup):
    store, index, _, _ = setup
    assert index.count() == store.counts()[1] == 4
    assert index.watermark() == store.last_change()
    assert index.sync(store).added == 0  # nothing new: a no-op


def test_search_ranks_the_matching_passage_first(setup):
    store, index, _, _ = setup
    assert _doc_ids(store, index.search("hydroxocobalamin vitamin B12 deficiency", 2))[0] == "b12"
    assert _doc_ids(store, index.search("ferrous sulfate iron deficiency anaemia", 2))[0] == "ida"


def test_filters_restrict_results(setup):
    store, index, _, _ = setup
    q = "treats deficiency flares diabetes"
    only_guidelines = Filters(evidence_types=frozenset({EvidenceType.GUIDELINE}))
    assert set(_doc_ids(store, index.search(q, 10, only_guidelines))) <= {"b12", "ida"}
    recent = Filters(year_min=2020)
    assert set(_doc_ids(store, index.search(q, 10, recent))) <= {"ida", "gout"}
    by_source = Filters(sources=frozenset({"acr"}))
    assert set(_doc_ids(store, index.search(q, 10, by_source))) <= {"gout"}


def test_removal_and_update_are_followed(setup):
    store, index, _, _ = setup
    store.remove("gout")
    updated = _doc(
        "b12", "Cyanocobalamin tablets also treat vitamin B12 deficiency.", EvidenceType.GUIDELINE, 2024, "NICE"
    )
    store.write([(updated, chunk(updated))])
    index.sync(store)
    assert index.count() == 3
    assert "gout" not in _doc_ids(store, index.search("colchicine gout flares", 5))
    top = index.search("cyanocobalamin tablets vitamin B12", 1)
    assert _doc_ids(store, top) == ["b12"]
    assert store.passages_by_seq([top[0].seq])[top[0].seq].text.startswith("Cyanocobalamin")


def test_replaying_changes_after_a_crash_is_idempotent(setup):
    """A crash after the index committed but before it recorded its watermark replays those changes safely."""
    store, index, make, tmp_path = setup
    extra = _doc("extra", "Tenecteplase is an option for acute ischaemic stroke.", EvidenceType.GUIDELINE, 2019, "AHA")
    store.write([(extra, chunk(extra))])
    index.sync(store)
    if isinstance(index, LexicalIndex):
        index._set_watermark(0)  # as if the process died right after tantivy's commit
    elif isinstance(index, VectorIndex):
        index._set_meta("watermark", "0")
    else:
        store.set_watermark(index.name, 0)  # a shared index keeps its watermark in the store
    index.close()
    reopened = make(tmp_path, store)
    reopened.sync(store)
    assert reopened.count() == store.counts()[1] == 5  # nothing indexed twice
    assert reopened.watermark() == store.last_change()
    assert _doc_ids(store, reopened.search("tenecteplase stroke", 1)) == ["extra"]
    reopened.close()


def test_a_failed_embedding_leaves_the_vector_index_unchanged(tmp_path):
    class Exploding(HashingEmbedder):
        def embed(self, texts, *, batch_size=32):
            raise RuntimeError("killed mid-sync")

    store = SqliteKnowledgeStore(tmp_path / "kb.sqlite")
    store.write([(d, chunk(d)) for d in (_doc(*row) for row in DOCS)])
    index = VectorIndex(tmp_path / "vectors", Exploding())
    with pytest.raises(RuntimeError):
        index.sync(store)
    assert index.count() == 0 and index.watermark() == 0
    index.close()
    healthy = VectorIndex(tmp_path / "vectors", HashingEmbedder())
    healthy.sync(store)
    assert healthy.count() == 4 and healthy.watermark() == store.last_change()
    healthy.close()
    store.close()


def test_bedside_replays_store_changes_its_indexes_missed(tmp_path):
    """Store committed, indexes not yet synced (a crash in between): opening bedside catches up."""
    from bedside import Bedside

    store = SqliteKnowledgeStore(tmp_path / "data" / "knowledge.sqlite")
    store.write([(d, chunk(d)) for d in (_doc(*row) for row in DOCS)])
    store.close()
    with Bedside(data_dir=tmp_path / "data", starter_kb=False) as b:
        assert b.lexical.count() == 4 and b.dense is not None and b.dense.count() == 4
        assert b.search("hydroxocobalamin", 1)[0].document_id == "b12"


@pytest.mark.parametrize("mode", ["hnsw", "exact"])
def test_large_indexes_switch_to_an_ann_index_and_still_find_passages(tmp_path, monkeypatch, mode):
    """Above EXACT_LIMIT vectors search goes through a graph (faiss installed) or, without faiss, scans them all;
    either must still find the passages, and filters still apply."""
    from bedside.index import graph, snapshot_build

    if mode == "hnsw" and not graph.available():
        pytest.skip("faiss is not installed")
    monkeypatch.setattr(snapshot_build, "EXACT_LIMIT", 50)
    if mode == "exact":
        monkeypatch.setattr(graph, "available", lambda: False)
    store = SqliteKnowledgeStore(tmp_path / "kb.sqlite")
    words = "iron folate cobalamin ferritin potassium sodium gout urate insulin glucose asthma copd".split()
    docs = [
        _doc(
            f"d{i}",
            f"Note {i} about {words[i % 12]} and {words[(i * 5) % 12]} dose {i} mg.",
            EvidenceType.RESEARCH,
            2000 + i % 20,
            "J",
        )
        for i in range(240)
    ]
    store.write([(d, chunk(d)) for d in docs])
    index = VectorIndex(tmp_path / "vectors", HashingEmbedder())
    index.sync(store)
    snap = index.snapshot()
    assert index.stats()["mode"] == mode
    assert (snap.graph is not None) == (mode == "hnsw")
    found = 0
    for i in range(0, 240, 12):
        top = _doc_ids(store, index.search(f"Note {i} about {words[i % 12]} and {words[(i * 5) % 12]} dose {i} mg.", 5))
        found += f"d{i}" in top
    assert found >= (18 if mode == "hnsw" else 20)  # approximate search: near-exact, not exact
    filtered = index.search("iron folate", 10, Filters(year_min=2015))
    assert filtered and all(store.document(d).year >= 2015 for d in _doc_ids(store, filtered))
    index.close()
    store.close()


def test_an_index_added_later_rebuilds_from_the_store(tmp_path, monkeypatch):
    """The change log is pruned once the existing indexes applied it; a new index must still get everything."""
    from bedside import Bedside

    monkeypatch.setenv("BEDSIDE_EMBEDDER", "none")
    with Bedside(data_dir=tmp_path / "d", starter_kb=False) as b:
        store_path = b.store.path
    store = SqliteKnowledgeStore(store_path)
    store.write([(d, chunk(d)) for d in (_doc(*row) for row in DOCS)])
    store.close()
    with Bedside(data_dir=tmp_path / "d", starter_kb=False) as b:  # lexical catches up, then the log is pruned
        assert b.lexical.count() == 4 and b.store.pruned_upto() == b.store.last_change()
    monkeypatch.setenv("BEDSIDE_EMBEDDER", "hashing")  # a dense index appears after the pruning
    with Bedside(data_dir=tmp_path / "d", starter_kb=False) as b:
        assert b.dense is not None and b.dense.count() == 4
        assert b.dense.watermark() == b.store.last_change()
    import shutil

    shutil.rmtree(tmp_path / "d" / "lexical")  # an operator deletes the lexical index
    with Bedside(data_dir=tmp_path / "d", starter_kb=False) as b:
        assert b.lexical.count() == 4
        assert b.search("hydroxocobalamin", 1)[0].document_id == "b12"


def _numbered_store(tmp_path, n: int, snapshot: bool = True) -> SqliteKnowledgeStore:
    """A store of `n` numbered one-passage documents ("c0", ...), its dense index synced (and its snapshot built)."""
    store = SqliteKnowledgeStore(tmp_path / "kb.sqlite")
    store.write(
        [
            (d, chunk(d))
            for d in (
                _doc(f"c{i}", f"Entry {i} about item {i * 11} at {i} mg.", EvidenceType.RESEARCH, 2012, "J")
                for i in range(n)
            )
        ]
    )
    index = VectorIndex(tmp_path / "vectors", HashingEmbedder())
    index.sync(store)
    if snapshot:
        index.snapshot()
    index.close()
    return store


class _MirrorEmbedder(HashingEmbedder):
    """Another model of the same dimension: every vector is the hashing one negated."""

    def __init__(self) -> None:
        super().__init__()
        self.name = "mirror-of-hashing"

    def embed(self, texts, *, batch_size=32):  # embed_query goes through it too
        return -super().embed(texts, batch_size=batch_size)


@pytest.mark.parametrize("mode", ["exact", "hnsw"])
@pytest.mark.parametrize("legacy", [False, True])
def test_reopening_with_another_model_of_the_same_dimension_replaces_the_snapshot(tmp_path, monkeypatch, mode, legacy):
    """Re-embedding with another model ends at the same watermark as before, so a snapshot file of that name
    already exists: it must not be served. Snapshots name their model; one written before they did (`legacy`) is
    checked against a stored vector."""
    from bedside.index import graph, snapshot_build

    if mode == "hnsw" and not graph.available():
        pytest.skip("faiss is not installed")
    if mode == "hnsw":
        monkeypatch.setattr(snapshot_build, "EXACT_LIMIT", 20)
    store = _numbered_store(tmp_path, 60)
    (meta_file,) = (tmp_path / "vectors").glob("snapshot-*.npz")
    seqs = np.load(meta_file)["seqs"]
    first = int(seqs.min())
    before = np.array(np.load(meta_file.with_suffix(".npy"))[int(np.flatnonzero(seqs == first)[0])])
    if legacy:  # as an older bedside wrote it: no model name; and the files survive the model change
        fields = {k: v for k, v in np.load(meta_file).items() if k != "model"}
        saved = {p: p.read_bytes() for p in (tmp_path / "vectors").glob("snapshot-*")}
    mirror = _MirrorEmbedder()
    index = VectorIndex(tmp_path / "vectors", mirror)
    index.sync(store)
    if legacy:
        for p, data in saved.items():
            p.write_bytes(data)
        np.savez(meta_file, **fields)
        index._current = None
    snap = index.snapshot()
    assert meta_file.exists()  # the same watermark, hence the same file name
    after = snap.vecs[int(np.flatnonzero(snap.seqs == first)[0])]
    assert np.any(before != 0) and np.allclose(after, -before)  # the new model's vector, not the old one
    assert str(np.load(meta_file)["model"]) == mirror.name
    assert "c7" in _doc_ids(store, index.search("Entry 7 about item 77 at 7 mg.", 3))
    index.close()
    store.close()


def test_a_lost_graph_file_is_rebuilt_from_the_stored_vectors(tmp_path, monkeypatch):
    """The graph file is derived data: if it goes missing, the next search rebuilds it instead of failing."""
    from bedside.index import graph, snapshot_build

    if not graph.available():
        pytest.skip("faiss is not installed")
    monkeypatch.setattr(snapshot_build, "EXACT_LIMIT", 20)
    store = _numbered_store(tmp_path, 60)
    (graph_file,) = (tmp_path / "vectors").glob("snapshot-*.hnsw")
    graph_file.unlink()
    index = VectorIndex(tmp_path / "vectors", HashingEmbedder())
    assert "c7" in _doc_ids(store, index.search("Entry 7 about item 77 at 7 mg.", 3))
    assert graph_file.exists()
    index.close()
    store.close()


def test_a_graph_saved_with_float32_vectors_is_rebuilt_with_8_bit_codes_at_the_next_change(tmp_path, monkeypatch):
    """A graph written by an older bedside (float32 vectors) still serves searches as it is; the next change builds
    the graph afresh with 8-bit codes instead of extending the old one, and search still finds every passage."""
    import faiss

    from bedside.index import graph, snapshot_build

    if not graph.available():
        pytest.skip("faiss is not installed")
    monkeypatch.setattr(snapshot_build, "EXACT_LIMIT", 20)
    store = _numbered_store(tmp_path, 60)
    (graph_file,) = (tmp_path / "vectors").glob("snapshot-*.hnsw")
    assert isinstance(faiss.read_index(str(graph_file)), faiss.IndexHNSWSQ)
    meta = np.load(graph_file.with_suffix(".npz"))
    assert np.array_equal(meta["graph_seqs"], meta["seqs"])  # built afresh: label i is matrix row i
    matrix = np.ascontiguousarray(np.load(graph_file.with_suffix(".npy")))
    flat = faiss.IndexHNSWFlat(matrix.shape[1], 8, faiss.METRIC_INNER_PRODUCT)
    flat.add(matrix)
    faiss.write_index(flat, str(graph_file))  # as an older bedside saved it
    index = VectorIndex(tmp_path / "vectors", HashingEmbedder())
    assert "c7" in _doc_ids(store, index.search("Entry 7 about item 77 at 7 mg.", 3))
    assert isinstance(index.snapshot().graph._index, faiss.IndexHNSWFlat)  # served as it is until a change
    store.write(
        [(d, chunk(d)) for d in [_doc("c60", "Entry 60 about item 660 at 60 mg.", EvidenceType.RESEARCH, 2020, "J")]]
    )
    index.sync(store)
    assert "c60" in _doc_ids(store, index.search("Entry 60 about item 660 at 60 mg.", 3))
    assert "c7" in _doc_ids(store, index.search("Entry 7 about item 77 at 7 mg.", 3))
    (graph_file,) = (tmp_path / "vectors").glob("snapshot-*.hnsw")
    assert isinstance(faiss.read_index(str(graph_file)), faiss.IndexHNSWSQ)
    assert len(index.snapshot().graph_seqs) == 61 and index.snapshot().dead == 0  # built afresh, not extended
    index.close()
    store.close()


@pytest.mark.parametrize("mode", ["exact", "hnsw"])
def test_an_index_from_before_title_terms_is_upgraded_in_place(tmp_path, monkeypatch, mode):
    """Vectors written before rows kept their documents' title terms: search still works (title focus is read
    from the store), the next sync records the terms, and the snapshot gains them without a rebuild."""
    import sqlite3

    from bedside.index import graph, hybrid, snapshot, snapshot_build
    from bedside.text.analysis import analyze

    if mode == "hnsw" and not graph.available():
        pytest.skip("faiss is not installed")
    if mode != "exact":
        monkeypatch.setattr(snapshot_build, "EXACT_LIMIT", 20)
    store = _numbered_store(tmp_path, 60)
    folder = tmp_path / "vectors"
    db = sqlite3.connect(folder / "vectors.sqlite")
    db.execute("ALTER TABLE vectors DROP COLUMN title_terms")  # as an older bedside wrote it,
    db.execute("PRAGMA user_version = 0")  # before schemas were versioned
    db.commit()
    db.close()
    (meta_file,) = folder.glob("snapshot-*.npz")
    old = {k: v for k, v in snapshot.read_meta(meta_file).items() if not k.startswith("title_")}
    if mode == "exact":
        del old["keys"]  # exact snapshots from before row keys are matched to their rows by seq
    snapshot.write_meta(meta_file, old)
    built = {p.name: p.stat().st_mtime_ns for p in folder.glob("snapshot-*") if p.suffix != ".npz"}
    seqs = [int(s) for s in old["seqs"]]
    terms = set(analyze("what about c7 or c12"))  # titles are "About c<i>"

    index = VectorIndex(folder, HashingEmbedder())
    assert index.focus(seqs, terms) == {}  # nothing recorded yet: callers fall back to the store
    assert "c7" in _doc_ids(store, index.search("Entry 7 about item 77 at 7 mg.", 3))
    assert index._meta("titles") == "pending"
    index.sync(store)  # no change to apply, but the title terms are recorded
    assert index._meta("titles") == "complete"  # later syncs skip the check
    focus = index.focus(seqs, terms)
    passages = store.passages_by_seq(seqs)
    titles = {seq: store.document(passages[seq].document_id).title for seq in seqs}
    assert focus == pytest.approx({seq: hybrid.title_focus(terms, titles[seq]) for seq in seqs})
    assert focus[passages_seq(passages, "c7")] == 1.0 and focus[passages_seq(passages, "c8")] == 0.0
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("snapshot-*") if p.suffix != ".npz"} == built
    assert "title_len" in snapshot.read_meta(meta_file)  # kept for the next process
    index.close()
    store.close()


@pytest.mark.parametrize("mode", ["exact", "hnsw"])
def test_title_terms_are_recorded_again_when_text_analysis_changes(tmp_path, monkeypatch, mode):
    """Vector rows keep their titles' analysed terms. When a newer analysis makes other terms (here "about" stops
    being a stop word, so the title "About c7" gains a term), stale terms are never used: until the next sync
    records them again, title focus is left to the store; after it, the snapshot's copy matches the store's
    titles, without rebuilding the matrix or the graph."""
    from bedside.index import graph, hybrid, snapshot, snapshot_build
    from bedside.text import analysis

    if mode == "hnsw" and not graph.available():
        pytest.skip("faiss is not installed")
    if mode == "hnsw":
        monkeypatch.setattr(snapshot_build, "EXACT_LIMIT", 20)
    store = _numbered_store(tmp_path, 60)
    folder = tmp_path / "vectors"
    (meta_file,) = folder.glob("snapshot-*.npz")
    built = {p.name: p.stat().st_mtime_ns for p in folder.glob("snapshot-*") if p.suffix != ".npz"}
    seqs = [int(x) for x in snapshot.read_meta(meta_file)["seqs"]]
    passages = store.passages_by_seq(seqs)
    c7 = passages_seq(passages, "c7")
    index = VectorIndex(folder, HashingEmbedder())
    assert index.focus([c7], set(analysis.analyze("c7"))) == {c7: 1.0}  # "About c7": only "c7" counts
    index.close()

    monkeypatch.setattr(analysis, "STOP_WORDS", analysis.STOP_WORDS - {"about"})
    analysis._normalise_word.cache_clear()
    terms = set(analysis.analyze("c7"))
    index = VectorIndex(folder, HashingEmbedder())
    assert index.focus([c7], terms) == {}  # the stored terms are stale: callers fall back to the store
    assert "c7" in _doc_ids(store, index.search("Entry 7 about item 77 at 7 mg.", 3))
    index.sync(store)  # no change to apply, but the title terms are recorded again
    focus = index.focus(seqs, terms)
    titles = {seq: store.document(passages[seq].document_id).title for seq in seqs}
    assert focus == pytest.approx({seq: hybrid.title_focus(terms, titles[seq]) for seq in seqs})
    assert focus[c7] == 0.5  # "about" now counts in the title
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("snapshot-*") if p.suffix != ".npz"} == built
    assert str(snapshot.read_meta(meta_file)["analysis"]) == analysis.fingerprint()
    index.close()
    monkeypatch.undo()
    analysis._normalise_word.cache_clear()
    store.close()


def passages_seq(passages, doc_id: str) -> int:
    return next(seq for seq, p in passages.items() if p.document_id == doc_id)


def test_the_graph_is_extended_after_changes_and_rebuilt_when_much_is_gone(tmp_path, monkeypatch):
    """New passages are linked into the previous graph; removed ones stay as dead nodes that no search returns;
    once dead nodes pass GRAPH_DEAD_SHARE the graph is built afresh. Live labels always match the stored passages."""
    from bedside.index import graph, snapshot, snapshot_build

    if not graph.available():
        pytest.skip("faiss is not installed")
    monkeypatch.setattr(snapshot_build, "EXACT_LIMIT", 30)
    store = SqliteKnowledgeStore(tmp_path / "kb.sqlite")

    def doc(i: int, extra: str = "") -> Document:
        return _doc(f"x{i}", f"Record {i} on subject {i * 13} with {i} mg {extra}.", EvidenceType.RESEARCH, 2015, "J")

    store.write([(d, chunk(d)) for d in map(doc, range(100))])
    index = VectorIndex(tmp_path / "vectors", HashingEmbedder())
    index.sync(store)

    def check() -> snapshot.Snapshot:
        snap = index.snapshot()
        assert snap.graph is not None and snap.graph_seqs is not None and snap.graph_live is not None
        live = snap.graph_seqs[snap.graph_live]
        assert sorted(live.tolist()) == sorted(snap.seqs.tolist())  # one live node per stored passage
        assert len(snap.graph) == len(snap.graph_seqs)
        return snap

    assert len(check().graph_seqs) == 100
    for i in range(10):
        store.remove(f"x{i}")
    store.write([(d, chunk(d)) for d in (doc(i) for i in range(100, 110))])
    store.write([(doc(50, "revised text"), chunk(doc(50, "revised text")))])  # same id, new text and passage
    index.sync(store)
    snap = check()
    assert len(snap.graph_seqs) == 100 + 10 + 1 and snap.dead == 11  # extended, not rebuilt
    assert "x105" in _doc_ids(store, index.search("Record 105 on subject 1365 with 105 mg .", 3))
    removed = {f"x{i}" for i in range(10)}
    for i in range(10):
        assert not removed & set(_doc_ids(store, index.search(f"Record {i} on subject {i * 13} with {i} mg .", 10)))
    for i in range(10, 40):
        store.remove(f"x{i}")
    index.sync(store)
    snap = check()
    assert snap.dead == 0 and len(snap.graph_seqs) == 70  # too much was gone: built afresh
    assert sorted(p.name for p in (tmp_path / "vectors").glob("snapshot-*")) == sorted(
        f"snapshot-{index.watermark()}.{ext}" for ext in ("hnsw", "npy", "npz")
    )  # older snapshots are cleaned up
    index.close()
    store.close()


def test_concurrent_snapshot_builds_leave_one_complete_snapshot(tmp_path, monkeypatch):
    """Several indexes on one directory (a web server's threads, a CLI beside it) open the snapshot at once after
    a change: every one of them searches, and exactly one complete snapshot remains."""
    import threading

    from bedside.index import graph, snapshot_build

    monkeypatch.setattr(snapshot_build, "EXACT_LIMIT", 30)
    store = _numbered_store(tmp_path, 80, snapshot=False)  # the searches below race to build it
    indexes = [VectorIndex(tmp_path / "vectors", HashingEmbedder()) for _ in range(4)]
    found: list[int] = []
    errors: list[BaseException] = []

    def search(index: VectorIndex) -> None:
        try:
            found.append(len(index.search("Entry 7 about item 77 at 7 mg.", 5)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=search, args=(i,)) for i in indexes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and found == [5, 5, 5, 5]
    mark = indexes[0].watermark()
    names = {p.name for p in (tmp_path / "vectors").glob("snapshot-*")}
    expected = {f"snapshot-{mark}.npy", f"snapshot-{mark}.npz"} | (
        {f"snapshot-{mark}.hnsw"} if graph.available() else set()
    )
    assert names == expected
    for index in indexes:
        index.close()
    store.close()


def test_a_server_searches_the_previous_snapshot_while_the_new_one_is_built(tmp_path, monkeypatch):
    """With background refresh (the web server), a search after a change answers at once from the previous
    snapshot and starts building the new one; once built it is used. A failed build keeps the old snapshot in
    service, is reported, and is tried again later; `prepare` brings the snapshot up to date on the spot."""
    store = _numbered_store(tmp_path, 30)
    writer = VectorIndex(tmp_path / "vectors", HashingEmbedder())  # the CLI that ingests beside the server
    server = VectorIndex(tmp_path / "vectors", HashingEmbedder())
    server.refresh_in_background = True
    query = "Entry 31 about item 341 at 31 mg."
    assert "c31" not in _doc_ids(store, server.search(query, 3)) and server._refresher is None

    def add(i: int) -> None:
        d = _doc(f"c{i}", f"Entry {i} about item {i * 11} at {i} mg.", EvidenceType.RESEARCH, 2012, "J")
        store.write([(d, chunk(d))])
        writer.sync(store)

    add(31)
    assert "c31" not in _doc_ids(store, server.search(query, 3))  # answered from the previous snapshot
    thread = server._refresher  # the refresh it started (it may have finished already)
    assert thread is not None
    thread.join(30)
    assert "c31" in _doc_ids(store, server.search(query, 3)) and server.refresh_error is None

    add(32)
    real_open = VectorIndex._open_snapshot

    def broken(self, mark):
        raise OSError("disk full")

    monkeypatch.setattr(VectorIndex, "_open_snapshot", broken)
    query = "Entry 32 about item 352 at 32 mg."
    assert "c32" not in _doc_ids(store, server.search(query, 3))
    failed = server._refresher
    assert failed is not None and failed is not thread
    failed.join(30)
    assert isinstance(server.refresh_error, OSError)
    assert "c31" in _doc_ids(store, server.search("Entry 31 about item 341 at 31 mg.", 3))  # still served
    assert server._refresher is failed  # no new attempt before REFRESH_RETRY_S has passed
    monkeypatch.setattr(VectorIndex, "_open_snapshot", real_open)
    monkeypatch.setattr(server, "_retry_at", 0.0)
    server.search(query, 3)
    assert server._refresher is not failed
    server._refresher.join(30)
    assert "c32" in _doc_ids(store, server.search(query, 3)) and server.refresh_error is None

    add(33)
    last = server._refresher
    server.prepare()  # on the spot, background mode or not
    assert "c33" in _doc_ids(store, server.search("Entry 33 about item 363 at 33 mg.", 3))
    assert server._refresher is last  # no refresh was needed
    for index in (writer, server):
        index.close()
    store.close()


def test_the_lexical_index_is_rebuilt_when_text_analysis_changes(tmp_path, monkeypatch):
    """Terms are made at indexing time. When a newer analysis makes different terms (here: a unit spelled out as
    another), the next sync indexes every passage again, so queries analysed the new way find them. An unchanged
    analysis rebuilds nothing, and nor does an index from before fingerprints (no `analysis` file), which takes the
    current one."""
    from bedside.text import analysis

    store = SqliteKnowledgeStore(tmp_path / "kb.sqlite")
    store.write(
        [
            (d, chunk(d))
            for d in (
                _doc("tabs", "Take 2 tabs of paracetamol every 6 hours.", EvidenceType.GUIDELINE, 2020, "NICE"),
                _doc("other", "Gout flares respond to colchicine.", EvidenceType.GUIDELINE, 2020, "ACR"),
            )
        ]
    )
    index = LexicalIndex(tmp_path / "lexical")
    index.sync(store)
    assert not _doc_ids(store, index.search("tablet", 5))  # "tabs" is indexed as "tab"
    rebuilds = []
    rebuild = LexicalIndex._rebuild
    monkeypatch.setattr(LexicalIndex, "_rebuild", lambda self, *a: rebuilds.append(1) or rebuild(self, *a))
    LexicalIndex(tmp_path / "lexical").sync(store)
    assert not rebuilds  # same analysis: nothing to do

    monkeypatch.setitem(analysis._UNITS, "tabs", "tablet")  # a newer bedside folds "tabs" into "tablet"
    analysis._normalise_word.cache_clear()
    reopened = LexicalIndex(tmp_path / "lexical")
    reopened.sync(store)
    assert len(rebuilds) == 1 and _doc_ids(store, reopened.search("tablet", 5)) == ["tabs"]
    assert reopened.count() == 2 and _doc_ids(store, reopened.search("colchicine", 5)) == ["other"]

    (tmp_path / "lexical" / "analysis").unlink()  # as an older bedside left it
    LexicalIndex(tmp_path / "lexical").sync(store)
    assert len(rebuilds) == 1 and (tmp_path / "lexical" / "analysis").read_text() == analysis.fingerprint()
    monkeypatch.undo()
    analysis._normalise_word.cache_clear()
    store.close()
