"""What a page shows: answers rebuilt from their stored JSON, rendered for a reader, with their source passages.

Everything here is plain data for the templates (which autoescape it): no HTML is built in Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bedside.answer.audience import AUDIENCES, lead_of, render_for
from bedside.answer.render import DISCLAIMER, PATIENT_DISCLAIMER, STATUS_LABELS
from bedside.editorial.interface import Article, ReviewStatus
from bedside.errors import InvalidInput, NotFound
from bedside.model import (
    Answer,
    Statement,
)
from bedside.text.sentences import split_spans

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


answer_from_dict = Answer.from_dict


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
        answer,
        slug=article.slug,
        status=status,
        updated=updated[:10],
        disclaimer=PATIENT_DISCLAIMER if audience == "patient" else (answer.disclaimer or DISCLAIMER),
    )


# -- view models -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Citation:
    """One citation mark: the reference number and the exact source text behind the statement.

    A digest's text is bedside's own summary, so it is shown as such, never in quotation marks; an editor's
    statement that the verifier did not find in its cited passages shows no passage as its support."""

    number: int
    reference_title: str  # the reference's label: its title, or "bedside digest of <title>, <issuer> <year>"
    quote: str  # document.text[start:end] for this statement's provenance in that document; "" when unknown
    locator: str = ""  # the section heading the quoted text sits under
    digest: bool = False
    review_note: str = ""  # a digest's review state in words
    url: str = ""  # the source's (for a digest: the guideline's) own address
    before: str = ""  # the review desk: the sentence before the quoted text in its document ...
    after: str = ""  # ... and the sentence after it
    document_id: str = ""
    start: int = 0  # the first quoted span in the document (for a link to that place)
    end: int = 0


@dataclass(frozen=True, slots=True)
class StatementView:
    lead: str
    text: str
    citations: tuple[Citation, ...]
    editor: bool = False  # the editor's words
    supported: bool = True  # False: the verifier did not find the editor's words in the cited passages
    check: str = ""  # the verifier's reason


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
    notes: tuple[str, ...] = ()
    label: str = ""  # a named collection's label ("Local protocol")
    shown: str = ""  # for a digest: "bedside digest of <title>, <issuer> <year>"
    digest: bool = False
    review_note: str = ""


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
    sources_changes: tuple[str, ...] = ()  # what changed in the article's sources since it was composed


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


def article_view(
    answer: Answer,
    documents: Mapping[str, str],
    conversation: str = "",
    sections: Mapping[str, str] | None = None,
    *,
    desk: bool = False,
) -> ArticleView:
    """The page's view of a rendered answer; `documents` maps document id -> stored text (for source quotes) and
    `sections` passage id -> its section heading (the quote's locator). The public never sees a passage quoted
    under an editor's statement it does not support; the review desk (`desk`) does, to judge it."""
    refs = {r.number: r for r in answer.references}
    sections = sections or {}

    def view(s: Statement) -> StatementView:
        cites = []
        unsupported = s.editor and not s.supported
        hide = unsupported and not desk
        for n in s.citations:
            ref = refs.get(n)
            if ref is None:
                cites.append(Citation(n, "", ""))
                continue
            spans = [p for p in s.provenance if p.document_id == ref.document_id and not hide]
            text = documents.get(ref.document_id, "")
            shown = [p for p in spans if 0 <= p.start < p.end <= len(text)]
            quote = " … ".join(text[p.start : p.end].strip() for p in shown)
            locator = " · ".join(h for h in dict.fromkeys(_heading(sections.get(p.passage_id, "")) for p in shown) if h)
            cite = Citation(n, ref.shown_title, quote, locator, ref.digest, ref.review_note, ref.url)
            if desk and shown:
                before, after = neighbours(text, shown[0].start, shown[-1].end)
                cite = replace(
                    cite,
                    before=before,
                    after=after,
                    document_id=ref.document_id,
                    start=shown[0].start,
                    end=shown[0].end,
                )
            cites.append(cite)
        return StatementView(lead_of(s, answer.audience), s.text, tuple(cites), s.editor, not unsupported, s.check)

    return ArticleView(
        slug=answer.slug,
        question=answer.question,
        title=answer.title,
        audience=answer.audience,
        status=answer.status,
        status_label=STATUS_LABELS.get(answer.status, answer.status),
        steps=review_steps(answer.status),
        pending=answer.status != "approved",
        updated=answer.updated,
        insufficient_evidence=answer.insufficient_evidence,
        searched=answer.searched,
        bottom_line=tuple(view(s) for s in answer.bottom_line),
        sections=tuple(
            SectionView(sec.heading, f"s{i}", tuple(view(s) for s in sec.statements))
            for i, sec in enumerate(answer.sections, 1)
        ),
        references=tuple(
            ReferenceView(
                r.number,
                r.type.label,
                r.type.value,
                r.title,
                r.source,
                r.year,
                r.url,
                r.notes,
                r.label,
                r.shown_title,
                r.digest,
                r.review_note,
            )
            for r in answer.references
        ),
        disclaimer=answer.disclaimer,
        notices=answer.notices,
        conversation=conversation,
        composer=answer.composer,
    )


NEIGHBOUR_CHARS = 600  # how far to look for the neighbouring sentences


def neighbours(text: str, start: int, end: int) -> tuple[str, str]:
    """The sentence before text[start:end] and the sentence after it ("" at either end of a section)."""
    lead = max(0, start - NEIGHBOUR_CHARS)
    before = [text[a:b] for a, b in split_spans(text, lead, start) if text[a:b].strip()]
    after = [text[a:b] for a, b in split_spans(text, end, min(len(text), end + NEIGHBOUR_CHARS)) if text[a:b].strip()]
    # a neighbour cut off by the window (or across a paragraph break into a heading) is still shown as found
    return (before[-1].strip() if before else ""), (after[0].strip() if after else "")


def _heading(section: str) -> str:
    """The innermost heading of a section path ("Guideline > Treatment" -> "Treatment")."""
    return section.rsplit(" > ", 1)[-1].strip()


def cited_documents(answer: Answer) -> list[str]:
    """The ids of the documents an answer cites, in reference order."""
    return [r.document_id for r in answer.references]
