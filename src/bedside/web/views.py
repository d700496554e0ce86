"""What a page shows: answers rebuilt from their stored JSON, rendered for a reader, with their source passages.

Everything here is plain data for the templates (which autoescape it): no HTML is built in Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bedside.answer.audience import AUDIENCES, lead_of, render_for
from bedside.answer.render import DISCLAIMER, PATIENT_DISCLAIMER, STATUS_LABELS
from bedside.editorial.interface import Article, ReviewStatus
from bedside.errors import InvalidInput, NotFound
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

READERS = (
    ("clinician", "Clinician", "Full clinical detail"),
    ("student", "Student", "Abbreviations spelled out"),
    ("patient", "Patient or caregiver", "Plain language"),
)
STEPS = (("submitted", "Submitted"), ("under_review", "Under Review"), ("approved", "Approved"))
PENDING_BANNER = "Educational purpose only — content pending human review"


def check_audience(audience: str) -> str:
    """The audience, or InvalidInput naming the allowed ones."""
    if audience not in AUDIENCES:
        raise InvalidInput(f"unknown audience {audience!r} (choose from {', '.join(AUDIENCES)})")
    return audience


# -- the stored JSON back to an Answer ------------------------------------------------------------------------------


def answer_from_dict(data: Mapping[str, Any]) -> Answer:
    """Rebuild an Answer from its JSON form (interfaces.md), so it can be rendered again for another reader."""
    meta = data.get("meta") or {}
    try:
        qtype = QuestionType(meta.get("question_type", "general"))
    except ValueError:
        qtype = QuestionType.GENERAL
    return Answer(
        question=str(data.get("question", "")), title=str(data.get("title", "")),
        audience=str(data.get("audience", "clinician")),
        bottom_line=tuple(_statement(s) for s in data.get("bottom_line", [])),
        sections=tuple(
            AnswerSection(heading=str(sec["heading"]), statements=tuple(_statement(s) for s in sec["statements"]))
            for sec in data.get("sections", [])
        ),
        references=tuple(_reference(r) for r in data.get("references", [])),
        insufficient_evidence=bool(data.get("insufficient_evidence", False)), question_type=qtype,
        conversation=str(data.get("conversation", "")), slug=str(data.get("slug", "")),
        status=str(data.get("status", "submitted")), updated=str(data.get("updated", "")),
        disclaimer=str(data.get("disclaimer", "")), composer=str(meta.get("composer", "extractive")),
        dropped_statements=int(meta.get("dropped_statements", 0)), kb_snapshot=str(meta.get("kb_snapshot", "")),
        searched=tuple(meta.get("searched", ())), notices=tuple(meta.get("notices", ())),
    )  # fmt: skip


def _statement(data: Mapping[str, Any]) -> Statement:
    provenance = tuple(
        Provenance(PassageId(p["passage_id"]), DocumentId(p["document_id"]), int(p["start"]), int(p["end"]))
        for p in data.get("provenance", [])
    )
    return Statement(text=str(data["text"]), citations=tuple(int(n) for n in data["citations"]), provenance=provenance)


def _reference(data: Mapping[str, Any]) -> Reference:
    try:
        etype = EvidenceType.parse(str(data.get("type") or "research"))
    except ValueError:
        etype = EvidenceType.RESEARCH
    year = data.get("year")
    return Reference(
        number=int(data["number"]), document_id=DocumentId(str(data.get("document_id", ""))), type=etype,
        title=str(data.get("title", "")), source=str(data.get("source", "")),
        year=int(year) if isinstance(year, int) else None, url=str(data.get("url", "")),
    )  # fmt: skip


def public_answer(article: Article, audience: str) -> Answer:
    """The article's public version for one reader, with the article's slug, status and date."""
    version = article.public_version
    if version is None:
        raise NotFound(f"article {article.slug!r} was withdrawn")
    answer = answer_from_dict(version.answer)
    answer = render_for(replace(answer, audience="clinician"), check_audience(audience))
    # The approved version stays public (as approved, dated by its approval) while a newer one waits for review.
    approved = bool(article.approved_version) and version.number == article.approved_version
    status = ReviewStatus.APPROVED.value if approved else article.status.value
    updated = (article.approved_at or article.updated) if approved else article.updated
    return replace(
        answer, slug=article.slug, status=status, updated=updated[:10],
        disclaimer=PATIENT_DISCLAIMER if audience == "patient" else (answer.disclaimer or DISCLAIMER),
    )  # fmt: skip


# -- view models -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Citation:
    """One citation mark: the reference number and the exact source text behind the statement."""

    number: int
    reference_title: str
    quote: str  # document.text[start:end] for this statement's provenance in that document; "" when unknown


@dataclass(frozen=True, slots=True)
class StatementView:
    lead: str
    text: str
    citations: tuple[Citation, ...]


@dataclass(frozen=True, slots=True)
class SectionView:
    heading: str
    anchor: str
    statements: tuple[StatementView, ...]


@dataclass(frozen=True, slots=True)
class ReferenceView:
    number: int
    type_label: str
    type_key: str
    title: str
    source: str
    year: int | None
    url: str


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    label: str
    state: str  # "done", "current" or "todo"


@dataclass(frozen=True, slots=True)
class ArticleView:
    """Everything the article page shows."""

    slug: str
    question: str
    title: str
    audience: str
    status: str
    status_label: str
    steps: tuple[Step, ...]
    pending: bool
    updated: str
    insufficient_evidence: bool
    searched: tuple[str, ...]
    bottom_line: tuple[StatementView, ...]
    sections: tuple[SectionView, ...]
    references: tuple[ReferenceView, ...]
    disclaimer: str
    notices: tuple[str, ...]
    conversation: str
    composer: str
    approved_by: str = ""  # who approved the version shown ("" unless it is approved)
    approved_on: str = ""  # the approval's date (YYYY-MM-DD)


def review_steps(status: str) -> tuple[Step, ...]:
    """Submitted → Under Review → Approved; "changes requested" sits at the review step."""
    position = {"submitted": 0, "under_review": 1, "changes_requested": 1, "approved": 2}.get(status, 0)
    steps = []
    for i, (key, label) in enumerate(STEPS):
        if i == 1 and status == ReviewStatus.CHANGES_REQUESTED:
            label = STATUS_LABELS["changes_requested"]
        state = "done" if i < position or status == "approved" else "current" if i == position else "todo"
        steps.append(Step(key, label, state))
    return tuple(steps)


def article_view(answer: Answer, documents: Mapping[str, str], conversation: str = "") -> ArticleView:
    """The page's view of a rendered answer; `documents` maps document id -> stored text (for source quotes)."""
    titles = {r.number: r.title for r in answer.references}
    doc_of = {r.number: r.document_id for r in answer.references}

    def view(s: Statement) -> StatementView:
        cites = []
        for n in s.citations:
            spans = [p for p in s.provenance if p.document_id == doc_of.get(n)]
            text = documents.get(doc_of.get(n, ""), "")
            quote = " … ".join(text[p.start : p.end].strip() for p in spans if 0 <= p.start < p.end <= len(text))
            cites.append(Citation(n, titles.get(n, ""), quote))
        return StatementView(lead_of(s, answer.audience), s.text, tuple(cites))

    return ArticleView(
        slug=answer.slug, question=answer.question, title=answer.title, audience=answer.audience,
        status=answer.status, status_label=STATUS_LABELS.get(answer.status, answer.status),
        steps=review_steps(answer.status), pending=answer.status != "approved", updated=answer.updated,
        insufficient_evidence=answer.insufficient_evidence, searched=answer.searched,
        bottom_line=tuple(view(s) for s in answer.bottom_line),
        sections=tuple(
            SectionView(sec.heading, f"s{i}", tuple(view(s) for s in sec.statements))
            for i, sec in enumerate(answer.sections, 1)
        ),
        references=tuple(
            ReferenceView(r.number, r.type.label, r.type.value, r.title, r.source, r.year, r.url)
            for r in answer.references
        ),
        disclaimer=answer.disclaimer, notices=answer.notices, conversation=conversation, composer=answer.composer,
    )  # fmt: skip


def cited_documents(answer: Answer) -> list[str]:
    """The ids of the documents an answer cites, in reference order."""
    return [r.document_id for r in answer.references]
