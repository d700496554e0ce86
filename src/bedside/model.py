"""Plain data types shared by every part of bedside.

Frozen dataclasses only: no storage, web or CLI knowledge lives here.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NewType

DocumentId = NewType("DocumentId", str)
PassageId = NewType("PassageId", str)


class EvidenceType(StrEnum):
    """The kind of source a document is, strongest first."""

    GUIDELINE = "guideline"
    SYSTEMATIC_REVIEW = "systematic-review"
    RANDOMIZED_TRIAL = "randomized-trial"
    OBSERVATIONAL = "observational-study"
    REVIEW = "review"
    CASE_REPORT = "case-report"
    CONSUMER_HEALTH = "consumer-health"
    RESEARCH = "research"

    @property
    def label(self) -> str:
        """The human label used in reference lists."""
        return _LABELS[self]

    @property
    def rank(self) -> int:
        """0 for the strongest kind of evidence, larger for weaker."""
        return list(EvidenceType).index(self)

    @classmethod
    def parse(cls, value: str) -> EvidenceType:
        """Accept a value, a label or a loose spelling ("Systematic Review", "rct")."""
        key = re.sub(r"[\s_]+", "-", value.strip().lower())
        found = _ALIASES.get(key)
        if found is None:
            allowed = ", ".join(t.value for t in cls)
            raise ValueError(f"unknown evidence type {value!r} (expected one of: {allowed})")
        return found


_LABELS = {
    EvidenceType.GUIDELINE: "Guideline",
    EvidenceType.SYSTEMATIC_REVIEW: "Systematic review",
    EvidenceType.RANDOMIZED_TRIAL: "Randomized trial",
    EvidenceType.OBSERVATIONAL: "Observational study",
    EvidenceType.REVIEW: "Review",
    EvidenceType.CASE_REPORT: "Case report",
    EvidenceType.CONSUMER_HEALTH: "Consumer health",
    EvidenceType.RESEARCH: "Research",
}

_ALIASES: dict[str, EvidenceType] = {}
for _t in EvidenceType:
    _ALIASES[_t.value] = _t
    _ALIASES[_t.label.lower().replace(" ", "-")] = _t
_ALIASES.update(
    {
        "guidelines": EvidenceType.GUIDELINE,
        "practice-guideline": EvidenceType.GUIDELINE,
        "meta-analysis": EvidenceType.SYSTEMATIC_REVIEW,
        "rct": EvidenceType.RANDOMIZED_TRIAL,
        "randomized-controlled-trial": EvidenceType.RANDOMIZED_TRIAL,
        "randomised-trial": EvidenceType.RANDOMIZED_TRIAL,
        "observational": EvidenceType.OBSERVATIONAL,
        "cohort": EvidenceType.OBSERVATIONAL,
        "case-reports": EvidenceType.CASE_REPORT,
        "consumer": EvidenceType.CONSUMER_HEALTH,
        "patient-information": EvidenceType.CONSUMER_HEALTH,
        "article": EvidenceType.RESEARCH,
    }
)


@dataclass(frozen=True, slots=True)
class Block:
    """A section of a document's text: heading and the character span it covers."""

    heading: str
    start: int
    end: int
    page: int | None = None


class CorrectionKind(StrEnum):
    """A link between a record and a notice about it (MEDLINE CommentsCorrections RefType), by direction.

    The "...In" kinds sit on the article concerned and name the notice; the "...Of"/"...For" kinds sit on the
    notice and name the article it concerns.
    """

    RETRACTION_IN = "RetractionIn"
    RETRACTION_OF = "RetractionOf"
    RETRACTED_AND_REPUBLISHED_IN = "RetractedandRepublishedIn"
    RETRACTED_AND_REPUBLISHED_FROM = "RetractedandRepublishedFrom"
    CONCERN_IN = "ExpressionOfConcernIn"
    CONCERN_FOR = "ExpressionOfConcernFor"
    ERRATUM_IN = "ErratumIn"
    ERRATUM_FOR = "ErratumFor"
    UPDATE_IN = "UpdateIn"
    UPDATE_OF = "UpdateOf"

    @property
    def inverse(self) -> CorrectionKind:
        """The same link seen from the other record (RetractionOf on a notice is RetractionIn on its article)."""
        return _INVERSE[self]

    @property
    def points_back(self) -> bool:
        """True for the kinds a notice (or a newer version) carries about the article it concerns."""
        return self.value.endswith(("Of", "For", "From"))

    @property
    def label(self) -> str:
        """How a reference list names the notice this link points to."""
        return _CORRECTION_LABELS[self]


