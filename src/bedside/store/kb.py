"""The embedded knowledge store: documents and passages in one SQLite database (WAL) inside the data directory.

Every write is one transaction, so a crash leaves either the old or the new version of a document,
never half of one. A change log (`changes`) records which documents were written or removed, in order;
search indexes replay it from their own watermark, which keeps them consistent after a crash.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bedside.errors import NotFound
from bedside.model import Document, IndexRow, NewerVersion, Passage
from bedside.store.kb_rows import (
    DOC_COLUMNS,
    HEAD_COLUMNS,
    INDEX_ROW_SQL,
    NEW_COLUMNS,
    NOTICE_COLUMNS,
    PASSAGE_COLUMNS,
    STATS_WITHDRAWN_SQL,
    document_from_row,
    document_row,
    index_row,
    newer_versions_query,
    notice_rows,
    passage_from_row,
    refuse_nul,
    with_inbound,
)
from bedside.store.locks import file_lock
from bedside.store.private import private_file
from bedside.store.protocol import Change

# 2: documents.flags (ingestion warnings); 3: index_state (watermarks per index); 4: corrections, retraction,
# collection, notices
SCHEMA_VERSION = 4

_DOC_WIDTH = len(DOC_COLUMNS.split(", "))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    evidence_type TEXT NOT NULL,
    source TEXT NOT NULL,
    year INTEGER,
    authors TEXT NOT NULL,
    url TEXT NOT NULL,
    doi TEXT NOT NULL,
    pmid TEXT NOT NULL,
    issuer TEXT NOT NULL,
    guideline TEXT NOT NULL,
    format TEXT NOT NULL,
    origin TEXT NOT NULL,
    reviewed INTEGER,
    topics TEXT NOT NULL,
    blocks TEXT NOT NULL,
    extra TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    passage_count INTEGER NOT NULL,
    flags TEXT NOT NULL DEFAULT '[]',
    corrections TEXT NOT NULL DEFAULT '[]',
    retracted INTEGER NOT NULL DEFAULT 0,
    notice TEXT NOT NULL DEFAULT '',
    collection TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS passages (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    section TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    page INTEGER,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_document ON passages(document_id, ordinal);
CREATE TABLE IF NOT EXISTS notices (
    notice_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    target_pmid TEXT NOT NULL,
    notice_pmid TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notices_target ON notices(target_pmid);
CREATE INDEX IF NOT EXISTS notices_notice ON notices(notice_id);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('upsert', 'remove'))
);
CREATE TABLE IF NOT EXISTS index_state (name TEXT PRIMARY KEY, watermark INTEGER NOT NULL);
"""


