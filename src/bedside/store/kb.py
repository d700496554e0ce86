"""The embedded knowledge store: documents and passages in one SQLite database (WAL) inside the data directory.

Every write is one transaction, so a crash leaves either the old or the new version of a document,
never half of one. A change log (`changes`) records which documents were written or removed, in order;
search indexes replay it from their own watermark, which keeps them consistent after a crash.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bedside.errors import NotFound
from bedside.model import Document, Passage
from bedside.store.kb_base import KnowledgeReads
from bedside.store.kb_rows import (
    DOC_COLUMNS,
    NOTICE_COLUMNS,
    document_row,
    notice_rows,
    refuse_nul,
)
from bedside.store.kb_schema import KNOWLEDGE_SCHEMA
from bedside.store.locks import file_lock
from bedside.store.sqlite import open_database, transaction

_DOC_WIDTH = len(DOC_COLUMNS.split(", "))


class SqliteKnowledgeStore(KnowledgeReads):
    """Documents and passages in SQLite; safe to open from several processes of one host (WAL)."""

    _P, _C, _DIFFERS = "?", "", "IS NOT"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_database(path, KNOWLEDGE_SCHEMA)

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

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A context manager that commits on success and rolls back on any error."""
        return transaction(self._db)

    def _all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, params).fetchall()

    def _select_in(self, sql: str, column: str, keys: Iterable[object], order: str = "") -> list[tuple[Any, ...]]:
        """Rows of `sql WHERE column IN (keys)`, asked 500 keys at a time (SQLite's parameter limit)."""
        unique, rows = list(dict.fromkeys(keys)), []
        for i in range(0, len(unique), 500):
            part = unique[i : i + 500]
            rows += self._db.execute(f"{sql} WHERE {column} IN ({','.join('?' * len(part))}) {order}", part).fetchall()
        return rows

    # -- writing -------------------------------------------------------------------------------

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

    # -- the change log and the indexes that follow it ---------------------------------------

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

    def set_watermark(self, index: str, seq: int) -> None:
        """Record that the named index has applied every change up to `seq`."""
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO index_state VALUES (?, ?)", (index, int(seq)))

    def indexer_lock(self, index: str) -> AbstractContextManager[None]:
        """An exclusive file lock beside the database, one per index name."""
        return file_lock(self.path.with_name(f"{self.path.name}.{_lock_name(index)}.lock"))

    def check_integrity(self) -> list[str]:
        """Problems found: SQLite's own check, orphan passages, documents whose passage count is off."""
        problems = [r[0] for r in self._db.execute("PRAGMA integrity_check") if r[0] != "ok"]
        return problems + super().check_integrity()


def _lock_name(index: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", index) or "index"
