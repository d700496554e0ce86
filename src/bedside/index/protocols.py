"""The index's contracts: `SearchIndex`, which every search index implements, with the filters it understands, and
`Embedder`, which maps texts to vectors. The answer engine sees the index through these alone."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from bedside.model import EvidenceType, IndexRow

__all__ = [
    "F32",
    "Candidate",
    "ChangeSource",
    "DenseRetriever",
    "Embedder",
    "Filters",
    "IndexRow",
    "LexicalRetriever",
    "PassageFacts",
    "SearchIndex",
    "SyncProgress",
    "SyncReport",
    "TitleFocus",
]

F32 = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Maps texts to unit-length float32 vectors whose dot product is their cosine similarity. A text with nothing
    to embed (HashingEmbedder: no word characters) may map to the zero vector."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> F32:
        """Return shape (len(texts), dim), float32, one L2-normalised row per text, in input order."""
        ...

    def digest(self) -> str:
        """Return the identity of what computes the vectors (a model's files); equal digests, equal vectors up to
        the runtime's rounding."""
        ...

    def embed_query(self, text: str) -> F32:
        """Return shape (dim,): the vector of a search query. For most models the row `embed([text])` would give;
        a model trained with a query instruction (bge-small) adds it here."""
        ...


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrict a search; every given condition must hold."""

    evidence_types: frozenset[EvidenceType] = frozenset()
    year_min: int | None = None
    year_max: int | None = None
    sources: frozenset[str] = frozenset()
    document_ids: frozenset[str] = frozenset()
    # Retracted articles and notices about articles are never evidence; a search leaves them out unless asked.
    # Applied by the searcher over the indexes (it needs the store's current word on each document).
    include_withdrawn: bool = False

    @property
    def empty(self) -> bool:
        """True when nothing is filtered."""
        return not (self.evidence_types or self.sources or self.document_ids) and (
            self.year_min is None and self.year_max is None
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A passage found by one retriever: its sequence number in the store and the retriever's score."""

    seq: int
    score: float


@dataclass
class SyncReport:
    """What one sync applied."""

    documents: int = 0
    added: int = 0
    removed_documents: int = 0
    extras: dict[str, float] = field(default_factory=dict)


SyncProgress = Callable[[int, int], None]  # (done, total) passages


class ChangeSource(Protocol):
    """Where an index reads changes from: the knowledge store."""

    def changes_after(self, seq: int) -> list[tuple[int, str, str]]: ...
    def index_rows(self, document_ids: list[str] | None) -> list[IndexRow]: ...
    def last_change(self) -> int: ...
    def pruned_upto(self) -> int: ...
    def document_ids(self) -> list[str]: ...


class SearchIndex(Protocol):
    """A passage index that follows the store's change log and answers ranked queries with filters."""

    name: str

    def sync(self, source: ChangeSource, progress: SyncProgress | None = None) -> SyncReport:
        """Apply every change after this index's watermark; idempotent and crash-safe."""
        ...

    def search(self, query: str, limit: int = 100, filters: Filters | None = None) -> list[Candidate]:
        """Best candidates first."""
        ...

    def count(self) -> int:
        """Passages in the index."""
        ...

    def watermark(self) -> int:
        """The last store change this index has applied."""
        ...

    def seqs(self) -> list[int]:
        """Every indexed passage's sequence number, ascending, repeats kept (for integrity checks)."""
        ...

    def stats(self) -> dict[str, object]:
        """Size and shape, for `bedside stats` and benchmarks."""
        ...

    def close(self) -> None:
        """Release files."""
        ...


# -- what hybrid search needs of its backends ------------------------------------------------------------------------
# `HybridSearcher` takes one lexical and (optionally) one dense retriever. A backend that keeps each passage's evidence
# type and year, or its document title's terms, beside its rows may offer them as the optional capabilities below:
# the searcher then scores candidates in memory and reads only its final hits from the knowledge store.


class LexicalRetriever(Protocol):
    """Ranked term matching over passages, queries and passages analysed by `bedside.text.analysis`."""

    def search(self, query: str, limit: int = 100, filters: Filters | None = None) -> list[Candidate]:
        """Best candidates first; higher scores are better (a backend that reports distances negates them)."""
        ...

    def known(self, terms: Iterable[str]) -> frozenset[str]:
        """The analysed terms that occur in at least one indexed passage."""
        ...

    def named(self, terms: Iterable[str]) -> frozenset[str]:
        """The analysed terms that some document's title, section headings or topics use."""
        ...


class DenseRetriever(Protocol):
    """Nearest passages to an embedded query."""

    @property
    def embedder(self) -> Embedder:
        """The model that embeds queries (and passages) for this index."""
        ...

    def search_vector(
        self, q: np.ndarray, limit: int = 100, filters: Filters | None = None, seqs: np.ndarray | None = None
    ) -> list[Candidate]:
        """Best candidates first by similarity to `q` (higher is better). `seqs`, when given, are the passages of
        `filters.document_ids` as the store numbers them; a backend that filters on document ids itself may ignore
        it."""
        ...


@runtime_checkable
class PassageFacts(Protocol):
    """Optional: evidence type and year of indexed passages, without a store read."""

    def facts(self, seqs: Sequence[int]) -> dict[int, tuple[EvidenceType, int | None]]:
        """Those of these passages that the backend holds (a missing one makes the searcher read the store)."""
        ...


@runtime_checkable
class TitleFocus(Protocol):
    """Optional: the share of each passage's document title terms that the query mentions (`hybrid.title_focus`)."""

    def focus(self, seqs: Sequence[int], query_terms: Iterable[str]) -> dict[int, float]:
        """Those of these passages whose title terms the backend holds."""
        ...
