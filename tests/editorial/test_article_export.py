"""Stored answer JSON shows and exports exactly as composed."""

from __future__ import annotations

import json

import pytest

from bedside.answer.render import to_markdown
from bedside.editorial.export import answer_from_dict, export_files, public_answer
from bedside.editorial.interface import Article, ArticleVersion, ReviewStatus
from bedside.model import (
    Answer,
    AnswerSection,
    DocumentId,
    EvidenceType,
    PassageId,
    Provenance,
    QuestionType,
    Reference,
    Statement,
)

AT = "2026-11-21T10:00:00+00:00"


def sample() -> Answer:
    prov = (Provenance(PassageId("d1:0"), DocumentId("d1"), 0, 20),)
    return Answer(
        question="How is it treated?",
        title="Treatment",
        audience="clinician",
        bottom_line=(Statement("Give *oral* iron.", (1,), prov),),
        sections=(AnswerSection("Dosing", (Statement("Once daily.", (1, 2), prov),)),),
        references=(
            Reference(1, DocumentId("d1"), EvidenceType.GUIDELINE, "Iron", "BSG", 2021, "https://x.org"),
            Reference(2, DocumentId("d2"), EvidenceType.SYSTEMATIC_REVIEW, "Dosing", "Cochrane", None, ""),
        ),
        insufficient_evidence=False,
        question_type=QuestionType.TREATMENT,
        slug="s",
        disclaimer="Check sources.",
        kb_snapshot="k",
        searched=("iron",),
        notices=("n",),
        dropped_statements=1,
        composer="llm",
    )


def test_answer_json_round_trips() -> None:
    data = sample().to_dict()
    assert answer_from_dict(data).to_dict() == data
    assert answer_from_dict(json.loads(json.dumps(data))) == sample()


def article(approved: int, status: ReviewStatus, count: int = 2) -> Article:
    versions = tuple(
        ArticleVersion(
            n, {**sample().to_dict(), "title": f"v{n}"}, f"2026-11-2{n}T00:00:00+00:00", "system", "x", "k", "0.1.0"
        )
        for n in range(1, count + 1)
    )
    approved_at = "2026-11-25T08:00:00+00:00" if approved else ""
    return Article("s", "q", status, versions, AT, AT, approved_version=approved, approved_at=approved_at)


def test_the_public_answer_is_the_approved_version_dated_by_its_approval() -> None:
    shown = public_answer(article(1, ReviewStatus.SUBMITTED))
    assert shown is not None and (shown["title"], shown["status"], shown["updated"]) == ("v1", "approved", "2026-11-25")
    pending = public_answer(article(0, ReviewStatus.UNDER_REVIEW))
    assert pending is not None and (pending["title"], pending["status"], pending["updated"]) == (
        "v2",
        "under_review",
        "2026-11-22",
    )
    assert public_answer(article(0, ReviewStatus.REJECTED)) is None


def test_markdown_export_uses_the_shared_renderer() -> None:
    files = export_files([article(1, ReviewStatus.APPROVED, 1)], "markdown", ReviewStatus.APPROVED, to_markdown)
    expected = answer_from_dict({**sample().to_dict(), "title": "v1", "status": "approved", "updated": "2026-11-25"})
    assert files == {"s.md": to_markdown(expected)}
    assert "Review status: Approved. Last updated 2026-11-25." in files["s.md"] and "\\*oral\\*" in files["s.md"]


def test_json_export_writes_the_answer_in_the_current_shape() -> None:
    """A version stored before `kind`, `notes` and `label` were written exports with them, as the model says."""
    old = sample().to_dict()
    for s in old["bottom_line"]:
        del s["provenance"][0]["end"]  # an older edit's span without its end names nothing
    for ref in old["references"]:
        del ref["notes"], ref["label"]
    del old["meta"]["question_type"]
    stored = Article(
        "s",
        "q",
        ReviewStatus.APPROVED,
        (ArticleVersion(1, old, AT, "system", "x", "k", "0.1.0"),),
        AT,
        AT,
        approved_version=1,
        approved_at=AT,
    )
    record = json.loads(export_files([stored], "json", ReviewStatus.APPROVED)["s.json"])
    answer = record["answer"]
    assert [(r["notes"], r["label"]) for r in answer["references"]] == [([], ""), ([], "")]
    assert answer["bottom_line"][0]["provenance"] == [] and answer["meta"]["question_type"] == "general"
    assert (answer["status"], answer["updated"]) == ("approved", AT[:10])


def test_a_markdown_export_without_a_renderer_is_refused() -> None:
    """The editorial core does not import the answer engine: whoever exports Markdown hands it the renderer."""
    with pytest.raises(TypeError, match="Markdown renderer"):
        export_files([article(1, ReviewStatus.APPROVED, 1)], "markdown", ReviewStatus.APPROVED)
    assert export_files([article(1, ReviewStatus.APPROVED, 1)], "json", ReviewStatus.APPROVED)  # needs none