_INVERSE = {
    CorrectionKind.RETRACTION_IN: CorrectionKind.RETRACTION_OF,
    CorrectionKind.RETRACTED_AND_REPUBLISHED_IN: CorrectionKind.RETRACTED_AND_REPUBLISHED_FROM,
    CorrectionKind.CONCERN_IN: CorrectionKind.CONCERN_FOR,
    CorrectionKind.ERRATUM_IN: CorrectionKind.ERRATUM_FOR,
    CorrectionKind.UPDATE_IN: CorrectionKind.UPDATE_OF,
}
_INVERSE.update({v: k for k, v in list(_INVERSE.items())})

_CORRECTION_LABELS = {
    CorrectionKind.RETRACTION_IN: "Retracted",
    CorrectionKind.RETRACTION_OF: "Retraction notice for",
    CorrectionKind.RETRACTED_AND_REPUBLISHED_IN: "Retracted and republished",
    CorrectionKind.RETRACTED_AND_REPUBLISHED_FROM: "Republished version of",
    CorrectionKind.CONCERN_IN: "Expression of concern",
    CorrectionKind.CONCERN_FOR: "Expression of concern about",
    CorrectionKind.ERRATUM_IN: "Erratum",
    CorrectionKind.ERRATUM_FOR: "Erratum for",
    CorrectionKind.UPDATE_IN: "Updated version",
    CorrectionKind.UPDATE_OF: "Update of",
}

# A record carrying one of these is the retracted article itself.
RETRACTING = frozenset({CorrectionKind.RETRACTION_IN, CorrectionKind.RETRACTED_AND_REPUBLISHED_IN})
# A record carrying one of these is a notice about another article, not evidence of its own.
NOTICE_OF = {
    CorrectionKind.RETRACTION_OF: "retraction notice",
    CorrectionKind.CONCERN_FOR: "expression of concern",
    CorrectionKind.ERRATUM_FOR: "erratum",
}
# The notes a reference shows for these links (others are shown by exclusion, never as a note).
REFERENCE_NOTES = (CorrectionKind.CONCERN_IN, CorrectionKind.ERRATUM_IN, CorrectionKind.UPDATE_IN)


@dataclass(frozen=True, slots=True)
class Correction:
    """A link from a document to a notice about it, or from a notice to the document it concerns.

    `inbound` marks a link the knowledge store derived from the other record (a retraction notice that names this
    document), not one the document's own record states; it is not part of the document's content hash.
    """

    kind: CorrectionKind
    pmid: str = ""
    source: str = ""  # the citation as the record gives it ("Lancet. 2010 Feb 6;375(9713):445")
    inbound: bool = False

    @property
    def note(self) -> str:
        """ "Expression of concern: Lancet. 2010 ... (PMID 20137807)"."""
        where = self.source or ""
        if self.pmid:
            where = f"{where} (PMID {self.pmid})" if where else f"PMID {self.pmid}"
        return f"{self.kind.label}: {where}" if where else self.kind.label


