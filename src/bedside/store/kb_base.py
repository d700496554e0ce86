"""What the SQLite and PostgreSQL knowledge stores share: every read of documents, passages, the change log and the
index watermarks, written once over three primitives each backend supplies (run a query; run it for a list of
keys; its parameter marker) and its collation for byte-order sorting. Writes, locking and schemas stay with each
backend: that is where they differ.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar

from bedside.errors import NotFound
from bedside.model import Document, IndexRow, NewerVersion, Passage
from bedside.store.kb_rows import (
    DOC_COLUMNS,
    HEAD_COLUMNS,
    INDEX_ROW_SQL,
    NOTICE_COLUMNS,
    PASSAGE_COLUMNS,
    STATS_WITHDRAWN_SQL,
    document_from_row,
    index_row,
    newer_versions_query,
    passage_from_row,
    with_inbound,
)
from bedside.store.knowledge_store import Change

__all__ = ["KnowledgeReads"]

# Safe to format in the queries below: only constant column lists, the backend's parameter marker and its collation
# clause go into the SQL, never values.


class KnowledgeReads(ABC):
    """The reading half of a knowledge store; a backend supplies `_all`, `_select_in`, `_P`, `_C`, `_DIFFERS`."""

    _P: ClassVar[str]  # the parameter marker ("?" or "%s")
    _C: ClassVar[str]  # appended to a sorted text column so both backends sort by bytes ("" or ' COLLATE "C"')
    _DIFFERS: ClassVar[str]  # null-safe inequality ("IS NOT" or "IS DISTINCT FROM")

    @abstractmethod
    def _all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Every row of `sql` with `params`."""

    @abstractmethod
    def _select_in(self, sql: str, column: str, keys: Iterable[object], order: str = "") -> list[tuple[Any, ...]]:
        """Rows of `sql WHERE column IN (keys)` (then `order`)."""

    def _one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    # -- documents -------------------------------------------------------------------------------------------------

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """Content hashes of the given documents that exist."""
        return {str(k): str(v) for k, v in self._select_in("SELECT id, content_hash FROM documents", "id", ids)}

    def get_meta(self, key: str) -> str | None:
        """Read a small setting, or None."""
        row = self._one(f"SELECT value FROM meta WHERE key = {self._P}", (key,))  # nosec B608
        return None if row is None else str(row[0])

    def document(self, doc_id: str) -> Document:
        """The document with this id; NotFound otherwise."""
        row = self._one(f"SELECT {DOC_COLUMNS} FROM documents WHERE id = {self._P}", (doc_id,))  # nosec B608
        if row is None:
            raise NotFound(f"no document with id {doc_id!r}")
        return self._with_inbound({row[0]: document_from_row(row)})[row[0]]

    def documents(self, ids: Iterable[str]) -> dict[str, Document]:
        """The documents among these ids that exist."""
        rows = self._select_in(f"SELECT {DOC_COLUMNS} FROM documents", "id", ids)  # nosec B608
        return self._with_inbound({row[0]: document_from_row(row) for row in rows})

    def document_heads(self, ids: Iterable[str]) -> dict[str, Document]:
        """The documents among these ids that exist, with empty text and blocks (so their `content_hash` is not the
        document's): a search hit needs only their facts, and reading every candidate's whole text was the largest
        cost of a search at 1M passages."""
        rows = self._select_in(f"SELECT {HEAD_COLUMNS} FROM documents", "id", ids)  # nosec B608
        return self._with_inbound({row[0]: document_from_row(row) for row in rows})

    def _with_inbound(self, docs: dict[str, Document]) -> dict[str, Document]:
        """The documents with the links that stored notices state about them (see `kb_rows.with_inbound`)."""
        pmids = {d.pmid for d in docs.values() if d.pmid}
        if not pmids:
            return docs
        return with_inbound(docs, self._select_in(f"SELECT {NOTICE_COLUMNS} FROM notices", "target_pmid", pmids))  # nosec B608

    def newer_versions(self, doc: Document) -> list[NewerVersion]:
        """Documents that replace this one, newest first: the same guideline issued in a later year (the same
        `guideline` title summarised, or a guideline with the same title), never a retracted one or a notice."""
        query = newer_versions_query(doc, self._P, f"id{self._C}")
        if query is None:
            return []
        return [NewerVersion(str(i), str(t), int(y), str(p)) for i, t, y, p in self._all(*query)]

    def collection_names(self) -> list[str]:
        """The named collections that hold documents (read from an index: cheap however large the literature)."""
        rows = self._all(f"SELECT DISTINCT collection{self._C} AS c FROM documents WHERE collection <> '' ORDER BY c")  # nosec B608
        return [str(r[0]) for r in rows]

    def collections(self) -> dict[str, int]:
        """Named collections with their document counts ("" is the literature outside any collection)."""
        rows = self._all(f"SELECT collection, count(*) FROM documents GROUP BY collection ORDER BY collection{self._C}")  # nosec B608
        return {str(name): int(n) for name, n in rows}

    def document_ids(self, *, origin_prefix: str | None = None) -> list[str]:
        """All document ids in byte order, optionally only those read from files under a path prefix."""
        if origin_prefix is None:
            return [str(r[0]) for r in self._all(f"SELECT id FROM documents ORDER BY id{self._C}")]  # nosec B608
        p = self._P
        rows = self._all(
            f"SELECT id FROM documents WHERE substr(origin, 1, {p}) = {p} ORDER BY id{self._C}",  # nosec B608
            (len(origin_prefix), origin_prefix),
        )
        return [str(r[0]) for r in rows]

    # -- passages --------------------------------------------------------------------------------------------------

    def passages_of(self, doc_id: str) -> list[Passage]:
        """A document's passages in reading order."""
        sql = f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE document_id = {self._P} ORDER BY ordinal"  # nosec B608
        return [passage_from_row(r) for r in self._all(sql, (doc_id,))]

    def passages(self, ids: Iterable[str]) -> dict[str, Passage]:
        """The passages among these ids that exist."""
        rows = self._select_in(f"SELECT {PASSAGE_COLUMNS} FROM passages", "id", ids)  # nosec B608
        return {r[0]: passage_from_row(r) for r in rows}

    def passages_by_seq(self, seqs: Iterable[int]) -> dict[int, Passage]:
        """Passages by their sequence numbers (as search indexes return them)."""
        rows = self._select_in(f"SELECT seq, {PASSAGE_COLUMNS} FROM passages", "seq", [int(s) for s in seqs])  # nosec B608
        return {int(r[0]): passage_from_row(r[1:]) for r in rows}

    def seqs_of(self, document_ids: Iterable[str]) -> list[int]:
        """Sequence numbers of the passages of these documents."""
        return [int(r[0]) for r in self._select_in("SELECT seq FROM passages", "document_id", document_ids)]

    def seqs(self) -> list[int]:
        """Every passage's sequence number, ascending."""
        return [int(r[0]) for r in self._all("SELECT seq FROM passages ORDER BY seq")]

    def iter_passages(self, after_seq: int = 0, batch: int = 2000) -> Iterator[tuple[int, Passage]]:
        """Every passage with its sequence number, in sequence order."""
        p = self._P
        sql = f"SELECT seq, {PASSAGE_COLUMNS} FROM passages WHERE seq > {p} ORDER BY seq LIMIT {p}"  # nosec B608
        while rows := self._all(sql, (after_seq, batch)):
            for r in rows:
                yield int(r[0]), passage_from_row(r[1:])
            after_seq = int(rows[-1][0])

    def index_rows(self, document_ids: list[str] | None = None) -> list[IndexRow]:
        """Passages joined with their document's facts, for indexing; all passages when ids is None."""
        if document_ids is None:
            return [row for part in self.stream_index_rows() for row in part]
        rows = self._select_in(INDEX_ROW_SQL, "p.document_id", document_ids, order="ORDER BY p.seq")
        return [index_row(r) for r in rows]

    def stream_index_rows(self, batch: int = 20_000) -> Iterator[list[IndexRow]]:
        """Every passage's index row in sequence order, `batch` at a time."""
        sql = f"{INDEX_ROW_SQL} WHERE p.seq > {self._P} ORDER BY p.seq LIMIT {self._P}"  # nosec B608
        after = 0
        while rows := self._all(sql, (after, batch)):
            yield [index_row(r) for r in rows]
            after = int(rows[-1][0])

    # -- counts and checks -----------------------------------------------------------------------------------------

    def counts(self) -> tuple[int, int]:
        """(documents, passages)."""
        row = self._one("SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM passages)")
        assert row is not None
        return int(row[0]), int(row[1])

    def stats(self) -> dict[str, object]:
        """Counts overall, by evidence type and by source."""
        docs, passages = self.counts()
        types = "SELECT evidence_type, count(*) FROM documents GROUP BY evidence_type ORDER BY count(*) DESC, "
        by_type = {str(t): int(n) for t, n in self._all(f"{types}evidence_type{self._C}")}
        sources = (
            f"SELECT source, count(*) FROM documents GROUP BY source ORDER BY count(*) DESC, source{self._C} LIMIT 20"  # nosec B608
        )
        by_source = {(s or "(unknown)"): int(n) for s, n in self._all(sources)}
        withdrawn = self._one(STATS_WITHDRAWN_SQL)
        assert withdrawn is not None
        return {
            "documents": docs,
            "passages": passages,
            "by_type": by_type,
            "by_source": by_source,
            "retracted": int(withdrawn[0]),
            "notices": int(withdrawn[1]),
        }

    def check_integrity(self) -> list[str]:
        """Problems found: orphan passages, documents whose passage count is off."""
        problems = []
        orphans = self._one(
            "SELECT count(*) FROM passages p WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = p.document_id)"
        )
        if orphans and orphans[0]:
            problems.append(f"{orphans[0]} passages without a document")
        mismatched = self._all(
            "SELECT d.id FROM documents d LEFT JOIN passages p ON p.document_id = d.id "
            "GROUP BY d.id, d.passage_count HAVING count(p.id) != d.passage_count LIMIT 5"
        )
        problems.extend(f"document {r[0]} has a wrong number of passages" for r in mismatched)
        return problems

    def span_mismatches(self, limit: int = 5) -> list[str]:
        """Ids of passages whose text is not exactly `document.text[start:end]` (at most `limit`)."""
        rows = self._all(
            "SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id "  # nosec B608
            f'WHERE substr(d.text, p.start + 1, p."end" - p.start) {self._DIFFERS} p.text LIMIT {self._P}',
            (limit,),
        )
        return [str(r[0]) for r in rows]

    # -- the change log and the indexes that follow it -------------------------------------------------------------

    def changes_after(self, seq: int) -> list[Change]:
        """(seq, document id, op) of every change after `seq`, oldest first."""
        rows = self._all(f"SELECT seq, document_id, op FROM changes WHERE seq > {self._P} ORDER BY seq", (seq,))  # nosec B608
        return [(int(s), str(d), str(op)) for s, d, op in rows]

    def pruned_upto(self) -> int:
        """Changes up to this number are gone from the log: an index behind it must rebuild from the documents."""
        return int(self.get_meta("pruned_upto") or 0)

    def watermark(self, index: str) -> int:
        """The last change the named index recorded as applied (0 when it never did)."""
        row = self._one(f"SELECT watermark FROM index_state WHERE name = {self._P}", (index,))  # nosec B608
        return int(row[0]) if row else 0

    def watermarks(self) -> dict[str, int]:
        """Every index's recorded watermark."""
        rows = self._all(f"SELECT name, watermark FROM index_state ORDER BY name{self._C}")  # nosec B608
        return {str(n): int(w) for n, w in rows}
