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
from bedside.store.protocol import Change

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


class PostgresKnowledgeStore:
    """Documents and passages in PostgreSQL, shared by every process of an installation."""

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

    def _migrate(self) -> None:
        with self._write(_MIGRATE_LOCK) as cur:
            for statement in _SCHEMA[:2]:  # meta and documents
                cur.execute(statement)
            cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'documents' "
                        "AND table_schema = current_schema()")  # fmt: skip
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

    def _one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _select_in(self, sql: str, column: str, keys: Iterable[object], order: str = "") -> list[tuple[Any, ...]]:
        # Safe to format: callers pass constant SQL and column names; the keys travel as one array parameter.
        return self._all(f"{sql} WHERE {column} = ANY(%s) {order}", (list(dict.fromkeys(keys)),))  # nosec B608

    # -- writing -------------------------------------------------------------------------------------------------

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """Content hashes of the given documents that exist."""
        return {str(k): str(v) for k, v in self._select_in("SELECT id, content_hash FROM documents", "id", ids)}

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

    def get_meta(self, key: str) -> str | None:
        """Read a small setting, or None."""
        row = self._one("SELECT value FROM meta WHERE key = %s", (key,))
        return None if row is None else str(row[0])

    # -- reading -------------------------------------------------------------------------------------------------

    def document(self, doc_id: str) -> Document:
        """The document with this id; NotFound otherwise."""
        row = self._one(f"SELECT {DOC_COLUMNS} FROM documents WHERE id = %s", (doc_id,))  # nosec B608
        if row is None:
            raise NotFound(f"no document with id {doc_id!r}")
        return self._with_inbound({row[0]: document_from_row(row)})[row[0]]

    def documents(self, ids: Iterable[str]) -> dict[str, Document]:
        """The documents among these ids that exist."""
        rows = self._select_in(f"SELECT {DOC_COLUMNS} FROM documents", "id", ids)  # nosec B608
        return self._with_inbound({row[0]: document_from_row(row) for row in rows})

    def document_heads(self, ids: Iterable[str]) -> dict[str, Document]:
        """The documents among these ids that exist, with empty text and blocks."""
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
        query = newer_versions_query(doc, "%s", 'id COLLATE "C"')
        if query is None:
            return []
        return [NewerVersion(str(i), str(t), int(y), str(p)) for i, t, y, p in self._all(*query)]

    def collection_names(self) -> list[str]:
        """The named collections that hold documents."""
        rows = self._all(
            "SELECT DISTINCT collection COLLATE \"C\" AS c FROM documents WHERE collection <> '' ORDER BY c"
        )
        return [str(r[0]) for r in rows]

    def collections(self) -> dict[str, int]:
        """Named collections with their document counts ("" is the literature outside any collection)."""
        rows = self._all(
            'SELECT collection, count(*) FROM documents GROUP BY collection ORDER BY collection COLLATE "C"'
        )
        return {str(name): int(n) for name, n in rows}

    def document_ids(self, *, origin_prefix: str | None = None) -> list[str]:
        """All document ids in byte order (as SQLite sorts them), optionally only those under a path prefix."""
        if origin_prefix is None:
            return [r[0] for r in self._all('SELECT id FROM documents ORDER BY id COLLATE "C"')]
        rows = self._all(
            'SELECT id FROM documents WHERE substr(origin, 1, %s) = %s ORDER BY id COLLATE "C"',
            (len(origin_prefix), origin_prefix),
        )
        return [r[0] for r in rows]

    def passages_of(self, doc_id: str) -> list[Passage]:
        """A document's passages in reading order."""
        sql = f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE document_id = %s ORDER BY ordinal"  # nosec B608
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
        sql = f"SELECT seq, {PASSAGE_COLUMNS} FROM passages WHERE seq > %s ORDER BY seq LIMIT %s"  # nosec B608
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
        sql = f"{INDEX_ROW_SQL} WHERE p.seq > %s ORDER BY p.seq LIMIT %s"  # nosec B608
        after = 0
        while rows := self._all(sql, (after, batch)):
            yield [index_row(r) for r in rows]
            after = int(rows[-1][0])

    def counts(self) -> tuple[int, int]:
        """(documents, passages)."""
        row = self._one("SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM passages)")
        assert row is not None
        return int(row[0]), int(row[1])

    def stats(self) -> dict[str, object]:
        """Counts overall, by evidence type and by source."""
        docs, passages = self.counts()
        by_type = {
            str(t): int(n)
            for t, n in self._all(
                "SELECT evidence_type, count(*) FROM documents GROUP BY evidence_type ORDER BY count(*) DESC, "
                'evidence_type COLLATE "C"'
            )
        }
        by_source = {
            (s or "(unknown)"): int(n)
            for s, n in self._all(
                'SELECT source, count(*) FROM documents GROUP BY source ORDER BY count(*) DESC, source COLLATE "C" '
                "LIMIT 20"
            )
        }
        withdrawn = self._one(STATS_WITHDRAWN_SQL)
        assert withdrawn is not None
        return {
            "documents": docs, "passages": passages, "by_type": by_type, "by_source": by_source,
            "retracted": int(withdrawn[0]), "notices": int(withdrawn[1]),
        }  # fmt: skip

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
            "SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id "
            'WHERE substr(d.text, p.start + 1, p."end" - p.start) IS DISTINCT FROM p.text LIMIT %s',
            (limit,),
        )
        return [str(r[0]) for r in rows]

    # -- the change log and the indexes that follow it -----------------------------------------------------------

    def changes_after(self, seq: int) -> list[Change]:
        """(seq, document id, op) of every change after `seq`, oldest first."""
        rows = self._all("SELECT seq, document_id, op FROM changes WHERE seq > %s ORDER BY seq", (seq,))
        return [(int(s), str(d), str(op)) for s, d, op in rows]

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

    def pruned_upto(self) -> int:
        """Changes up to this number are gone from the log: an index behind it must rebuild from the documents."""
        return int(self.get_meta("pruned_upto") or 0)

    def watermark(self, index: str) -> int:
        """The last change the named index recorded as applied (0 when it never did)."""
        row = self._one("SELECT watermark FROM index_state WHERE name = %s", (index,))
        return int(row[0]) if row else 0

    def set_watermark(self, index: str, seq: int) -> None:
        """Record that the named index has applied every change up to `seq`."""
        with self._lock, self._db.cursor() as cur:
            cur.execute(
                "INSERT INTO index_state VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET watermark = EXCLUDED.watermark",
                (index, int(seq)),
            )

    def watermarks(self) -> dict[str, int]:
        """Every index's recorded watermark."""
        return {
            str(n): int(w) for n, w in self._all('SELECT name, watermark FROM index_state ORDER BY name COLLATE "C"')
        }

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