@dataclass(frozen=True, slots=True)
class Document:
    """One source, with its full plain text and bibliographic facts."""

    id: DocumentId
    title: str
    text: str
    evidence_type: EvidenceType = EvidenceType.RESEARCH
    source: str = ""  # journal, publisher or website
    year: int | None = None
    authors: tuple[str, ...] = ()
    url: str = ""
    doi: str = ""
    pmid: str = ""
    issuer: str = ""  # for guidelines: the body that issued it
    guideline: str = ""  # for digests: the exact title of the guideline summarised
    format: str = ""  # reader that produced it
    origin: str = ""  # file (and record) it came from
    reviewed: bool | None = None  # digests: checked by the advisory board
    topics: tuple[str, ...] = ()
    blocks: tuple[Block, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()
    # Ingestion warnings ("dropped 2 hidden text fragments (display:none: 2)"); about the source file, so not hashed.
    flags: tuple[str, ...] = ()
    # Notices linked to this record (retraction, expression of concern, erratum, update), or the article a notice
    # is about; the store adds the links other records state about this one (`Correction.inbound`).
    corrections: tuple[Correction, ...] = ()
    retracted: bool = False  # the record says so (publication type "Retracted Publication"), or a notice does
    notice: str = ""  # when this record is itself a notice about another: "retraction notice", "erratum", ...
    collection: str = ""  # the named collection it was ingested into ("local-protocols"); "" for the literature

    @property
    def content_hash(self) -> str:
        """A hash of everything that makes this document what it is (not where it came from)."""
        h = hashlib.sha256()
        for part in (
            self.id, self.title, self.text, self.evidence_type.value, self.source,
            str(self.year or ""), "\x1f".join(self.authors), self.url, self.doi, self.pmid,
            self.issuer, self.guideline, str(self.reviewed), "\x1f".join(self.topics),
            repr(self.blocks), repr(self.extra),
        ):  # fmt: skip
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\x1e")
        # Added later, hashed only when set, so documents without them keep the hashes they always had.
        own = [(c.kind.value, c.pmid, c.source) for c in self.corrections if not c.inbound]
        for name, value in (("corrections", repr(own) if own else ""), ("notice", self.notice),
                            ("collection", self.collection)):  # fmt: skip
            if value:
                h.update(f"{name}={value}".encode("utf-8", "surrogatepass"))
                h.update(b"\x1e")
        return h.hexdigest()

    @property
    def withdrawn(self) -> bool:
        """Never evidence: a retracted article, or a notice about another article."""
        return self.retracted or bool(self.notice)

    def notes(self) -> tuple[str, ...]:
        """What a reference to this document must show beside it: expressions of concern, errata, updates."""
        return tuple(dict.fromkeys(c.note for c in self.corrections if c.kind in REFERENCE_NOTES))

    @property
    def link(self) -> str:
        """The best link for a reader: DOI, then PubMed, then URL."""
        if self.doi:
            return f"https://doi.org/{self.doi}"
        if self.pmid:
            return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"
        return self.url


@dataclass(frozen=True, slots=True)
class NewerVersion:
    """A document that replaces another: the same guideline issued in a later year, or a MEDLINE update."""

    document_id: str  # "" when only the record's UpdateIn names it and it is not in the knowledge base
    title: str
    year: int | None = None
    pmid: str = ""


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the knowledge base says now about a document an article cites (for "sources changed" checks)."""

    content_hash: str
    title: str = ""
    retracted: bool = False
    retraction: str = ""  # the notice that retracts it, as a reference note ("Retracted: ... (PMID 1)")
    notice: str = ""  # it is itself a notice about another article
    newer: tuple[NewerVersion, ...] = ()
    notes: tuple[str, ...] = ()  # expressions of concern, errata, updates, as a reference shows them


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk of a document; `text == document.text[start:end]` always holds."""

    id: PassageId
    document_id: DocumentId
    text: str
    start: int
    end: int
    section: str = ""
    page: int | None = None
    ordinal: int = 0


def passage_id(document_id: str, start: int) -> PassageId:
    """The stable id of the passage that starts at `start` in its document."""
    return PassageId(f"{document_id}#{start}")


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One ranked passage with the facts needed to cite it."""

    passage_id: PassageId
    document_id: DocumentId
    score: float
    text: str
    section: str
    title: str
    evidence_type: EvidenceType
    year: int | None
    source: str
    start: int
    end: int
    url: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    withdrawn: str = ""  # "retracted", "retraction notice", ...: shown only when a search asks to include them
    collection: str = ""
    priority: int = 0  # its collection's priority, when the searcher ranked it first for being on topic


@dataclass(frozen=True, slots=True)
class IndexRow:
    """What a search index needs to know about a passage to index and filter it."""

    seq: int
    passage_id: PassageId
    document_id: DocumentId
    text: str
    context: str  # title, section heading, topics: words that describe the passage
    evidence_type: EvidenceType
    year: int | None
    source: str
    title: str = ""
    section: str = ""

    @property
    def embedding_text(self) -> str:
        """What a dense model reads: the passage with its document title and section heading."""
        head = ". ".join(x for x in (self.title, self.section.rsplit(" > ", 1)[-1]) if x)
        return f"{head}. {self.text}" if head else self.text


# -- answers ---------------------------------------------------------------------------------------


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
    def from_dict(cls, data: dict[str, Any]) -> Statement:
        """The inverse of `to_dict` (provenance entries missing a field are skipped)."""
        return cls(
            text=str(data.get("text", "")),
            citations=tuple(int(n) for n in data.get("citations", [])),
            provenance=tuple(
                Provenance(PassageId(str(p["passage_id"])), DocumentId(str(p["document_id"])), int(p["start"]),
                           int(p["end"]))
                for p in data.get("provenance", [])
                if {"passage_id", "document_id", "start", "end"} <= p.keys()
            ),
            kind="indirect" if data.get("indirect") else "",
            editor=data.get("editor") is True,
            supported=data["supported"] if isinstance(data.get("supported"), bool) else None,
            check=str(data.get("check") or ""),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The statement's JSON form; `"indirect": true` marks a bottom-line sentence that does not itself decide the
        yes/no question asked (readers frame it so); `"editor": true` an editor's words, with `"supported"` and
        `"check"` saying whether the verifier found them in the cited passages."""
        out: dict[str, Any] = {
            "text": self.text,
            "citations": list(self.citations),
            "provenance": [
                {"passage_id": p.passage_id, "document_id": p.document_id, "start": p.start, "end": p.end}
                for p in self.provenance
            ],
        }
        if self.kind == "indirect":
            out["indirect"] = True
        if self.editor:
            out.update(editor=True, supported=bool(self.supported), check=self.check)
        return out


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
    def from_dict(cls, data: dict[str, Any]) -> Reference:
        """The inverse of `to_dict`; an unknown type label reads as Research."""
        try:
            kind = EvidenceType.parse(str(data.get("type", "")))
        except ValueError:
            kind = EvidenceType.RESEARCH
        year = data.get("year")
        return cls(
            number=int(data.get("number", 0)), document_id=DocumentId(str(data.get("document_id", ""))), type=kind,
            title=str(data.get("title", "")), source=str(data.get("source", "")),
            year=int(year) if isinstance(year, int) else None, url=str(data.get("url", "")),
            notes=tuple(str(n) for n in data.get("notes", ()) if n), label=str(data.get("label", "")),
            reviewed=data["reviewed"] if isinstance(data.get("reviewed"), bool) else None,
            digest=data.get("digest") is True,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The reference's JSON form; a digest adds `"digest": true` and its review state `"reviewed"`."""
        out: dict[str, Any] = {
            "number": self.number, "type": self.type.label, "title": self.title, "source": self.source,
            "year": self.year, "url": self.url, "document_id": self.document_id, "notes": list(self.notes),
            "label": self.label,
        }  # fmt: skip
        if self.digest:
            out.update(digest=True, reviewed=bool(self.reviewed))
        return out

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
    """A composed, cited answer. `to_dict()` (in bedside.answer.render) gives the public JSON form."""

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
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        """Rebuild an Answer from its JSON form (interfaces.md), e.g. to render a stored version again."""
        meta = data.get("meta") or {}
        try:
            qtype = QuestionType(meta.get("question_type", "general"))
        except ValueError:
            qtype = QuestionType.GENERAL
        return cls(
            question=str(data.get("question", "")), title=str(data.get("title", "")),
            audience=str(data.get("audience", "clinician")),
            bottom_line=tuple(Statement.from_dict(s) for s in data.get("bottom_line", [])),
            sections=tuple(
                AnswerSection(str(sec.get("heading", "")), tuple(map(Statement.from_dict, sec.get("statements", []))))
                for sec in data.get("sections", [])
            ),
            references=tuple(Reference.from_dict(r) for r in data.get("references", [])),
            insufficient_evidence=bool(data.get("insufficient_evidence", False)), question_type=qtype,
            conversation=str(data.get("conversation", "")), slug=str(data.get("slug", "")),
            status=str(data.get("status", "submitted")), updated=str(data.get("updated", "")),
            disclaimer=str(data.get("disclaimer", "")), composer=str(meta.get("composer", "extractive")),
            dropped_statements=int(meta.get("dropped_statements", 0)), kb_snapshot=str(meta.get("kb_snapshot", "")),
            searched=tuple(meta.get("searched", ())), notices=tuple(meta.get("notices", ())),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The answer JSON documented in interfaces.md."""
        return {
            "question": self.question, "title": self.title, "audience": self.audience, "status": self.status,
            "updated": self.updated, "conversation": self.conversation, "slug": self.slug,
            "insufficient_evidence": self.insufficient_evidence,
            "bottom_line": [s.to_dict() for s in self.bottom_line],
            "sections": [
                {"heading": sec.heading, "statements": [s.to_dict() for s in sec.statements]} for sec in self.sections
            ],
            "references": [r.to_dict() for r in self.references],
            "disclaimer": self.disclaimer,
            "meta": {
                "composer": self.composer, "dropped_statements": self.dropped_statements,
                "kb_snapshot": self.kb_snapshot, "question_type": self.question_type.value,
                "searched": list(self.searched), "notices": list(self.notices),
            },
        }  # fmt: skip
