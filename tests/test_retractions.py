"""A retracted article is never evidence: search leaves it out by default, answers never cite it, a notice is never
evidence either, and an expression of concern or erratum shows with the reference."""

import json
import shutil

import pytest

from bedside import Bedside
from bedside.answer.render import to_markdown

WITHDRAWN = {"91000001", "91000002", "91000004", "91000005", "91000007", "91000008"}


@pytest.fixture
def kb(tmp_path, fixtures):
    b = Bedside(data_dir=tmp_path / "data", starter_kb=False)
    for name in ("retractions.xml", "unflagged_trial.xml", "retraction_notice.xml"):
        shutil.copy(fixtures / "medline" / name, tmp_path / name)
    report = b.ingest(
        [tmp_path / "retractions.xml", tmp_path / "unflagged_trial.xml", tmp_path / "retraction_notice.xml"]
    )
    assert report.ok and report.added == 8
    yield b
    b.close()


QUERIES = (
    "zanthoxin for example bronchitis",
    "retraction notice zanthoxin",
    "example bronchitis exacerbation",
    "expression of concern corticosteroid step-down",
    "erratum exacerbation rate",
)


def test_search_leaves_out_retracted_articles_and_notices(kb):
    for query in QUERIES:
        hits = kb.search(query, limit=20)
        assert not {h.document_id for h in hits} & WITHDRAWN, query
    everything = {h.document_id for q in QUERIES for h in kb.search(q, limit=20, include_withdrawn=True)}
    assert everything >= WITHDRAWN  # they are indexed: only the default leaves them out
    marked = {h.document_id: h.withdrawn for h in kb.search("zanthoxin", limit=20, include_withdrawn=True)}
    assert marked["91000001"] == "retracted" and marked["91000007"] == "retracted"  # the latter by a later notice
    assert marked["91000002"] == "retraction notice"


def test_answers_never_cite_a_retracted_article_or_a_notice(kb):
    for question in (
        "What is the treatment for an exacerbation of example bronchitis?",
        "Does nebulised zanthoxin shorten example bronchitis exacerbations?",
        "Does zanthoxin syrup reduce cough in example bronchitis?",
    ):
        answer = kb.ask(question)
        cited = {r.document_id for r in answer.references}
        assert not cited & WITHDRAWN, (question, cited)
        provenance = {p.document_id for s in answer.statements() for p in s.provenance}
        assert not provenance & WITHDRAWN


def test_caller_cannot_slip_a_retracted_hit_into_evidence(kb):
    """Even a search that returned withdrawn documents gives no evidence from them."""
    from bedside.answer.pipeline import evidence_from_hits

    hits = kb.search("zanthoxin", limit=20, include_withdrawn=True)
    docs = kb.store.documents([h.document_id for h in hits])
    assert hits and not {p.document_id for p in evidence_from_hits(hits, docs)} & WITHDRAWN


def test_concern_and_erratum_show_on_the_reference(kb):
    answer = kb.ask("What happens after inhaled corticosteroid step-down in stable example bronchitis?")
    [ref] = [r for r in answer.references if r.document_id == "91000003"]
    assert ref.notes == (
        "Expression of concern: J Ex Respir Med. 2023;15(1):3 (PMID 91000004)",
        "Erratum: J Ex Respir Med. 2021;13(6):410 (PMID 91000005)",
    )
    data = answer.to_dict()
    [out] = [r for r in data["references"] if r["document_id"] == "91000003"]
    assert out["notes"] == list(ref.notes)
    assert json.loads(json.dumps(data))["references"] == data["references"]
    markdown = to_markdown(answer)
    assert "Expression of concern: J Ex Respir Med. 2023;15(1):3 (PMID 91000004)" in markdown.replace("\\", "")
    others = [r for r in data["references"] if r["document_id"] != "91000003"]
    assert all(r["notes"] == [] for r in others)


def test_a_shared_deployment_leaves_out_what_a_later_notice_retracts(tmp_path, fixtures, postgres_url, monkeypatch):
    """The knowledge store on PostgreSQL and the indexes on Milvus (Lite here): a notice ingested by one host retracts
    its article for every host, and a collection's priority reaches the searcher."""
    pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
    from bedside.config import load_settings

    monkeypatch.setenv("BEDSIDE_SEARCH_BACKEND", "milvus")
    monkeypatch.setenv("BEDSIDE_MILVUS_URI", str(tmp_path / "milvus.db"))
    monkeypatch.setenv("BEDSIDE_MILVUS_COLLECTION", "t_retractions")
    settings = load_settings(
        data_dir=tmp_path / "data", starter_kb=False, embedder="hashing", database_url=postgres_url
    )
    for name in ("unflagged_trial.xml", "retraction_notice.xml"):
        shutil.copy(fixtures / "medline" / name, tmp_path / name)
    with Bedside(settings=settings) as first, Bedside(settings=settings) as second:
        assert first.ingest([tmp_path / "unflagged_trial.xml"], collection="ward-protocols").added == 1
        assert "91000007" in {h.document_id for h in second.search("zanthoxin syrup cough", limit=5)}
        assert first.ingest([tmp_path / "retraction_notice.xml"]).added == 1
        for b in (first, second):
            assert not {h.document_id for h in b.search("zanthoxin syrup cough", limit=5)} & {"91000007", "91000008"}
            marked = {h.document_id: h.withdrawn for h in b.search("zanthoxin", limit=5, include_withdrawn=True)}
            assert marked == {"91000007": "retracted", "91000008": "retraction notice"}
        assert [(c.name, c.priority, c.documents) for c in second.collections()] == [("ward-protocols", 1, 1)]
        for index in (first.lexical, first.dense):
            first._milvus.drop_collection(index.collection)
