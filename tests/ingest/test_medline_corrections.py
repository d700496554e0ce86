"""Retractions, expressions of concern, errata and updates read from MEDLINE records."""

from bedside.ingest import read_path
from bedside.model import Correction, CorrectionKind, Document


def _by_id(path) -> dict[str, Document]:
    return {d.id: d for d in read_path(path)}


def test_retracted_publication_and_its_notice(fixtures):
    docs = _by_id(fixtures / "medline" / "retractions.xml")
    trial, notice = docs["91000001"], docs["91000002"]
    assert trial.retracted and not trial.notice and trial.withdrawn
    assert trial.corrections == (
        Correction(CorrectionKind.RETRACTION_IN, "91000002", "J Ex Respir Med. 2022;14(2):101"),
    )
    assert notice.notice == "retraction notice" and not notice.retracted and notice.withdrawn
    assert notice.corrections[0].kind is CorrectionKind.RETRACTION_OF and notice.corrections[0].pmid == "91000001"


def test_concern_and_erratum_are_notes_not_withdrawal(fixtures):
    docs = _by_id(fixtures / "medline" / "retractions.xml")
    cohort = docs["91000003"]
    assert not cohort.withdrawn
    assert [c.kind for c in cohort.corrections] == [
        CorrectionKind.CONCERN_IN,
        CorrectionKind.ERRATUM_IN,
    ]  # CommentIn skipped
    assert cohort.notes() == (
        "Expression of concern: J Ex Respir Med. 2023;15(1):3 (PMID 91000004)",
        "Erratum: J Ex Respir Med. 2021;13(6):410 (PMID 91000005)",
    )
    assert docs["91000004"].notice == "expression of concern"
    assert docs["91000005"].notice == "erratum"


def test_update_in_is_a_note_on_the_older_version(fixtures):
    review = _by_id(fixtures / "medline" / "retractions.xml")["91000009"]
    assert not review.withdrawn
    assert review.notes() == ("Updated version: Example Database Syst Rev. 2024;(3):CD000009 (PMID 91000010)",)


def test_an_unlinked_record_keeps_its_old_content_hash(fixtures):
    """Documents without corrections hash as they always did (the new fields are hashed only when set)."""
    docs = list(read_path(fixtures / "medline" / "pubmed_efetch.xml"))
    assert all(not d.corrections and not d.retracted and not d.notice for d in docs)
    from dataclasses import replace

    plain = docs[0]
    assert replace(plain, collection="local").content_hash != plain.content_hash
    assert replace(plain, retracted=True).content_hash == plain.content_hash  # derived, not content
