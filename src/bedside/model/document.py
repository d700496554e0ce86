"""Documents, passages and search results: the plain data every part of bedside reads.

Frozen dataclasses only: no storage, web or CLI knowledge lives here.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NewType

from bedside.model.corrections import REFERENCE_NOTES, Correction

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
            self.id,
            self.title,
            self.text,
            self.evidence_type.value,
            self.source,
            str(self.year or ""),
            "\x1f".join(self.authors),
            self.url,
            self.doi,
            self.pmid,
            self.issuer,
            self.guideline,
            str(self.reviewed),
            "\x1f".join(self.topics),
            repr(self.blocks),
            repr(self.extra),
        ):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\x1e")
        # Added later, hashed only when set, so documents without them keep the hashes they always had.
        own = [(c.kind.value, c.pmid, c.source) for c in self.corrections if not c.inbound]
        for name, value in (
            ("corrections", repr(own) if own else ""),
            ("notice", self.notice),
            ("collection", self.collection),
        ):
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
