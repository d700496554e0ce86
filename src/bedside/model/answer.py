"""Answers: statements with their citations and provenance, sections, references, and the answer itself.

Frozen dataclasses; their JSON form is defined once, in `bedside.model.answer_json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bedside.model.document import DocumentId, EvidenceType, PassageId


class QuestionType(StrEnum):
    """What kind of answer a question asks for; chooses the answer's sections."""

    YES_NO = "yes-no"
    TREATMENT = "treatment"
    DOSING = "dosing"
    DIAGNOSIS = "diagnosis"
    MONITORING = "monitoring"
    PROGNOSIS = "prognosis"
    CAUSE = "cause"
    COMPARISON = "comparison"
    DEFINITION = "definition"
    GENERAL = "general"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a statement comes from: a passage and the character span inside its document's text."""

    passage_id: PassageId
    document_id: DocumentId
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Statement:
    """One sentence of an answer with the references that support it.

    Invariant: never empty `citations`; `provenance[i]` is the exact source span behind the statement.
    """

    text: str
    citations: tuple[int, ...]
    provenance: tuple[Provenance, ...]
    kind: str = ""  # e.g. "warning", "dose", "threshold": why it was placed where it is
    editor: bool = False  # an editor's words, not a sentence taken from (or checked against) a source by bedside
    supported: bool | None = None  # for an editor's statement: whether the verifier found it in its cited passages
    check: str = ""  # the verifier's reason, for an editor's statement

    @classmethod
    def from_dict(cls, data: Any) -> Statement:
        """The inverse of `to_dict` (`StatementJSON`)."""
        from bedside.model.answer_json import StatementJSON  # the schema module imports this one

        return StatementJSON.model_validate(data).statement()

    def to_dict(self) -> dict[str, Any]:
        """The statement's JSON form (`StatementJSON`)."""
        from bedside.model.answer_json import StatementJSON

        return StatementJSON.of(self).model_dump(mode="json")


@dataclass(frozen=True, slots=True)
class AnswerSection:
    """A titled group of statements."""

    heading: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True, slots=True)
class Reference:
    """A numbered entry of the reference list."""

    number: int
    document_id: DocumentId
    type: EvidenceType
    title: str
    source: str
    year: int | None
    url: str
    reviewed: bool | None = None  # digests: checked by the advisory board
    notes: tuple[str, ...] = ()  # expressions of concern, errata, updates linked to the source
    label: str = ""  # the collection's label for a source from a named collection ("Local protocol")
    digest: bool = False  # bedside's own summary of the guideline named in `title`, not the guideline's text

    @classmethod
    def from_dict(cls, data: Any) -> Reference:
        """The inverse of `to_dict` (`ReferenceJSON`); an unknown type label reads as Research."""
        from bedside.model.answer_json import ReferenceJSON  # the schema module imports this one

        return ReferenceJSON.model_validate(data).reference()

    def to_dict(self) -> dict[str, Any]:
        """The reference's JSON form (`ReferenceJSON`)."""
        from bedside.model.answer_json import ReferenceJSON

        return ReferenceJSON.of(self).model_dump(mode="json")

    @property
    def shown_title(self) -> str:
        """What the source is, for a reader: the title, or for a digest "bedside digest of <title>, <issuer> <year>"."""
        if not self.digest:
            return self.title
        issued = " ".join(x for x in (self.source, str(self.year) if self.year else "") if x)
        return f"bedside digest of {self.title.rstrip('.')}" + (f", {issued}" if issued else "")

    @property
    def review_note(self) -> str:
        """A digest's review state in words ("" for other sources)."""
        if not self.digest:
            return ""
        return (
            "reviewed by the Medical Advisory Board"
            if self.reviewed
            else "not yet reviewed by the Medical Advisory Board"
        )


@dataclass(frozen=True, slots=True)
class Answer:
    """A composed, cited answer. `to_dict()` gives the public JSON form, `from_dict` reads it back."""

    question: str
    title: str
    audience: str
    bottom_line: tuple[Statement, ...]
    sections: tuple[AnswerSection, ...]
    references: tuple[Reference, ...]
    insufficient_evidence: bool
    question_type: QuestionType = QuestionType.GENERAL
    conversation: str = ""
    slug: str = ""
    status: str = "submitted"
    updated: str = ""
    disclaimer: str = ""
    composer: str = "extractive"
    dropped_statements: int = 0
    kb_snapshot: str = ""
    searched: tuple[str, ...] = ()  # the queries run, shown when evidence is insufficient
    notices: tuple[str, ...] = ()

    def statements(self) -> tuple[Statement, ...]:
        """Every statement in reading order, bottom line first."""
        return self.bottom_line + tuple(s for sec in self.sections for s in sec.statements)

    @classmethod
    def from_dict(cls, data: Any) -> Answer:
        """Rebuild an Answer from its JSON form (`AnswerJSON`), e.g. to render a stored version again.

        Reads every shape bedside has stored; raises pydantic's ValidationError (naming the field) otherwise."""
        from bedside.model.answer_json import AnswerJSON  # the schema module imports this one

        return AnswerJSON.model_validate(data).answer()

    def to_dict(self) -> dict[str, Any]:
        """The answer JSON documented in interfaces.md (`AnswerJSON`)."""
        from bedside.model.answer_json import AnswerJSON

        return AnswerJSON.of(self).model_dump(mode="json")
