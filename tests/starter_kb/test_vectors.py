"""The shipped starter vectors cover the shipped digests and are used only when the installed model and runtime
compute the same vectors; otherwise the starter knowledge base is embedded afresh, never served stale."""

import sqlite3

import numpy as np
import pytest

from bedside import starter_kb
from bedside.config import load_settings
from bedside.errors import BackendUnavailable
from bedside.facade import Bedside
from bedside.index.embedder import HashingEmbedder, load_embedder
from bedside.index.vectors import text_hash

# bench/drift.py: ONNX Runtime 1.20.1, 1.28.0 and 1.32.0 agree with each other to min cosine 0.9975 on the starter
# passages. Any runtime that runs this model correctly stays above this floor; a broken pipeline (tokenizer,
# truncation, pooling, another model) falls far below it.
CROSS_RUNTIME_FLOOR = 0.997


@pytest.fixture(scope="module")
def model():
    try:
        return load_embedder("bge-small")
    except BackendUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def shipped_file():
    with np.load(starter_kb.VECTOR_FILE, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _starter_rows(tmp_path):
    with Bedside(settings=load_settings(data_dir=tmp_path / "d", starter_kb=True, embedder="none")) as b:
        b.ensure_starter_kb()
        return b.store.index_rows(None)


def test_every_starter_passage_has_a_shipped_vector(tmp_path, shipped_file):
    hashes = {str(h) for h in shipped_file["hashes"]}
    missing = [r.passage_id for r in _starter_rows(tmp_path) if text_hash(r.embedding_text) not in hashes]
    assert missing == [], "digests changed: run `python -m bedside.starter_kb.build_vectors`"


def test_shipped_vectors_name_the_installed_model_by_its_files(model, shipped_file):
    assert str(shipped_file["model"]) == model.name
    assert str(shipped_file["digest"]) == model.digest(), "the model changed: rebuild the starter vectors"


def test_this_runtime_computes_the_shipped_vectors_within_runtime_drift(model, shipped_file):
    fresh = model.embed([str(t) for t in shipped_file["probe_texts"]])
    agreement = np.sum(fresh * shipped_file["probe_vectors"], axis=1)
    assert agreement.min() > CROSS_RUNTIME_FLOOR


def test_first_load_with_the_real_model_embeds_only_what_the_shipped_vectors_cannot_give(tmp_path, monkeypatch, model):
    monkeypatch.setenv("BEDSIDE_EMBEDDER", "bge-small")
    with Bedside(data_dir=tmp_path / "d", starter_kb=True) as b:
        assert b.dense is not None
        embedded = []
        real = b.dense.embedder.embed
        monkeypatch.setattr(b.dense.embedder, "embed", lambda texts, **kw: embedded.extend(texts) or real(texts, **kw))
        b.ensure_starter_kb()
        assert b.dense.count() == b.store.counts()[1]
        probes = [str(t) for t in np.load(starter_kb.VECTOR_FILE)["probe_texts"]]
        if any("differ" in n for n in b.notices):  # another CPU's kernels: recomputed, which is the contract
            pytest.skip(f"this machine's runtime drifts from the shipped vectors: {b.notices}")
        assert embedded == probes  # only the drift check ran the model; every passage vector came from the package
        hits = b.search("hydroxocobalamin intramuscular dose", limit=3)
        assert hits[0].document_id.startswith("vitamin-b12")


class _Drifting(HashingEmbedder):
    """The shipped model's name and digest, but vectors from another computation."""

    def __init__(self, name: str, digest: str) -> None:
        super().__init__(384)
        self.name, self._digest = name, digest

    def digest(self) -> str:
        return self._digest


def test_a_runtime_that_drifts_gets_its_own_vectors_and_a_notice(tmp_path, shipped_file):
    drifting = _Drifting(str(shipped_file["model"]), str(shipped_file["digest"]))
    rejected: list[str] = []
    seed = starter_kb.shipped_vectors(drifting, rejected.append)
    assert len(seed) == 0
    assert rejected and "differ from the shipped ones" in rejected[0]


def test_other_model_files_get_their_own_vectors(tmp_path, shipped_file):
    other = _Drifting(str(shipped_file["model"]), "0" * 64)
    rejected: list[str] = []
    assert dict(starter_kb.shipped_vectors(other, rejected.append)) == {}
    assert rejected and "model files differ" in rejected[0]


def test_the_engine_embeds_afresh_when_the_shipped_vectors_do_not_fit(tmp_path, monkeypatch, shipped_file):
    """End to end: a data directory whose model drifts still gets a vector for every passage, from its own model."""
    drifting = _Drifting(str(shipped_file["model"]), str(shipped_file["digest"]))
    monkeypatch.setattr("bedside.search_backends.load_embedder", lambda name: drifting)
    with Bedside(data_dir=tmp_path / "d", starter_kb=True) as b:
        b.ensure_starter_kb()
        assert b.dense is not None and b.dense.count() == b.store.counts()[1]
        assert any("embedding the starter knowledge base afresh" in n for n in b.notices)
        row = b.store.index_rows(None)[0]
    with sqlite3.connect(tmp_path / "d" / "vectors" / "vectors.sqlite") as db:
        (blob,) = db.execute("SELECT vec FROM vectors WHERE text_hash = ?", (text_hash(row.embedding_text),)).fetchone()
    assert np.allclose(np.frombuffer(blob, dtype=np.float32), drifting.embed([row.embedding_text])[0])


def test_a_model_that_is_not_shipped_gets_no_vectors(shipped_file):
    assert dict(starter_kb.shipped_vectors(HashingEmbedder())) == {}
