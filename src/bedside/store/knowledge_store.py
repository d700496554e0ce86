"""The knowledge store's contract: what ingestion, the search indexes and the answer service need of it.

Two implementations keep it: `SqliteKnowledgeStore` (one file in the data directory; the default) and
`PostgresKnowledgeStore` (one database shared by every host of an installation). The contract suite in
`tests/store/test_knowledge_contract.py` runs on both.

Invariants every implementation keeps:
- a write or a removal is one transaction: readers see a document's old version or its new one, never a mix;
- each write or removal appends one change per document to the change log, and changes become visible in the
  order of their sequence numbers, so an index that has applied every change up to N never misses one below N;
- an index's watermark (the last change it applied) is kept per index name in the store itself, so every host
  sees the same state of a shared index;
- `indexer_lock(name)` admits one indexer of an index at a time, across processes and hosts;
- a document read back carries the links that stored notices state about it (`Correction.inbound`): a retraction
  notice stored before or after its article retracts it, and removing the notice undoes that.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from bedside.errors import InvalidInput
from bedside.model import Document, IndexRow, NewerVersion, Passage

__all__ = ["Change", "KnowledgeStore", "open_knowledge_store"]

Change = tuple[int, str, str]  # (sequence number, document id, "upsert" | "remove")


class KnowledgeStore(Protocol):
    """Documents and passages, their change log and the indexes' watermarks."""

    @property
    def location(self) -> str:
        """Where the store lives (a file path, or a database URL without its password), for messages."""
        ...

    def reopen(self) -> KnowledgeStore:
        """Another connection to the same store (for a thread of its own)."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...

    # -- writing -----------------------------------------------------------------------------------------------

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """Content hashes of the given documents that exist."""
        ...

    def write(self, items: Iterable[tuple[Document, Sequence[Passage]]]) -> None:
        """Insert or replace documents with their passages, all in one transaction. A NUL character in any field
        (PostgreSQL text cannot hold one) refuses the whole batch with InvalidInput naming the document and field."""
        ...

    def remove(self, doc_id: str) -> None:
        """Delete a document and its passages; NotFound if it does not exist."""
        ...

    def set_meta(self, key: str, value: str) -> None:
        """Store a small setting."""
        ...

    def get_meta(self, key: str) -> str | None:
        """Read a small setting, or None."""
        ...

    # -- reading -----------------------------------------------------------------------------------------------

    def document(self, doc_id: str) -> Document:
        """The document with this id; NotFound otherwise."""
        ...

    def documents(self, ids: Iterable[str]) -> dict[str, Document]:
        """The documents among these ids that exist."""
        ...

    def document_heads(self, ids: Iterable[str]) -> dict[str, Document]:
        """The documents among these ids that exist, with empty text and blocks (what a search hit shows)."""
        ...

    def newer_versions(self, doc: Document) -> list[NewerVersion]:
        """Documents that replace this one, newest first: the same guideline issued in a later year (the same
        `guideline` title summarised, or a guideline with the same title), never a retracted one or a notice."""
        ...

    def collection_names(self) -> list[str]:
        """The named collections that hold documents, in order."""
        ...

    def collections(self) -> dict[str, int]:
        """Collections with their document counts ("" is the literature outside any named collection)."""
        ...

    def document_ids(self, *, origin_prefix: str | None = None) -> list[str]:
        """All document ids in order, optionally only those read from files under a path prefix."""
        ...

    def passages_of(self, doc_id: str) -> list[Passage]:
        """A document's passages in reading order."""
        ...

    def passages(self, ids: Iterable[str]) -> dict[str, Passage]:
        """The passages among these ids that exist."""
        ...

    def passages_by_seq(self, seqs: Iterable[int]) -> dict[int, Passage]:
        """Passages by their sequence numbers (as search indexes return them)."""
        ...

    def seqs_of(self, document_ids: Iterable[str]) -> list[int]:
        """Sequence numbers of the passages of these documents."""
        ...

    def seqs(self) -> list[int]:
        """Every passage's sequence number, ascending."""
        ...

    def iter_passages(self, after_seq: int = 0, batch: int = 2000) -> Iterator[tuple[int, Passage]]:
        """Every passage with its sequence number, in sequence order."""
        ...

    def index_rows(self, document_ids: list[str] | None = None) -> list[IndexRow]:
        """The passages of these documents joined with their documents' facts, in sequence order (all passages
        when ids is None; prefer `stream_index_rows` for that)."""
        ...

    def stream_index_rows(self, batch: int = 20_000) -> Iterator[list[IndexRow]]:
        """Every passage's index row in sequence order, `batch` at a time: memory stays bounded at any size."""
        ...

    def counts(self) -> tuple[int, int]:
        """(documents, passages)."""
        ...

    def stats(self) -> dict[str, object]:
        """Counts overall, by evidence type and by source, and of retracted articles and notices."""
        ...

    def check_integrity(self) -> list[str]:
        """Problems found (empty when none)."""
        ...

    def span_mismatches(self, limit: int = 5) -> list[str]:
        """Ids of passages whose text is not exactly `document.text[start:end]` (at most `limit`)."""
        ...

    # -- the change log and the indexes that follow it ---------------------------------------------------------

    def changes_after(self, seq: int) -> list[Change]:
        """Every change after `seq`, oldest first."""
        ...

    def last_change(self) -> int:
        """The sequence number of the newest change, 0 when there is none (pruning does not lower it)."""
        ...

    def prune_changes(self, upto: int) -> None:
        """Forget changes up to `upto` (every index applied them); remember how far, so a newly added index knows
        to rebuild."""
        ...

    def pruned_upto(self) -> int:
        """Changes up to this number are gone from the log: an index behind it must rebuild from the documents."""
        ...

    def watermark(self, index: str) -> int:
        """The last change the named index recorded as applied (0 when it never did)."""
        ...

    def set_watermark(self, index: str, seq: int) -> None:
        """Record that the named index has applied every change up to `seq`."""
        ...

    def watermarks(self) -> dict[str, int]:
        """Every index's recorded watermark."""
        ...

    def indexer_lock(self, index: str) -> AbstractContextManager[None]:
        """Held while one process indexes the named index: others wait for it (across hosts on PostgreSQL)."""
        ...


def open_knowledge_store(location: str | Path) -> KnowledgeStore:
    """The knowledge store at a path (SQLite), a `sqlite:///PATH` URL or a `postgresql://…` URL."""
    text = str(location)
    if "://" not in text:
        from bedside.store.kb import SqliteKnowledgeStore

        return SqliteKnowledgeStore(Path(text))
    scheme = text.split("://", 1)[0].lower()
    if scheme == "sqlite":
        from bedside.store.kb import SqliteKnowledgeStore

        path = text.split("://", 1)[1].removeprefix("/")
        if not path or path == ":memory:":
            raise InvalidInput(f"the knowledge store needs a file: {text!r}")
        return SqliteKnowledgeStore(Path(path))
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        from bedside.store.kb_postgres import PostgresKnowledgeStore

        return PostgresKnowledgeStore(text)
    raise InvalidInput(f"unsupported knowledge store {text!r} (use a path, sqlite:///PATH or postgresql://…)")
