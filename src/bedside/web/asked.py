"""What an answer becomes on the web: an article (or not: `is_article`), an answer shown only to its asker
(`unpublished_answer`), and the result of asking (`Asked`) with the trail of a conversation (`TrailItem`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bedside.answer.audience import render_for
from bedside.answer.identifiers import identifier_notice
from bedside.answer.render import DISCLAIMER, PATIENT_DISCLAIMER
from bedside.editorial.interface import Article
from bedside.model import Answer, Document
from bedside.text.analysis import analyze
from bedside.web.views import check_audience

__all__ = [
    "MIN_QUESTION_TERMS",
    "UNPUBLISHED",
    "Asked",
    "TrailItem",
    "asks_enough",
    "first_asked",
    "is_article",
    "unpublished_answer",
    "with_digests",
    "with_removed_notice",
]

UNPUBLISHED = "unpublished"  # the status of an answer shown to its asker but never made an article


@dataclass(frozen=True, slots=True)
class Asked:
    """The result of asking: the article (None for an answer that abstained: too little evidence, or off-topic),
    its answer for the reader, and the conversation it belongs to."""

    article: Article | None
    answer: Answer
    conversation: str
    removed: tuple[str, ...] = ()  # kinds of patient identifier removed from the question before anything was stored

    @property
    def path(self) -> str:
        """Where the asker reads it, without the conversation id: the article, or the conversation's last answer."""
        return f"/articles/{self.article.slug}" if self.article is not None else "/answer"


@dataclass(frozen=True, slots=True)
class TrailItem:
    """An earlier question of a conversation, as it reads on its own, and its article's address ("" for none)."""

    question: str
    slug: str
    url: str = ""


def first_asked(article: Article) -> str:
    """The question as first asked (its casing kept), else the article's normalised key."""
    version = article.public_version or article.latest
    return str(version.answer.get("question") or article.question)


def with_digests(answer: Answer, docs: Mapping[str, Document]) -> Answer:
    """The answer with every reference to a digest marked as one (answers stored before references said so)."""
    refs = tuple(
        replace(r, digest=True, reviewed=docs[r.document_id].reviewed)
        if not r.digest and r.document_id in docs and docs[r.document_id].guideline
        else r
        for r in answer.references
    )
    return replace(answer, references=refs) if refs != answer.references else answer


def with_removed_notice(answer: Answer, removed: tuple[str, ...]) -> Answer:
    """The answer with a notice naming the kinds of patient identifier removed from its question (when any were)."""
    return replace(answer, notices=(identifier_notice(removed), *answer.notices)) if removed else answer


# An article answers a question: one word ("b12?") names a subject without asking anything of it.
MIN_QUESTION_TERMS = 2


def is_article(answer: Answer | dict[str, Any]) -> bool:
    """Whether an answer may become (or be listed as) an article: not when it abstained for lack of evidence, nor
    when its question is too short to say what it asks (fewer than MIN_QUESTION_TERMS content words)."""
    if isinstance(answer, Answer):
        insufficient, question = answer.insufficient_evidence, answer.question
    else:
        insufficient, question = bool(answer.get("insufficient_evidence")), str(answer.get("question") or "")
    return not insufficient and asks_enough(question)


def asks_enough(question: str) -> bool:
    """Whether a question names at least MIN_QUESTION_TERMS content words (analysed, stop words left out)."""
    return len(set(analyze(question))) >= MIN_QUESTION_TERMS


def unpublished_answer(answer: Answer, audience: str) -> Answer:
    """An answer shown only to its asker, rendered for their reader type."""
    shown = render_for(replace(answer, audience="clinician"), check_audience(audience))
    disclaimer = PATIENT_DISCLAIMER if audience == "patient" else (answer.disclaimer or DISCLAIMER)
    return replace(shown, slug="", status=UNPUBLISHED, disclaimer=disclaimer)
