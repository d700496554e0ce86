"""The shipped starter vectors match the shipped digests, so a fresh install embeds nothing on first use."""

import pytest

from bedside import starter_kb
from bedside.config import load_settings
from bedside.engine import Bedside
from bedside.errors import BackendUnavailable
from bedside.index.embedder import load_embedder
from bedside.index.vectors import text_hash

MODELS = [("bge-small", "bge-small-en-v1.5"), ("minilm", "all-MiniLM-L6-v2")]


def _model(setting: str):
    try:
        return load_embedder(setting)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize(("setting", "name"), MODELS)
def test_every_starter_passage_has_a_shipped_vector(tmp_path, setting, name):
    with Bedside(settings=load_settings(data_dir=tmp_path / "d", starter_kb=True, embedder="none")) as b:
        b.ensure_starter_kb()
        rows = b.store.index_rows(None)
    assert _model(setting).name == name
    shipped = starter_kb.shipped_vectors(name)
    assert shipped
    missing = [r.passage_id for r in rows if text_hash(r.embedding_text) not in shipped]
    assert missing == [], "digests changed: run `python -m bedside.starter_kb.build_vectors`"


@pytest.mark.parametrize(("setting", "name"), MODELS)
def test_shipped_vectors_are_what_the_model_computes(tmp_path, setting, name):
    model = _model(setting)
    with Bedside(settings=load_settings(data_dir=tmp_path / "d", starter_kb=True, embedder="none")) as b:
        b.ensure_starter_kb()
        rows = b.store.index_rows(None)[:: max(1, len(b.store.index_rows(None)) // 4)][:4]
    shipped = starter_kb.shipped_vectors(name)
    fresh = model.embed([r.embedding_text for r in rows])
    for row, vec in zip(rows, fresh, strict=True):
        assert float(shipped[text_hash(row.embedding_text)] @ vec) > 0.999  # float16 storage, same model


@pytest.mark.parametrize("setting", ["bge-small", "minilm"])
def test_first_load_with_the_real_model_embeds_nothing(tmp_path, monkeypatch, setting):
    _model(setting)
    monkeypatch.setenv("BEDSIDE_EMBEDDER", setting)
    with Bedside(data_dir=tmp_path / "d", starter_kb=True) as b:
        assert b.dense is not None
        embedded = []
        real = b.dense.embedder.embed
        monkeypatch.setattr(b.dense.embedder, "embed", lambda texts, **kw: embedded.extend(texts) or real(texts, **kw))
        b.ensure_starter_kb()
        assert b.dense.count() == b.store.counts()[1]
        assert embedded == []  # every passage vector came from the package
        hits = b.search("hydroxocobalamin intramuscular dose", limit=3)
        assert hits[0].document_id.startswith("vitamin-b12")
