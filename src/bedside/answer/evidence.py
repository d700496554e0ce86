"""Evidence passages handed to a composer, and the numbering of references in order of first citation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bedside.model import DocumentId, EvidenceType, PassageId, Provenance, Reference, Statement


@dataclass(frozen=True, slots=True)
class EvidencePassage:
    """A passage a composer may cite. `start` is the passage's offset in its document's text, so a span
    `[a, b)` inside `text` is `[start + a, start + b)` in the document."""

    passage_id: PassageId
    document_id: DocumentId
    text: str
    start: int
    title: str = ""
    section: str = ""
    evidence_type: EvidenceType = EvidenceType.RESEARCH
    year: int | None = None
    source: str = ""
    url: str = ""
    reviewed: bool | None = None
    score: float = 0.0
    notes: tuple[str, ...] = ()  # expressions of concern, errata, updates: shown with the reference
    label: str = ""  # the collection's label ("Local protocol"), shown with the reference
    priority: int = 0  # its collection's priority when the searcher found it on topic (local protocols first)
    digest: bool = False  # the passage is bedside's summary of the guideline named in `title`

    def provenance(self, a: int, b: int) -> Provenance:
        """Provenance of the span text[a:b] of this passage."""
        return Provenance(self.passage_id, self.document_id, self.start + a, self.start + b)


class ReferenceList:
    """Numbers documents in order of first citation; several passages of one document share a number."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._entries: list[Reference] = []

    def cite(self, passage: EvidencePassage) -> int:
        """The reference number of the passage's document, adding it on first use."""
        number = self._numbers.get(passage.document_id)
        if number is None:
            number = len(self._entries) + 1
            self._numbers[passage.document_id] = number
            self._entries.append(
                Reference(
                    number=number,
                    document_id=passage.document_id,
                    type=passage.evidence_type,
                    title=passage.title,
                    source=passage.source,
                    year=passage.year,
                    url=passage.url,
                    reviewed=passage.reviewed,
                    notes=passage.notes,
                    label=passage.label,
                    digest=passage.digest,
                )
            )
        return number

    def references(self) -> tuple[Reference, ...]:
        """The entries, numbered from 1."""
        return tuple(self._entries)


def renumber(
    bottom_line: Iterable[Statement],
    sections: Iterable[tuple[str, Iterable[Statement]]],
    passages: Mapping[str, EvidencePassage],
) -> tuple[tuple[Statement, ...], tuple[tuple[str, tuple[Statement, ...]], ...], tuple[Reference, ...]]:
    """Number references in reading order (bottom line first) from each statement's provenance."""
    refs = ReferenceList()

    def fix(s: Statement) -> Statement:
        numbers = {p.passage_id: refs.cite(passages[p.passage_id]) for p in s.provenance}
        # The first provenance is where the text was taken from; other sources saying the same follow by number.
        provenance = s.provenance[:1] + tuple(sorted(s.provenance[1:], key=lambda p: numbers[p.passage_id]))
        return Statement(s.text, tuple(sorted(set(numbers.values()))), provenance, s.kind)

    new_bottom = tuple(fix(s) for s in bottom_line)
    new_sections = tuple((h, tuple(fix(s) for s in stmts)) for h, stmts in sections)
    return new_bottom, new_sections, refs.references()
