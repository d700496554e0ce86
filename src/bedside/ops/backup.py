"""`bedside backup DEST` and `bedside restore SRC`: a consistent copy of a data directory, taken while it is in use.

The files copied are those `store.datafiles` declares, in its order. Each SQLite database is copied with SQLite's
online backup API in one step, which reads one committed snapshot while writers carry on (WAL). The vector index
is copied *before* the knowledge store, so its watermark never runs ahead of the store copy: on first open it
replays the store's change log and catches up. The lexical index is not copied at all: it is rebuilt from the
store on first open (cheap next to embedding). Derived files (vector snapshots) are rebuilt too.

A PostgreSQL article database is not copied: `pg_dump` is the tool that takes a consistent dump of it, and the
backup says so (in its output and in backup.json) rather than pretending to hold the articles.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from bedside import __version__
from bedside.config import Settings
from bedside.errors import InvalidInput
from bedside.store.datafiles import ARTICLES, DATA_FILES, KEY_FILES, LEGACY_FILES, article_file
from bedside.store.private import private_dir, private_file
from bedside.store.sqlite import copy_snapshot, integrity_problems

__all__ = ["KNOWN", "MANIFEST", "BackupReport", "backup", "restore"]

MANIFEST = "backup.json"
KNOWN = tuple(f.name for f in DATA_FILES)  # every name a backup's manifest may list


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
    articles = article_file(settings)
    for item in DATA_FILES:
        name = item.name
        if item.kind == "articles":
            _back_up_articles(settings, articles, dest, report, shared)
        elif (source / name).exists():
            (_copy_key if item.kind == "key" else _copy_database)(source / name, dest / name)
            report.copied.append(name)
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
    copied = [str(n) for n in manifest.get("copied", [])]
    names = [n for n in copied if n not in LEGACY_FILES]  # an older backup's sessions: signing in again is all
    unknown = [n for n in names if n not in KNOWN]
    if unknown:  # never a path of the manifest's choosing: "../x" would write outside the data directory
        shown = ", ".join(repr(n) for n in unknown[:5])
        raise InvalidInput(
            f"{src / MANIFEST} names files a backup never holds: {shown} (expected only: {', '.join(KNOWN)})"
        )
    problems = [p for n in names if n not in KEY_FILES for p in integrity_problems(src / n)]
    if problems:
        raise InvalidInput("the backup is damaged: " + "; ".join(problems))
    report = BackupReport()
    private_dir(target)
    articles = article_file(settings)
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


def _back_up_articles(
    settings: Settings, articles: Path | None, dest: Path, report: BackupReport, shared: bool
) -> None:
    """Copy the SQLite article database as ARTICLES, or say how to dump a PostgreSQL one."""
    if articles is not None:
        if not articles.exists():
            return
        _copy_database(articles, dest / ARTICLES)
        report.copied.append(ARTICLES)
        if articles != settings.data_dir / ARTICLES:
            report.notes.append(
                f"the article database {articles} is copied as {ARTICLES}; after a restore, unset "
                "BEDSIDE_DATABASE_URL or point it at that file"
            )
        return
    url = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    dump = f"pg_dump --format=custom --file {dest / 'articles.pgdump'} '{url}'"
    what = "the article database and the knowledge store are" if shared else "the article database is"
    report.notes.append(f"{what} PostgreSQL ({url}) and NOT in this backup: dump it with: {dump}")


def _copy_database(source: Path, dest: Path) -> None:
    """One committed snapshot of `source` written to `dest` (SQLite backup API, all pages in one step)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    draft = dest.with_name(dest.name + ".partial")
    draft.unlink(missing_ok=True)
    private_file(draft)
    copy_snapshot(source, draft)
    problems = integrity_problems(draft)
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
