"""The answer JSON (interfaces.md), defined once.

`Answer.to_dict` and `Answer.from_dict`, the JSON API's response model (and so its OpenAPI schema), the MCP tool's
output, and the answers stored in conversations and article versions all go through these models, so a field added
to an `Answer` that is missing here fails the round-trip test instead of being lost.

Reading is lenient where bedside's own stored answers need it: every shape it has written loads (older versions
lack `kind`, `notes`, `label`, `digest`, the newer `meta` keys; a bottom-line sentence was marked only by
`"indirect": true`). Writing keeps the documented shape: keys that mark something rare (`kind`, `indirect`,
`editor`, `digest`, ...) appear only when they say something.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, field_validator, model_serializer

from bedside.model.answer import Answer, AnswerSection, Provenance, QuestionType, Reference, Statement
from bedside.model.document import DocumentId, EvidenceType, PassageId

__all__ = ["AnswerJSON", "AnswerMeta", "ProvenanceJSON", "ReferenceJSON", "SectionJSON", "StatementJSON"]

Audience = Literal["clinician", "student", "patient"]
_PROVENANCE_KEYS = frozenset({"passage_id", "document_id", "start", "end"})


class _Part(BaseModel):
    """A part of the answer JSON: unknown keys are ignored on reading; `_OMIT` names the keys left out on writing
    while a test on the dumped part holds (a rare marker at its default)."""

    # Serialised defaults count as required in the OpenAPI schema: a client may rely on them; `_OMIT` keys are not.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_serialization_defaults_required=True,
        json_schema_extra=lambda s, cls: _optional(s, cls),
    )
    _OMIT: ClassVar[dict[str, Callable[[dict[str, Any]], bool]]] = {}

    # Unannotated on purpose: pydantic reads a return annotation here as the serialised JSON schema.
    @model_serializer(mode="wrap")
    def _leave_out_defaults(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        out = handler(self)
        for key in [k for k, omit in self._OMIT.items() if k in out and omit(out)]:
            del out[key]
        return out


def _optional(schema: dict[str, Any], cls: type[_Part]) -> None:
    if "required" in schema:
        schema["required"] = [name for name in schema["required"] if name not in cls._OMIT]


class ProvenanceJSON(_Part):
    """The exact source of a statement: `document_text[start:end]` of the document, within the passage."""

    passage_id: str
    document_id: str
    start: int
    end: int

    @classmethod
    def of(cls, p: Provenance) -> ProvenanceJSON:
        return cls(passage_id=p.passage_id, document_id=p.document_id, start=p.start, end=p.end)

    def provenance(self) -> Provenance:
        return Provenance(PassageId(self.passage_id), DocumentId(self.document_id), self.start, self.end)


class StatementJSON(_Part):
    """One statement (a bullet, or a sentence of the bottom line) with its citations and exact sources."""

    text: str = ""
    citations: list[int] = Field(default_factory=list, description="reference numbers, at least one")
    provenance: list[ProvenanceJSON] = Field(default_factory=list, description="the source span of each citation")
    kind: str = Field(
        default="",
        description="why the statement is where it is ('warning', 'dose', 'threshold', 'indirect', ...); "
        "left out when it has none",
    )
    indirect: bool = Field(
        default=False,
        description="true for a bottom-line sentence that does not itself decide the yes/no question "
        "asked (readers frame it so); the same as kind 'indirect', left out when false",
    )
    editor: bool = Field(default=False, description="true for an editor's words; left out when false")
    supported: bool | None = Field(
        default=None,
        description="an editor's statement: whether the verifier found it in its cited passages (null: "
        "not checked, so unsupported)",
    )
    check: str = Field(default="", description="an editor's statement: the verifier's reason")

    _OMIT: ClassVar[dict[str, Callable[[dict[str, Any]], bool]]] = {
        "kind": lambda d: not d["kind"],
        "indirect": lambda d: not d["indirect"],
        "editor": lambda d: not d["editor"],
        "supported": lambda d: d["supported"] is None and not d.get("editor"),
        "check": lambda d: not d["check"] and not d.get("editor"),
    }

    @field_validator("provenance", mode="before")
    @classmethod
    def _whole_spans(cls, value: Any) -> Any:
        """Entries missing a field were kept by older editing code; they name no span, so they are skipped."""
        if isinstance(value, list):
            return [p for p in value if not isinstance(p, dict) or p.keys() >= _PROVENANCE_KEYS]
        return value

    @classmethod
    def of(cls, s: Statement) -> StatementJSON:
        return cls(
            text=s.text,
            citations=list(s.citations),
            provenance=[ProvenanceJSON.of(p) for p in s.provenance],
            kind=s.kind,
            indirect=s.kind == "indirect",
            editor=s.editor,
            supported=s.supported,
            check=s.check,
        )

    def statement(self) -> Statement:
        return Statement(
            text=self.text,
            citations=tuple(self.citations),
            provenance=tuple(p.provenance() for p in self.provenance),
            kind=self.kind or ("indirect" if self.indirect else ""),
            editor=self.editor,
            supported=self.supported,
            check=self.check,
        )


class SectionJSON(_Part):
    heading: str = ""
    statements: list[StatementJSON] = Field(default_factory=list)

    @classmethod
    def of(cls, section: AnswerSection) -> SectionJSON:
        return cls(heading=section.heading, statements=[StatementJSON.of(s) for s in section.statements])

    def section(self) -> AnswerSection:
        return AnswerSection(self.heading, tuple(s.statement() for s in self.statements))


class ReferenceJSON(_Part):
    """A numbered reference. A digest adds `digest` (true: bedside's own summary of the guideline named in `title`,
    not the guideline's text) and `reviewed` (whether the Medical Advisory Board has checked it)."""

    number: int = 0
    type: str = Field(
        default=EvidenceType.RESEARCH.label,
        description="the evidence type's label: " + ", ".join(t.label for t in EvidenceType) + " (an unknown "
        "label reads as Research)",
    )
    title: str = ""
    source: str = Field(default="", description="publisher, journal or website")
    year: int | None = None
    url: str = Field(default="", description="DOI, PubMed or other link, the best known")
    document_id: str = ""
    notes: list[str] = Field(default_factory=list, description="expressions of concern, errata, updates linked to it")
    label: str = Field(default="", description="its collection's label ('Local protocol'); '' for the literature")
    digest: bool = Field(default=False, description="left out when false")
    reviewed: bool | None = Field(default=None, description="a digest's review state (null: not stated)")

    _OMIT: ClassVar[dict[str, Callable[[dict[str, Any]], bool]]] = {
        "digest": lambda d: not d["digest"],
        "reviewed": lambda d: d["reviewed"] is None and not d.get("digest"),
    }

    @field_validator("year", mode="before")
    @classmethod
    def _year(cls, value: Any) -> Any:
        """A year that is not a whole number (older records held "n.d.") reads as unknown."""
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @field_validator("notes", mode="before")
    @classmethod
    def _notes(cls, value: Any) -> Any:
        return [n for n in value if n] if isinstance(value, list) else value

    @classmethod
    def of(cls, r: Reference) -> ReferenceJSON:
        return cls(
            number=r.number,
            type=r.type.label,
            title=r.title,
            source=r.source,
            year=r.year,
            url=r.url,
            document_id=r.document_id,
            notes=list(r.notes),
            label=r.label,
            digest=r.digest,
            reviewed=r.reviewed,
        )

    def reference(self) -> Reference:
        try:
            kind = EvidenceType.parse(self.type)
        except ValueError:
            kind = EvidenceType.RESEARCH
        return Reference(
            number=self.number,
            document_id=DocumentId(self.document_id),
            type=kind,
            title=self.title,
            source=self.source,
            year=self.year,
            url=self.url,
            reviewed=self.reviewed,
            notes=tuple(self.notes),
            label=self.label,
            digest=self.digest,
        )


class AnswerMeta(_Part):
    """How the answer was made."""

    composer: str = Field(default="extractive", description="'extractive', or 'llm:<model>'")
    dropped_statements: int = Field(default=0, description="statements the verifier dropped as unsupported")
    kb_snapshot: str = Field(default="", description="the knowledge base's state the answer was composed from")
    question_type: QuestionType = QuestionType.GENERAL
    searched: list[str] = Field(default_factory=list, description="the queries run (shown when evidence is short)")
    notices: list[str] = Field(default_factory=list, description="what the reader is told about how it was made")

    @field_validator("question_type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        """A question type this version does not know reads as general."""
        return value if value in {t.value for t in QuestionType} else QuestionType.GENERAL


class AnswerJSON(_Part):
    """The answer JSON of interfaces.md; `slug` names the article, `status` its review status."""

    question: str = ""
    title: str = ""
    audience: Audience = "clinician"
    status: str = Field(default="submitted", description="submitted, under_review, changes_requested, approved, ...")
    updated: str = ""
    conversation: str = Field(default="", description="an id for follow-ups")
    slug: str = ""
    insufficient_evidence: bool = Field(
        default=False,
        description="true when the knowledge base holds too little evidence: the answer says so, "
        "shows what it found, and states nothing else",
    )
    bottom_line: list[StatementJSON] = Field(default_factory=list)
    sections: list[SectionJSON] = Field(default_factory=list)
    references: list[ReferenceJSON] = Field(default_factory=list)
    disclaimer: str = ""
    meta: AnswerMeta = Field(default_factory=AnswerMeta)

    @field_validator("meta", mode="before")
    @classmethod
    def _meta(cls, value: Any) -> Any:
        return {} if value is None else value

    @classmethod
    def of(cls, a: Answer) -> AnswerJSON:
        """The JSON form of an answer."""
        return cls(
            question=a.question,
            title=a.title,
            audience=a.audience,  # type: ignore[arg-type]
            status=a.status,
            updated=a.updated,
            conversation=a.conversation,
            slug=a.slug,
            insufficient_evidence=a.insufficient_evidence,
            bottom_line=[StatementJSON.of(s) for s in a.bottom_line],
            sections=[SectionJSON.of(sec) for sec in a.sections],
            references=[ReferenceJSON.of(r) for r in a.references],
            disclaimer=a.disclaimer,
            meta=AnswerMeta(
                composer=a.composer,
                dropped_statements=a.dropped_statements,
                kb_snapshot=a.kb_snapshot,
                question_type=a.question_type,
                searched=list(a.searched),
                notices=list(a.notices),
            ),
        )

    def answer(self) -> Answer:
        """The answer this JSON describes."""
        return Answer(
            question=self.question,
            title=self.title,
            audience=self.audience,
            bottom_line=tuple(s.statement() for s in self.bottom_line),
            sections=tuple(sec.section() for sec in self.sections),
            references=tuple(r.reference() for r in self.references),
            insufficient_evidence=self.insufficient_evidence,
            question_type=self.meta.question_type,
            conversation=self.conversation,
            slug=self.slug,
            status=self.status,
            updated=self.updated,
            disclaimer=self.disclaimer,
            composer=self.meta.composer,
            dropped_statements=self.meta.dropped_statements,
            kb_snapshot=self.meta.kb_snapshot,
            searched=tuple(self.meta.searched),
            notices=tuple(self.meta.notices),
        )
