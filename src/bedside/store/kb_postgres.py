"""The knowledge store in PostgreSQL: one database that every web and ingestion worker of an installation shares.

The tables are those of the SQLite store. Two things differ because several hosts write at once:

- Change-log order. PostgreSQL hands out sequence numbers when a row is inserted, not when its transaction commits,
  so change 11 could become visible before change 10; an index that applied 11 would then skip 10 for ever. Every
  write transaction therefore takes one advisory transaction lock before it changes anything: writers commit one
  at a time, in the order of their change numbers (what SQLite's BEGIN IMMEDIATE gives the embedded store).
- One indexer per index: `indexer_lock` holds a session advisory lock on a connection of its own; PostgreSQL
  drops it when that connection ends, so a crashed indexer never leaves it taken.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from bedside.errors import BackendUnavailable, NotFound
from bedside.model import Document, Passage
from bedside.store.kb_base import KnowledgeReads
from bedside.store.kb_rows import (
    DOC_COLUMNS,
    NEW_COLUMNS,
    NOTICE_COLUMNS,
    document_row,
    notice_rows,
    refuse_nul,
)

if TYPE_CHECKING:
    import psycopg

SCHEMA_VERSION = 2  # 2: corrections, retraction, collection, notices
POSTGRES_HINT = "install with: pip install 'bedside[postgres]'"
_LOCK_CLASS = 0x6B62  # advisory lock namespace of the knowledge store ("kb"), first key of the two-key form
_MIGRATE_LOCK, _WRITE_LOCK = 1, 2
_INDEXER_CLASS = 0x6B63  # namespace of the per-index indexer locks (second key: hashtext of the index name)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS documents (
        id TEXT PRIMARY KEY, title TEXT NOT NULL, evidence_type TEXT NOT NULL, source TEXT NOT NULL, year INTEGER,
        authors TEXT NOT NULL, url TEXT NOT NULL, doi TEXT NOT NULL, pmid TEXT NOT NULL, issuer TEXT NOT NULL,
        guideline TEXT NOT NULL, format TEXT NOT NULL, origin TEXT NOT NULL, reviewed INTEGER, topics TEXT NOT NULL,
        blocks TEXT NOT NULL, extra TEXT NOT NULL, content_hash TEXT NOT NULL, text TEXT NOT NULL,
        passage_count INTEGER NOT NULL, flags TEXT NOT NULL DEFAULT '[]', corrections TEXT NOT NULL DEFAULT '[]',
        retracted INTEGER NOT NULL DEFAULT 0, notice TEXT NOT NULL DEFAULT '', collection TEXT NOT NULL DEFAULT '')""",
    """CREATE TABLE IF NOT EXISTS passages (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE,
        document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE, ordinal INTEGER NOT NULL,
        section TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, page INTEGER, text TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS passages_document ON passages(document_id, ordinal)",
    "CREATE INDEX IF NOT EXISTS documents_collection ON documents(collection)",
    # For finding a guideline's later editions (sources-changed checks).
    # Hash indexes: a B-tree entry cannot hold a very long title, and only equality is asked.
    "CREATE INDEX IF NOT EXISTS documents_guideline ON documents USING hash (guideline) WHERE guideline <> ''",
    "CREATE INDEX IF NOT EXISTS documents_title ON documents USING hash (title)",
    """CREATE TABLE IF NOT EXISTS notices (
        notice_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE, kind TEXT NOT NULL,
        target_pmid TEXT NOT NULL, notice_pmid TEXT NOT NULL, source TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS notices_target ON notices(target_pmid)",
    "CREATE INDEX IF NOT EXISTS notices_notice ON notices(notice_id)",
    """CREATE TABLE IF NOT EXISTS changes (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, document_id TEXT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('upsert', 'remove')))""",
    "CREATE TABLE IF NOT EXISTS index_state (name TEXT PRIMARY KEY, watermark BIGINT NOT NULL)",
)
# Safe to format: only the constant column list goes into the SQL, never values.
_UPDATES = ", ".join(f"{c} = EXCLUDED.{c}" for c in DOC_COLUMNS.split(", ")[1:])
_INSERT_NOTICE = f"INSERT INTO notices ({NOTICE_COLUMNS}) VALUES (%s,%s,%s,%s,%s)"  # nosec B608
_MARKS = ",".join(["%s"] * len(DOC_COLUMNS.split(", ")))
_UPSERT_DOCUMENT = f"INSERT INTO documents ({DOC_COLUMNS}) VALUES ({_MARKS}) ON CONFLICT (id) DO UPDATE SET {_UPDATES}"  # nosec B608


