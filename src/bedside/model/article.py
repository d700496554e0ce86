"""What an article's "sources changed" check learns about the documents the article cites."""

from __future__ import annotations

from dataclasses import dataclass


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
