"""The answer JSON is one model (`AnswerJSON`): every field of an answer survives to_dict/from_dict, answers stored
by earlier versions of bedside still load, and the written shape stays the documented one."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bedside.model import (
    Answer,
    AnswerJSON,
    AnswerSection,
    DocumentId,
    EvidenceType,
    PassageId,
    Provenance,
    QuestionType,
    Reference,
    Statement,
)

text = st.text(max_size=30)
ids = st.text(min_size=1, max_size=12)
offsets = st.integers(min_value=0, max_value=10**7)

# One strategy a field, for every field of each type: a field added to a type without a strategy here fails
# test_every_field_has_a_strategy, so the round trip always covers everything an answer holds.
PROVENANCE = {
    "passage_id": ids.map(PassageId),
    "document_id": ids.map(DocumentId),
    "start": offsets,
    "end": offsets,
}
STATEMENT = {
    "text": text,
    "citations": st.lists(st.integers(1, 40), min_size=1, max_size=4).map(tuple),
    "provenance": st.lists(st.fixed_dictionaries(PROVENANCE).map(lambda d: Provenance(**d)), max_size=3).map(tuple),
    "kind": st.sampled_from(["", "indirect", "warning", "dose", "threshold", "care", "bottom-line"]) | text,
    "editor": st.booleans(),
    "supported": st.none() | st.booleans(),
    "check": text,
}
statements = st.fixed_dictionaries(STATEMENT).map(lambda d: Statement(**d))
SECTION = {"heading": text, "statements": st.lists(statements, max_size=3).map(tuple)}
REFERENCE = {
    "number": st.integers(1, 40),
    "document_id": ids.map(DocumentId),
    "type": st.sampled_from(list(EvidenceType)),
    "title": text,
    "source": text,
    "year": st.none() | st.integers(1800, 2100),
    "url": text,
    "reviewed": st.none() | st.booleans(),
    "notes": st.lists(st.text(min_size=1, max_size=20), max_size=3).map(tuple),  # a note is never empty
    "label": text,
    "digest": st.booleans(),
}
ANSWER = {
    "question": text,
    "title": text,
    "audience": st.sampled_from(["clinician", "student", "patient"]),
    "bottom_line": st.lists(statements, max_size=3).map(tuple),
    "sections": st.lists(st.fixed_dictionaries(SECTION).map(lambda d: AnswerSection(**d)), max_size=3).map(tuple),
    "references": st.lists(st.fixed_dictionaries(REFERENCE).map(lambda d: Reference(**d)), max_size=3).map(tuple),
    "insufficient_evidence": st.booleans(),
    "question_type": st.sampled_from(list(QuestionType)),
    "conversation": text,
    "slug": text,
    "status": st.sampled_from(["submitted", "under_review", "changes_requested", "approved", "rejected"]),
    "updated": text,
    "disclaimer": text,
    "composer": st.sampled_from(["extractive", "llm:test-model"]),
    "dropped_statements": st.integers(0, 100),
    "kb_snapshot": text,
    "searched": st.lists(text, max_size=3).map(tuple),
    "notices": st.lists(text, max_size=3).map(tuple),
}
answers = st.fixed_dictionaries(ANSWER).map(lambda d: Answer(**d))


@pytest.mark.parametrize(
    ("cls", "strategies"),
    [
        (Provenance, PROVENANCE),
        (Statement, STATEMENT),
        (AnswerSection, SECTION),
        (Reference, REFERENCE),
        (Answer, ANSWER),
    ],
)
def test_every_field_has_a_strategy(cls: type, strategies: dict[str, Any]) -> None:
    assert set(strategies) == {f.name for f in fields(cls)}


@settings(max_examples=300, deadline=None)
@given(answers)
def test_every_field_survives_the_json_round_trip(answer: Answer) -> None:
    data = answer.to_dict()
    assert Answer.from_dict(json.loads(json.dumps(data))) == answer
    assert AnswerJSON.model_validate(data).model_dump(mode="json") == data  # the written shape reads back as itself


def full_answer() -> Answer:
    """An answer with every optional part filled (no field at its default)."""
    span = Provenance(PassageId("doc-1#120"), DocumentId("doc-1"), 120, 245)
    composed = Statement("Give oral iron.", (1,), (span,), kind="dose", supported=True, check="found in [1]")
    edited = Statement(
        "Check ferritin at 4 weeks.",
        (1, 2),
        (span,),
        kind="warning",
        editor=True,
        supported=False,
        check="no cited passage states it",
    )
    digest = Reference(
        1,
        DocumentId("doc-1"),
        EvidenceType.GUIDELINE,
        "Iron deficiency",
        "BSG",
        2021,
        "https://x",
        reviewed=True,
        notes=("Erratum: Gut 2022 (PMID 1)",),
        label="Local protocol",
        digest=True,
    )
    return Answer(
        question="How is iron deficiency treated?",
        title="Treating iron deficiency",
        audience="patient",
        bottom_line=(Statement("It may not be answered directly.", (1,), (span,), kind="indirect"),),
        sections=(AnswerSection("Treatment", (composed, edited)),),
        references=(
            digest,
            Reference(2, DocumentId("doc-2"), EvidenceType.REVIEW, "Anaemia", "Lancet", 2019, "", reviewed=False),
        ),
        insufficient_evidence=True,
        question_type=QuestionType.TREATMENT,
        conversation="c-1",
        slug="treating-iron",
        status="approved",
        updated="2026-11-21",
        disclaimer="For professionals.",
        composer="llm:test-model",
        dropped_statements=2,
        kb_snapshot="snap-1",
        searched=("iron deficiency",),
        notices=("answered extractively",),
    )


def test_the_full_answer_fills_every_field_and_round_trips() -> None:
    answer = full_answer()
    statements = answer.statements()
    parts = [[answer], statements, answer.references, answer.sections, statements[0].provenance]
    for instances in parts:
        names = {f.name for f in fields(instances[0])}
        filled = {f.name for obj in instances for f in fields(obj) if getattr(obj, f.name) != f.default}
        assert names - filled == set(), type(instances[0])  # each field set (not at its default) somewhere
    assert Answer.from_dict(answer.to_dict()) == answer


def test_a_statements_kind_is_kept() -> None:
    """It was lost: only "indirect" was written, so a warning read back was a plain statement."""
    warning = Statement("Never give iron intravenously without resuscitation facilities.", (1,), (), kind="warning")
    data = warning.to_dict()
    assert data["kind"] == "warning" and "indirect" not in data
    assert Statement.from_dict(data) == warning
    assert Answer.from_dict(full_answer().to_dict()).sections[0].statements[1].kind == "warning"


def test_the_written_shape_is_the_documented_one() -> None:
    """Rare markers appear only when they say something; everything else is always there."""
    data = full_answer().to_dict()
    assert list(data) == [
        "question",
        "title",
        "audience",
        "status",
        "updated",
        "conversation",
        "slug",
        "insufficient_evidence",
        "bottom_line",
        "sections",
        "references",
        "disclaimer",
        "meta",
    ]
    plain = Statement("Give oral iron.", (1,), (Provenance(PassageId("d#0"), DocumentId("d"), 0, 15),)).to_dict()
    assert plain == {
        "text": "Give oral iron.",
        "citations": [1],
        "provenance": [{"passage_id": "d#0", "document_id": "d", "start": 0, "end": 15}],
    }
    assert data["bottom_line"][0]["indirect"] is True and data["bottom_line"][0]["kind"] == "indirect"
    edited = data["sections"][0]["statements"][1]
    assert (edited["editor"], edited["supported"], edited["check"]) == (True, False, "no cited passage states it")
    unchecked = Statement("Mine.", (1,), (), editor=True).to_dict()
    assert unchecked["supported"] is None and unchecked["check"] == ""  # an editor's statement always says so
    first, second = data["references"]
    assert first["type"] == "Guideline" and first["digest"] is True and first["reviewed"] is True
    assert "digest" not in second and second["reviewed"] is False
    plain_ref = Reference(3, DocumentId("d"), EvidenceType.RESEARCH, "T", "S", None, "").to_dict()
    assert set(plain_ref) == {"number", "type", "title", "source", "year", "url", "document_id", "notes", "label"}
    assert data["meta"] == {
        "composer": "llm:test-model",
        "dropped_statements": 2,
        "kb_snapshot": "snap-1",
        "question_type": "treatment",
        "searched": ["iron deficiency"],
        "notices": ["answered extractively"],
    }


# An answer as the first versions of bedside stored it (conversation turns, article versions): no kind, no notes
# or labels on references, three meta keys; then the later additions one by one.
OLDEST = """{
  "question": "How is iron deficiency treated?", "title": "Iron deficiency", "audience": "clinician",
  "status": "submitted", "updated": "2026-11-21", "conversation": "c-1", "slug": "iron-deficiency",
  "insufficient_evidence": false,
  "bottom_line": [{"text": "Give oral iron.", "citations": [1],
                   "provenance": [{"passage_id": "doc-1#0", "document_id": "doc-1", "start": 0, "end": 15}]}],
  "sections": [{"heading": "Monitoring", "statements": [{"text": "Check ferritin.", "citations": [1, 2],
                                                         "provenance": []}]}],
  "references": [{"number": 1, "type": "Guideline", "title": "Iron", "source": "BSG", "year": 2021, "url": "",
                  "document_id": "doc-1"},
                 {"number": 2, "type": "Systematic review", "title": "Ferritin", "source": "Gut", "year": null,
                  "url": "https://doi.org/10.1/x", "document_id": "doc-2"}],
  "disclaimer": "For professionals.",
  "meta": {"composer": "extractive", "dropped_statements": 0, "kb_snapshot": "snap-1"}
}"""


def test_answers_stored_in_the_oldest_shape_load() -> None:
    answer = Answer.from_dict(json.loads(OLDEST))
    assert answer.title == "Iron deficiency" and answer.slug == "iron-deficiency" and answer.conversation == "c-1"
    assert answer.bottom_line[0] == Statement(
        "Give oral iron.", (1,), (Provenance(PassageId("doc-1#0"), DocumentId("doc-1"), 0, 15),)
    )
    assert answer.sections[0].statements[0].citations == (1, 2) and answer.sections[0].statements[0].kind == ""
    first, second = answer.references
    assert (first.type, first.year, first.notes, first.label, first.digest, first.reviewed) == (
        EvidenceType.GUIDELINE,
        2021,
        (),
        "",
        False,
        None,
    )
    assert second.type is EvidenceType.SYSTEMATIC_REVIEW and second.year is None
    assert (answer.question_type, answer.searched, answer.notices) == (QuestionType.GENERAL, (), ())
    assert answer.to_dict()["meta"]["kb_snapshot"] == "snap-1"


def test_later_shapes_load() -> None:
    data = json.loads(OLDEST)
    data["bottom_line"][0]["indirect"] = True  # how a bottom-line sentence was marked before `kind` was written
    data["sections"][0]["statements"].append(
        {
            "text": "Ferritin below 30 ug/L confirms it.",
            "citations": [1],
            "editor": True,
            "supported": False,
            "check": "not checked against its sources",
            # older editing kept provenance entries as sent; one without a span names nothing and is skipped
            "provenance": [
                {"passage_id": "doc-1#0"},
                {"passage_id": "doc-1#0", "document_id": "doc-1", "start": 0, "end": 15},
            ],
        }
    )
    data["references"][0].update(
        notes=["Erratum: Gut 2022 (PMID 1)", ""], label="Local protocol", digest=True, reviewed=True
    )
    data["references"][1]["type"] = "Tea leaves"  # a label this version does not know reads as Research
    data["meta"].update(question_type="no-such-type", searched=["iron"], notices=["note"])
    del data["meta"]["composer"]
    answer = Answer.from_dict(data)
    assert answer.bottom_line[0].kind == "indirect"
    edited = answer.sections[0].statements[1]
    assert (edited.editor, edited.supported, edited.check) == (True, False, "not checked against its sources")
    assert [p.start for p in edited.provenance] == [0]
    first, second = answer.references
    assert (first.notes, first.label, first.digest, first.reviewed) == (
        ("Erratum: Gut 2022 (PMID 1)",),
        "Local protocol",
        True,
        True,
    )
    assert second.type is EvidenceType.RESEARCH
    assert (answer.question_type, answer.composer, answer.searched) == (QuestionType.GENERAL, "extractive", ("iron",))
    assert Answer.from_dict({}) == Answer("", "", "clinician", (), (), (), False)  # every part has a default


@pytest.mark.parametrize(
    ("broken", "where"),
    [
        ({"bottom_line": "Give iron."}, "bottom_line"),
        ({"sections": [{"statements": [{"citations": ["one"]}]}]}, "sections.0.statements.0.citations.0"),
        ({"audience": "vet"}, "audience"),
        ({"meta": []}, "meta"),
    ],
)
def test_what_is_not_an_answer_is_refused_naming_the_field(broken: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Answer.from_dict({**json.loads(OLDEST), **broken})
    assert ".".join(str(p) for p in caught.value.errors()[0]["loc"]) == where
