"""Every file bedside keeps in a data directory, declared once: backup and restore copy these, `bedside check`
checks these, and nothing else decides what a data directory holds.

Files not listed are derived and rebuilt on first open: the lexical index (`lexical/`, from the knowledge store)
and the vector index's search snapshots (`vectors/snapshot-*`, from `vectors/vectors.sqlite`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import make_url

from bedside.config import Settings

__all__ = [
    "ARTICLES",
    "DATA_FILES",
    "KEY_FILES",
    "LEGACY_FILES",
    "LEGACY_SESSIONS",
    "SQLITE_FILES",
    "DataFile",
    "article_file",
]

Kind = Literal["sqlite", "articles", "key"]


@dataclass(frozen=True, slots=True)
class DataFile:
    """One file of a data directory."""

    name: str  # its path inside the data directory
    kind: Kind  # an SQLite database; the article database (SQLite unless a PostgreSQL URL is configured); a key
    what: str


ARTICLES = "bedside.db"

# In backup order: a file that records how far it has followed the knowledge store (the vector index's watermark,
# the harvest log's ingested PMIDs) is copied before the store, so its copy never runs ahead of the store's copy;
# on first open it catches up. The rest are independent of each other.
DATA_FILES: tuple[DataFile, ...] = (
    DataFile("vectors/vectors.sqlite", "sqlite", "passage vectors"),
    DataFile("pubmed/harvest.sqlite", "sqlite", "PMIDs each PubMed harvest has ingested"),
    DataFile("knowledge.sqlite", "sqlite", "documents and passages"),
    DataFile("vectors/sentences.sqlite", "sqlite", "sentence vectors of the optional rerank"),
    DataFile("conversations.sqlite", "sqlite", "follow-up threads"),
    DataFile(ARTICLES, "articles", "articles, reviews, accounts, sessions and the audit log"),
    DataFile("secret_key", "key", "the key that signs cookies (when BEDSIDE_SECRET_KEY is not set)"),
    DataFile("audit_key", "key", "the audit chain's key: without it the chain cannot be verified"),
)
SQLITE_FILES = tuple(f.name for f in DATA_FILES if f.kind == "sqlite")
KEY_FILES = tuple(f.name for f in DATA_FILES if f.kind == "key")
# Written by earlier releases: sessions, now in the article database (the web app moves live ones there and
# deletes the file). Never backed up.
LEGACY_SESSIONS = "sessions.db"
LEGACY_FILES = (LEGACY_SESSIONS,)


def article_file(settings: Settings) -> Path | None:
    """The SQLite article database file, or None when the article database is PostgreSQL."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database).expanduser()
