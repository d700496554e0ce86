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


QUERIES = ("zanthoxin for example bronchitis", "retraction notice zanthoxin", "example bronchitis exacerbation",
           "expression of concern corticosteroid step-down", "erratum exacerbation rate")  # fmt: skip


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
    for question in ("What is the treatment for an exacerbation of example bronchitis?",
                     "Does nebulised zanthoxin shorten example bronchitis exacerbations?",
                     "Does zanthoxin syrup reduce cough in example bronchitis?"):  # fmt: skip
        answer = kb.ask(question)
        cited = {r.document_id for r in answer.references}
        assert not cited & WITHDRAWN, (question, cited)
        provenance = {p.document_id for s in answer.statements() for p in s.provenance}
        assert not provenance & WITHDRAWN


def test_caller_cannot_slip_a_retracted_hit_into_evidence(kb):
    """Even a search that returned withdrawn documents gives no evidence from them."""
    from bedside.answer.service import evidence_from_hits

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