def _conninfo(url: str) -> str:
    """A libpq URL from a `postgresql://`, `postgres://` or `postgresql+psycopg://` one."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def _display(url: str) -> str:
    parts = urlsplit(_conninfo(url))
    host = parts.hostname or ""
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}{port}", query=""))


def _connect(url: str) -> psycopg.Connection[Any]:
    try:
        import psycopg
    except ImportError:
        raise BackendUnavailable(f"PostgreSQL support is not installed; {POSTGRES_HINT}") from None
    try:
        return psycopg.connect(_conninfo(url), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise BackendUnavailable(f"cannot reach the knowledge database {_display(url)}: {exc}") from None


class PostgresKnowledgeStore(KnowledgeReads):
    """Documents and passages in PostgreSQL, shared by every process of an installation."""

    _P, _C, _DIFFERS = "%s", ' COLLATE "C"', "IS DISTINCT FROM"

    def __init__(self, url: str) -> None:
        self._url = url
        self._db = _connect(url)
        self._lock = threading.RLock()  # one statement or transaction at a time on this connection
        try:
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    @property
    def location(self) -> str:
        """The database URL without its password."""
        return _display(self._url)

    def reopen(self) -> PostgresKnowledgeStore:
        """Another connection to the same database."""
        return PostgresKnowledgeStore(self._url)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def _current(self) -> bool:
        """Whether the database already has this code's schema (the usual open: no DDL, so no table locks)."""
        row = self._one("SELECT to_regclass('meta') IS NOT NULL")
        if not (row and row[0]):
            return False
        version = self._one("SELECT value FROM meta WHERE key = 'schema_version'")
        return version is not None and int(version[0]) == SCHEMA_VERSION

    def _migrate(self) -> None:
        if self._current():
            return
        # The migration lock keeps two openers from migrating at once; the write lock keeps writers out while
        # DDL takes its table locks (a writer holds row locks and waits for none of them, so nothing deadlocks).
        with self._write(_MIGRATE_LOCK) as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, _WRITE_LOCK))
            for statement in _SCHEMA[:2]:  # meta and documents
                cur.execute(statement)
            cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'documents' "
                "AND table_schema = current_schema()"
            )
            columns = {str(r[0]) for r in cur.fetchall()}
            for name, definition in NEW_COLUMNS:
                if name not in columns:  # written by an older schema
                    cur.execute(f"ALTER TABLE documents ADD COLUMN {name} {definition}")
            for statement in _SCHEMA[2:]:
                cur.execute(statement)
            cur.execute("SELECT value FROM meta WHERE key = 'schema_version'")
            row = cur.fetchone()
            if row is not None and int(row[0]) > SCHEMA_VERSION:
                raise RuntimeError(f"{self.location} was written by a newer bedside (knowledge schema {row[0]})")
            cur.execute(
                "INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (str(SCHEMA_VERSION),),
            )

    @contextlib.contextmanager
    def _write(self, lock: int = _WRITE_LOCK) -> Iterator[psycopg.Cursor[Any]]:
        """A write transaction that holds the store's write lock until it commits (see the module's note)."""
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, lock))
            yield cur

    def _all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._db.cursor() as cur:
            cur.execute(sql, params)  # type: ignore[arg-type]
            return cur.fetchall()

    def _select_in(self, sql: str, column: str, keys: Iterable[object], order: str = "") -> list[tuple[Any, ...]]:
        # Safe to format: callers pass constant SQL and column names; the keys travel as one array parameter.
        return self._all(f"{sql} WHERE {column} = ANY(%s) {order}", (list(dict.fromkeys(keys)),))  # nosec B608

    # -- writing -------------------------------------------------------------------------------------------------

    def write(self, items: Iterable[tuple[Document, Sequence[Passage]]]) -> None:
        """Insert or replace documents with their passages, all in one transaction (InvalidInput, writing nothing,
        when any of them holds a NUL character, which PostgreSQL text cannot hold)."""
        items = list(items)
        refuse_nul(items)
        with self._write() as cur:
            for doc, passages in items:
                cur.execute("DELETE FROM passages WHERE document_id = %s", (doc.id,))
                cur.execute(_UPSERT_DOCUMENT, document_row(doc, len(passages)))
                cur.execute("DELETE FROM notices WHERE notice_id = %s", (doc.id,))
                cur.executemany(_INSERT_NOTICE, notice_rows(doc))
                cur.executemany(
                    'INSERT INTO passages (id, document_id, ordinal, section, start, "end", page, text) '
                    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                    [(p.id, p.document_id, p.ordinal, p.section, p.start, p.end, p.page, p.text) for p in passages],
                )
                cur.execute("INSERT INTO changes (document_id, op) VALUES (%s, 'upsert')", (doc.id,))

    def remove(self, doc_id: str) -> None:
        """Delete a document and its passages; NotFound if it does not exist."""
        with self._write() as cur:
            cur.execute("DELETE FROM documents WHERE id = %s", (doc_id,))
            if cur.rowcount == 0:
                raise NotFound(f"no document with id {doc_id!r}")
            cur.execute("INSERT INTO changes (document_id, op) VALUES (%s, 'remove')", (doc_id,))

    def set_meta(self, key: str, value: str) -> None:
        """Store a small setting in the database."""
        with self._lock, self._db.cursor() as cur:
            cur.execute(
                "INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (key, value)
            )

    # -- the change log and the indexes that follow it -----------------------------------------------------------

    def last_change(self) -> int:
        """The sequence number of the newest change, 0 when there is none."""
        row = self._one("SELECT max(seq) FROM changes")
        newest = int(row[0]) if row and row[0] is not None else 0
        return max(newest, self.pruned_upto())  # an emptied log still remembers how far it went

    def prune_changes(self, upto: int) -> None:
        """Forget changes every index has applied; remember how far."""
        with self._write() as cur:
            cur.execute("DELETE FROM changes WHERE seq <= %s", (upto,))
            cur.execute(
                "INSERT INTO meta VALUES ('pruned_upto', %s) ON CONFLICT (key) DO UPDATE "
                "SET value = GREATEST(meta.value::bigint, EXCLUDED.value::bigint)::text",
                (str(upto),),
            )

    def set_watermark(self, index: str, seq: int) -> None:
        """Record that the named index has applied every change up to `seq`."""
        with self._lock, self._db.cursor() as cur:
            cur.execute(
                "INSERT INTO index_state VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET watermark = EXCLUDED.watermark",
                (index, int(seq)),
            )

    @contextlib.contextmanager
    def indexer_lock(self, index: str) -> Iterator[None]:
        """A session advisory lock on a connection of its own, released when the block ends or the process dies."""
        holder = _connect(self._url)
        try:
            holder.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (_INDEXER_CLASS, index))
            try:
                yield
            finally:
                holder.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (_INDEXER_CLASS, index))
        finally:
            holder.close()
