"""`bedside backup DEST` and `bedside restore SRC`: a consistent copy of a data directory, taken while it is in use.

Each SQLite database is copied with SQLite's online backup API in one step, which reads one committed snapshot
while writers carry on (WAL). The vector index is copied *before* the knowledge store, so its watermark never runs
ahead of the store copy: on first open it replays the store's change log and catches up. The lexical index is not
copied at all: it is rebuilt from the store on first open (cheap next to embedding). Derived files (vector
snapshots) are rebuilt too.

A PostgreSQL article database is not copied: `pg_dump` is the tool that takes a consistent dump of it, and the
backup says so (in its output and in backup.json) rather than pretending to hold the articles.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from bedside import __version__
from bedside.config import Settings
from bedside.errors import InvalidInput
from bedside.ops.integrity import sqlite_integrity
from bedside.store.private import private_dir, private_file

__all__ = ["MANIFEST", "BackupReport", "backup", "restore"]

MANIFEST = "backup.json"
ARTICLES = "bedside.db"
# In copy order: the vector index before the store it follows; the rest are independent of each other.
DATABASES = ("vectors/vectors.sqlite", "knowledge.sqlite", "conversations.sqlite", "sessions.db")
KEY_FILES = ("secret_key", "audit_key")  # the cookie key and the audit chain's key: without it no verify
KNOWN = (*DATABASES, ARTICLES, *KEY_FILES)  # every name a backup's manifest may list


@dataclass
class BackupReport:
    """What a backup or restore copied, and what it could not."""

    copied: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def backup(settings: Settings, dest: Path) -> BackupReport:
    """Copy the data directory's databases into `dest` (new or empty), each a committed snapshot; check each copy."""
    source = settings.data_dir
    shared = "://" in settings.knowledge_location  # the knowledge store lives in the PostgreSQL database
    if not shared and not (source / "knowledge.sqlite").exists():
        raise InvalidInput(f"{source} holds no knowledge base (no knowledge.sqlite) to back up")
    if dest.exists() and any(dest.iterdir()):
        raise InvalidInput(f"{dest} is not empty; back up into a new or empty folder")
    private_dir(dest)  # it holds password and token hashes, sessions and the keys: its owner's alone
    report = BackupReport()
    for name in DATABASES:
        if (source / name).exists():
            _copy_database(source / name, dest / name)
            report.copied.append(name)
    articles = _sqlite_articles(settings)
    if articles is not None:
        _copy_database(articles, dest / ARTICLES)
        report.copied.append(ARTICLES)
        if articles != source / ARTICLES:
            report.notes.append(f"the article database {articles} is copied as {ARTICLES}; after a restore, unset "
                                "BEDSIDE_DATABASE_URL or point it at that file")  # fmt: skip
    else:
        url = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
        dump = f"pg_dump --format=custom --file {dest / 'articles.pgdump'} '{url}'"
        what = "the article database and the knowledge store are" if shared else "the article database is"
        report.notes.append(f"{what} PostgreSQL ({url}) and NOT in this backup: dump it with: {dump}")
    for key_file in KEY_FILES:
        if (source / key_file).exists():
            _copy_key(source / key_file, dest / key_file)
            report.copied.append(key_file)
    report.notes.append("the lexical index is not copied: it is rebuilt from the knowledge store on first open")
    _write_manifest(dest, report)
    return report


def restore(src: Path, settings: Settings) -> BackupReport:
    """Copy a backup made by `backup` into the (empty) data directory of `settings`, checking each database first."""
    if not (src / MANIFEST).is_file():
        raise InvalidInput(f"{src} is not a bedside backup (no {MANIFEST})")
    target = settings.data_dir
    if (target / "knowledge.sqlite").exists():
        raise InvalidInput(f"{target} already holds a knowledge base; restore into an empty data directory")
    manifest = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
    names = [str(n) for n in manifest.get("copied", [])]
    unknown = [n for n in names if n not in KNOWN]
    if unknown:  # never a path of the manifest's choosing: "../x" would write outside the data directory
        shown = ", ".join(repr(n) for n in unknown[:5])
        raise InvalidInput(f"{src / MANIFEST} names files a backup never holds: {shown} (expected only: "
                           f"{', '.join(KNOWN)})")  # fmt: skip
    problems = [p for n in names if n not in KEY_FILES for p in sqlite_integrity(src / n)]
    if problems:
        raise InvalidInput("the backup is damaged: " + "; ".join(problems))
    report = BackupReport()
    private_dir(target)
    articles = _sqlite_articles(settings)
    for name in names:
        dest = target / name
        if name == ARTICLES and articles is not None:
            dest = articles
        if name == ARTICLES and articles is None:
            report.notes.append(f"{ARTICLES} not restored: BEDSIDE_DATABASE_URL names a PostgreSQL database")
            continue
        if dest.exists():
            raise InvalidInput(f"{dest} already exists; restore into an empty data directory")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if name in KEY_FILES:
            _copy_key(src / name, dest)
        else:
            _copy_database(src / name, dest)
        report.copied.append(name)
    report.notes.extend(str(n) for n in manifest.get("notes", []) if "PostgreSQL" in str(n))
    return report


def _sqlite_articles(settings: Settings) -> Path | None:
    """The SQLite article database file, or None when the article database is PostgreSQL."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database).expanduser()


def _copy_database(source: Path, dest: Path) -> None:
    """One committed snapshot of `source` written to `dest` (SQLite backup API, all pages in one step)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    draft = dest.with_name(dest.name + ".partial")
    draft.unlink(missing_ok=True)
    private_file(draft)
    with closing(sqlite3.connect(source, timeout=60)) as src, closing(sqlite3.connect(draft)) as out:
        src.backup(out)  # pages=-1: one step, so the copy is a single consistent snapshot
        out.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
    problems = sqlite_integrity(draft)
    if problems:
        draft.unlink()
        raise InvalidInput("the copy failed its integrity check: " + "; ".join(problems))
    with draft.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(draft, dest)


def _copy_key(source: Path, dest: Path) -> None:
    """A key file's copy, readable by its owner only."""
    shutil.copy2(source, private_file(dest))
    os.chmod(dest, 0o600)


def _write_manifest(dest: Path, report: BackupReport) -> None:
    manifest = {
        "bedside_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "copied": report.copied,
        "notes": report.notes,
    }
    private_file(dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
