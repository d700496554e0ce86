"""The SQLite knowledge store's schema, version by version (see `store.sqlite` for how steps are applied).

The version is kept in `meta.schema_version`, where every release recorded it, as the PostgreSQL store does.
"""

from __future__ import annotations

import sqlite3

from bedside.store.kb_rows import NEW_COLUMNS
from bedside.store.sqlite import Schema, add_missing_columns

__all__ = ["KNOWLEDGE_SCHEMA"]

_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
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
    passage_count INTEGER NOT NULL
);
CREATE TABLE passages (
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
CREATE INDEX passages_document ON passages(document_id, ordinal);
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('upsert', 'remove'))
)
"""

# 2: ingestion warnings per document.
_V2 = "ALTER TABLE documents ADD COLUMN flags TEXT NOT NULL DEFAULT '[]'"

# 3: each search index's watermark in the store's change log.
_V3 = "CREATE TABLE IF NOT EXISTS index_state (name TEXT PRIMARY KEY, watermark INTEGER NOT NULL)"


def _v4(db: sqlite3.Connection) -> None:
    """4: corrections, retraction and collection of a document; retraction and correction notices; indexes for
    collections and for a guideline's later editions.

    Two releases both called themselves version 3: one added the watermark table, the other this step's columns
    and notices. So this step adds what the file lacks of either, and nothing twice."""
    db.execute(_V3)
    add_missing_columns(db, "documents", NEW_COLUMNS[1:])
    db.execute(
        "CREATE TABLE IF NOT EXISTS notices (notice_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE, "
        "kind TEXT NOT NULL, target_pmid TEXT NOT NULL, notice_pmid TEXT NOT NULL, source TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS notices_target ON notices(target_pmid)")
    db.execute("CREATE INDEX IF NOT EXISTS notices_notice ON notices(notice_id)")
    db.execute("CREATE INDEX IF NOT EXISTS documents_collection ON documents(collection)")
    db.execute("CREATE INDEX IF NOT EXISTS documents_guideline ON documents(guideline) WHERE guideline > ''")
    db.execute("CREATE INDEX IF NOT EXISTS documents_title ON documents(title)")


KNOWLEDGE_SCHEMA = Schema("knowledge store", (_V1, _V2, _V3, _v4), meta_key="schema_version")
