"""`bedside check`: is the data directory consistent? Databases, passages against their documents, indexes against
the store, the audit chain, and a search that finds a stored passage.

Opening the knowledge base replays the store's change log into the indexes first, so this checks the state a
server would serve after a crash or a restore.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import tantivy

from bedside.config import Settings
from bedside.errors import BedsideError
from bedside.facade import Bedside
from bedside.index.lexical import LexicalIndex
from bedside.index.vectors import VectorIndex
from bedside.ops.deploy_checks import Finding

__all__ = ["SQLITE_FILES", "check_data", "check_lexical", "check_store", "check_vectors", "sqlite_integrity"]

# Every SQLite database bedside keeps in a data directory (the article database too, when it is the default).
SQLITE_FILES = ("knowledge.sqlite", "vectors/vectors.sqlite", "bedside.db", "sessions.db", "conversations.sqlite")


def sqlite_integrity(path: Path) -> list[str]:
    """SQLite's own `PRAGMA integrity_check` of one file, as problems naming the file (none when it is sound)."""
    try:
        with closing(sqlite3.connect(path, timeout=30)) as db:
            rows = db.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return [f"{path}: {exc}"]
    return [f"{path}: {r[0]}" for r in rows if r[0] != "ok"]


def check_data(settings: Settings) -> list[Finding]:
    """Every consistency check of the data directory in `settings` (read-only apart from index catch-up)."""
    files = [settings.data_dir / name for name in SQLITE_FILES if (settings.data_dir / name).exists()]
    problems = [p for path in files for p in sqlite_integrity(path)]
    findings = [Finding("SQLite files", not problems, "; ".join(problems) or f"{len(files)} file(s) sound")]
    with Bedside(settings=settings.model_copy(update={"starter_kb": False})) as b:
        findings += [check_store(b), check_lexical(b), check_vectors(b), _search(b)]
    findings.append(_audit(settings))
    return findings


def check_store(b: Bedside) -> Finding:
    """SQLite's check, orphan passages, passage counts, and every passage's span against its document."""
    problems = b.store.check_integrity()
    spans = b.store.span_mismatches()
    if spans:
        problems.append(f"passages not matching their document's text: {', '.join(spans)}")
    docs, passages = b.store.counts()
    return Finding("knowledge store", not problems, "; ".join(problems) or f"{docs} documents, {passages} passages")


def check_lexical(b: Bedside) -> Finding:
    """The lexical index holds exactly the store's passages and has applied every change."""
    if not isinstance(b.lexical, LexicalIndex):  # a shared backend lists its entries itself
        return _compare("lexical index", b.lexical.seqs(), b.store.seqs(), b.lexical.watermark(), b.store.last_change())
    searcher = b.lexical.index.searcher()
    hits = searcher.search(tantivy.Query.all_query(), limit=max(searcher.num_docs, 1)).hits
    indexed = sorted(int(searcher.doc(address)["seq"][0]) for _, address in hits)
    return _compare("lexical index", indexed, b.store.seqs(), b.lexical.watermark(), b.store.last_change())


def check_vectors(b: Bedside) -> Finding:
    """The vector index (when in use) holds exactly the store's passages and has applied every change."""
    if b.dense is None:
        return Finding("vector index", True, "not in use")
    if isinstance(b.dense, VectorIndex):
        stored = sorted(int(s) for s in b.dense.snapshot().seqs)
    else:
        stored = b.dense.seqs()
    return _compare("vector index", stored, b.store.seqs(), b.dense.watermark(), b.store.last_change())


def _compare(name: str, indexed: list[int], passages: list[int], mark: int, last: int) -> Finding:
    """The index holds exactly the store's passages, once each, and has applied the newest change."""
    problems = []
    orphans, missing = set(indexed) - set(passages), set(passages) - set(indexed)
    if orphans:
        problems.append(f"{len(orphans)} entries without a passage (e.g. seq {min(orphans)})")
    if missing:
        problems.append(f"{len(missing)} passages not indexed (e.g. seq {min(missing)})")
    if len(indexed) != len(set(indexed)):
        problems.append(f"{len(indexed) - len(set(indexed))} duplicate entries")
    if mark != last:
        problems.append(f"applied changes up to {mark}, the store is at {last}")
    return Finding(name, not problems, "; ".join(problems) or f"{len(indexed)} entries, in step with the store")


def _search(b: Bedside) -> Finding:
    """A stored passage's own words find it."""
    sample = next(b.store.iter_passages(batch=1), None)
    if sample is None:
        return Finding("search", True, "knowledge base is empty")
    _, passage = sample
    query = " ".join(passage.text.split()[:8])
    found = [h.passage_id for h in b.search(query, 20, priors=False)]
    ok = passage.id in found
    return Finding("search", ok, f"found passage {passage.id}" if ok else f"{query!r} does not find {passage.id}")


def _audit(settings: Settings) -> Finding:
    from bedside.editorial.desk import open_article_service

    try:
        with open_article_service(settings) as service:
            check = service.verify_audit()
    except BedsideError as exc:
        return Finding("audit log", False, str(exc))
    if not check.ok:
        return Finding("audit log", False, f"first broken record {check.first_broken}: {'; '.join(check.problems)}")
    return Finding("audit log", True, f"{check.records} records, chain intact, head {check.head}")