class SqliteKnowledgeStore:
    """Documents and passages in SQLite; safe to open from several processes of one host (WAL)."""

    def __init__(self, path: Path) -> None:
        private_file(path)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        try:
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    @property
    def location(self) -> str:
        """The database file."""
        return str(self.path)

    def reopen(self) -> SqliteKnowledgeStore:
        """Another connection to the same file."""
        return SqliteKnowledgeStore(self.path)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def _migrate(self) -> None:
        with self.transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is not None and int(row[0]) > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} was written by a newer bedside (schema {row[0]})")
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(documents)")}
            for name, definition in NEW_COLUMNS:
                if name not in columns:  # written by an older schema
                    self._db.execute(f"ALTER TABLE documents ADD COLUMN {name} {definition}")
            self._db.execute("CREATE INDEX IF NOT EXISTS documents_collection ON documents(collection)")
            # For finding a guideline's later editions (sources-changed checks).
            self._db.execute(
                "CREATE INDEX IF NOT EXISTS documents_guideline ON documents(guideline) WHERE guideline > ''"
            )
            self._db.execute("CREATE INDEX IF NOT EXISTS documents_title ON documents(title)")
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def transaction(self) -> _Transaction:
        """A context manager that commits on success and rolls back on any error."""
        return _Transaction(self._db)

    # -- writing -------------------------------------------------------------------------------

    def _select_in(self, sql: str, column: str, keys: Iterable[object], order: str = "") -> Iterator[tuple[Any, ...]]:
        """Rows of `sql WHERE column IN (keys)`, asked 500 keys at a time (SQLite's parameter limit)."""
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 500):
            part = unique[i : i + 500]
            yield from self._db.execute(f"{sql} WHERE {column} IN ({','.join('?' * len(part))}) {order}", part)

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """Content hashes of the given documents that exist."""
        return dict(self._select_in("SELECT id, content_hash FROM documents", "id", ids))

    def write(self, items: Iterable[tuple[Document, Sequence[Passage]]]) -> None:
        """Insert or replace documents with their passages, all in one transaction (InvalidInput, writing nothing,
        when any of them holds a NUL character: see `kb_rows.nul_field`)."""
        items = list(items)
        refuse_nul(items)
        with self.transaction():
            for doc, passages in items:
                self._db.execute("DELETE FROM passages WHERE document_id = ?", (doc.id,))
                self._db.execute(
                    f"INSERT OR REPLACE INTO documents ({DOC_COLUMNS}) VALUES ({','.join('?' * _DOC_WIDTH)})",
                    document_row(doc, len(passages)),
                )
                self._db.execute("DELETE FROM notices WHERE notice_id = ?", (doc.id,))
                # Safe to format: only a constant column list goes into the SQL, never values.
                sql = f"INSERT INTO notices ({NOTICE_COLUMNS}) VALUES (?,?,?,?,?)"  # nosec B608
                self._db.executemany(sql, notice_rows(doc))
                self._db.executemany(
                    'INSERT INTO passages (id, document_id, ordinal, section, start, "end", page, text) '
                    "VALUES (?,?,?,?,?,?,?,?)",
                    [(p.id, p.document_id, p.ordinal, p.section, p.start, p.end, p.page, p.text) for p in passages],
                )
                self._db.execute("INSERT INTO changes (document_id, op) VALUES (?, 'upsert')", (doc.id,))

    def remove(self, doc_id: str) -> None:
        """Delete a document and its passages; NotFound if it does not exist."""
        with self.transaction():
            cur = self._db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
            if cur.rowcount == 0:
                raise NotFound(f"no document with id {doc_id!r}")
            self._db.execute("DELETE FROM passages WHERE document_id = ?", (doc_id,))
            self._db.execute("DELETE FROM notices WHERE notice_id = ?", (doc_id,))
            self._db.execute("INSERT INTO changes (document_id, op) VALUES (?, 'remove')", (doc_id,))

    def set_meta(self, key: str, value: str) -> None:
        """Store a small setting in the database."""
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        """Read a small setting, or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # -- reading -------------------------------------------------------------------------------

    def document(self, doc_id: str) -> Document:
        """The document with this id; NotFound otherwise."""
        # Safe to format: only a constant column list goes into the SQL, never values.
        sql = f"SELECT {DOC_COLUMNS} FROM documents WHERE id = ?"  # nosec B608
        row = self._db.execute(sql, (doc_id,)).fetchone()
        if row is None:
            raise NotFound(f"no document with id {doc_id!r}")
        return self._with_inbound({row[0]: document_from_row(row)})[row[0]]

    def documents(self, ids: Iterable[str]) -> dict[str, Document]:
        """The documents among these ids that exist."""
        # Safe to format: only constant column names go into the SQL, never values.
        rows = self._select_in(f"SELECT {DOC_COLUMNS} FROM documents", "id", ids)  # nosec B608
        return self._with_inbound({row[0]: document_from_row(row) for row in rows})

    def document_heads(self, ids: Iterable[str]) -> dict[str, Document]:
        """The documents among these ids that exist, with empty text and blocks (so their `content_hash` is not the
        document's): a search hit needs only their facts, and reading every candidate's whole text was the largest
        cost of a search at 1M passages."""
        # Safe to format: only constant column names go into the SQL, never values.
        rows = self._select_in(f"SELECT {HEAD_COLUMNS} FROM documents", "id", ids)  # nosec B608
        return self._with_inbound({row[0]: document_from_row(row) for row in rows})

    def _with_inbound(self, docs: dict[str, Document]) -> dict[str, Document]:
        """The documents with the links that stored notices state about them (see `kb_rows.with_inbound`)."""
        pmids = {d.pmid for d in docs.values() if d.pmid}
        if not pmids:
            return docs
        # Safe to format: only a constant column list goes into the SQL, never values.
        return with_inbound(docs, self._select_in(f"SELECT {NOTICE_COLUMNS} FROM notices", "target_pmid", pmids))  # nosec B608

    def newer_versions(self, doc: Document) -> list[NewerVersion]:
        """Documents that replace this one, newest first: the same guideline issued in a later year (the same
        `guideline` title summarised, or a guideline with the same title), never a retracted one or a notice."""
        query = newer_versions_query(doc, "?")
        if query is None:
            return []
        rows = self._db.execute(query[0], query[1])
        return [NewerVersion(str(i), str(t), int(y), str(p)) for i, t, y, p in rows]

    def collection_names(self) -> list[str]:
        """The named collections that hold documents (read from an index: cheap however large the literature)."""
        rows = self._db.execute("SELECT DISTINCT collection FROM documents WHERE collection > '' ORDER BY 1")
        return [str(r[0]) for r in rows]

    def collections(self) -> dict[str, int]:
        """Named collections with their document counts ("" is the literature outside any collection)."""
        rows = self._db.execute("SELECT collection, count(*) FROM documents GROUP BY collection ORDER BY collection")
        return {str(name): int(n) for name, n in rows}

    def document_ids(self, *, origin_prefix: str | None = None) -> list[str]:
        """All document ids, optionally only those read from files under a path prefix."""
        if origin_prefix is None:
            return [r[0] for r in self._db.execute("SELECT id FROM documents ORDER BY id")]
        rows = self._db.execute(
            "SELECT id FROM documents WHERE substr(origin, 1, ?) = ? ORDER BY id", (len(origin_prefix), origin_prefix)
        )
        return [r[0] for r in rows]

    def passages_of(self, doc_id: str) -> list[Passage]:
        """A document's passages in reading order."""
        rows = self._db.execute(
            'SELECT id, document_id, text, start, "end", section, page, ordinal FROM passages '
            "WHERE document_id = ? ORDER BY ordinal",
            (doc_id,),
        )
        return [passage_from_row(r) for r in rows]

    def passages(self, ids: Iterable[str]) -> dict[str, Passage]:
        """The passages among these ids that exist."""
        # Safe to format: only constant column names go into the SQL, never values.
        rows = self._select_in(f"SELECT {PASSAGE_COLUMNS} FROM passages", "id", ids)  # nosec B608
        return {r[0]: passage_from_row(r) for r in rows}

    def passages_by_seq(self, seqs: Iterable[int]) -> dict[int, Passage]:
        """Passages by their sequence numbers (as search indexes return them)."""
        # Safe to format: only a constant column list goes into the SQL, never values.
        sql = f"SELECT seq, {PASSAGE_COLUMNS} FROM passages"  # nosec B608
        rows = self._select_in(sql, "seq", seqs)
        return {int(r[0]): passage_from_row(r[1:]) for r in rows}

    def seqs_of(self, document_ids: Iterable[str]) -> list[int]:
        """Sequence numbers of the passages of these documents."""
        return [int(r[0]) for r in self._select_in("SELECT seq FROM passages", "document_id", document_ids)]

    def iter_passages(self, after_seq: int = 0, batch: int = 2000) -> Iterator[tuple[int, Passage]]:
        """Every passage with its sequence number, in insertion order."""
        while True:
            rows = self._db.execute(
                'SELECT seq, id, document_id, text, start, "end", section, page, ordinal FROM passages '
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, batch),
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield r[0], passage_from_row(r[1:])
            after_seq = rows[-1][0]

    def index_rows(self, document_ids: list[str] | None = None) -> list[IndexRow]:
        """Passages joined with their document's facts, for indexing; all passages when ids is None."""
        if document_ids is None:
            return [row for part in self.stream_index_rows() for row in part]
        rows = self._select_in(INDEX_ROW_SQL, "p.document_id", document_ids, order="ORDER BY p.seq")
        return [index_row(r) for r in rows]

    def stream_index_rows(self, batch: int = 20_000) -> Iterator[list[IndexRow]]:
        """Every passage's index row in sequence order, `batch` at a time."""
        after = 0
        while True:
            # Safe to format: only a constant query goes into the SQL, never values.
            sql = f"{INDEX_ROW_SQL} WHERE p.seq > ? ORDER BY p.seq LIMIT ?"  # nosec B608
            rows = self._db.execute(sql, (after, batch)).fetchall()
            if not rows:
                return
            yield [index_row(r) for r in rows]
            after = int(rows[-1][0])

    def changes_after(self, seq: int) -> list[Change]:
        """(seq, document id, op) of every change after `seq`, oldest first."""
        return self._db.execute(
            "SELECT seq, document_id, op FROM changes WHERE seq > ? ORDER BY seq", (seq,)
        ).fetchall()

    def last_change(self) -> int:
        """The sequence number of the newest change, 0 when there is none."""
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
        return int(row[0]) if row else 0  # survives pruning: AUTOINCREMENT never reuses a number

    def prune_changes(self, upto: int) -> None:
        """Forget changes every index has applied; remember how far, so a newly added index knows to rebuild."""
        with self.transaction():
            self._db.execute("DELETE FROM changes WHERE seq <= ?", (upto,))
            if upto > self.pruned_upto():
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('pruned_upto', ?)", (str(upto),))

    def pruned_upto(self) -> int:
        """Changes up to this number are gone from the log: an index behind it must rebuild from the documents."""
        return int(self.get_meta("pruned_upto") or 0)

    def watermark(self, index: str) -> int:
        """The last change the named index recorded as applied (0 when it never did)."""
        row = self._db.execute("SELECT watermark FROM index_state WHERE name = ?", (index,)).fetchone()
        return int(row[0]) if row else 0

    def set_watermark(self, index: str, seq: int) -> None:
        """Record that the named index has applied every change up to `seq`."""
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO index_state VALUES (?, ?)", (index, int(seq)))

    def watermarks(self) -> dict[str, int]:
        """Every index's recorded watermark."""
        return {str(n): int(w) for n, w in self._db.execute("SELECT name, watermark FROM index_state ORDER BY name")}

    def indexer_lock(self, index: str) -> AbstractContextManager[None]:
        """An exclusive file lock beside the database, one per index name."""
        return file_lock(self.path.with_name(f"{self.path.name}.{_lock_name(index)}.lock"))

    def counts(self) -> tuple[int, int]:
        """(documents, passages)."""
        docs = self._db.execute("SELECT count(*) FROM documents").fetchone()[0]
        passages = self._db.execute("SELECT count(*) FROM passages").fetchone()[0]
        return int(docs), int(passages)

    def stats(self) -> dict[str, object]:
        """Counts overall, by evidence type and by source."""
        docs, passages = self.counts()
        by_type = {
            t: n
            for t, n in self._db.execute(
                "SELECT evidence_type, count(*) FROM documents GROUP BY evidence_type ORDER BY count(*) DESC"
            )
        }
        by_source = {
            (s or "(unknown)"): n
            for s, n in self._db.execute(
                "SELECT source, count(*) FROM documents GROUP BY source ORDER BY count(*) DESC, source LIMIT 20"
            )
        }
        retracted, notices = self._db.execute(STATS_WITHDRAWN_SQL).fetchone()
        return {
            "documents": docs, "passages": passages, "by_type": by_type, "by_source": by_source,
            "retracted": int(retracted), "notices": int(notices),
        }  # fmt: skip

    def check_integrity(self) -> list[str]:
        """Problems found: SQLite's own check, orphan passages, documents whose passage count is off."""
        problems = [r[0] for r in self._db.execute("PRAGMA integrity_check") if r[0] != "ok"]
        orphans = self._db.execute(
            "SELECT count(*) FROM passages WHERE document_id NOT IN (SELECT id FROM documents)"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} passages without a document")
        mismatched = self._db.execute(
            "SELECT d.id FROM documents d LEFT JOIN passages p ON p.document_id = d.id "
            "GROUP BY d.id HAVING count(p.id) != d.passage_count LIMIT 5"
        ).fetchall()
        problems.extend(f"document {r[0]} has a wrong number of passages" for r in mismatched)
        return problems

    def span_mismatches(self, limit: int = 5) -> list[str]:
        """Ids of passages whose text is not exactly `document.text[start:end]` (at most `limit`)."""
        rows = self._db.execute(
            "SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id "
            'WHERE substr(d.text, p.start + 1, p."end" - p.start) IS NOT p.text LIMIT ?',
            (limit,),
        )
        return [str(r[0]) for r in rows]

    def seqs(self) -> list[int]:
        """Every passage's sequence number, ascending."""
        return [int(r[0]) for r in self._db.execute("SELECT seq FROM passages ORDER BY seq")]


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._outer = False

    def __enter__(self) -> sqlite3.Connection:
        self._outer = not self._db.in_transaction
        if self._outer:
            self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._outer:
            return
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")


def _lock_name(index: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", index) or "index"
