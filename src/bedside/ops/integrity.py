"""`bedside check`: is the data directory consistent? Databases, passages against their documents, indexes against
the store, the audit chain, and a search that finds a stored passage.

Opening the knowledge base replays the store's change log into the indexes first, so this checks the state a
server would serve after a crash or a restore.
"""

from __future__ import annotations

from pathlib import Path

from bedside.config import Settings
from bedside.errors import BedsideError
from bedside.facade import Bedside, IndexContents
from bedside.ops.deploy_checks import Finding
from bedside.store.datafiles import SQLITE_FILES, article_file
from bedside.store.sqlite import integrity_problems

__all__ = ["check_data", "check_lexical", "check_store", "check_vectors", "sqlite_files", "sqlite_integrity"]

sqlite_integrity = integrity_problems  # the check of one file, as backup and restore run it


def sqlite_files(settings: Settings) -> list[Path]:
    """The data directory's SQLite databases that exist (those `store.datafiles` declares), with the article
    database where the settings put it when it is SQLite."""
    names = [settings.data_dir / name for name in SQLITE_FILES]
    articles = article_file(settings)
    return [path for path in [*names, *([articles] if articles is not None else [])] if path.exists()]


def check_data(settings: Settings) -> list[Finding]:
    """Every consistency check of the data directory in `settings` (read-only apart from index catch-up)."""
    files = sqlite_files(settings)
    problems = [p for path in files for p in integrity_problems(path)]
    findings = [Finding("SQLite files", not problems, "; ".join(problems) or f"{len(files)} file(s) sound")]
    with Bedside(settings=settings.model_copy(update={"starter_kb": False})) as b:
        findings += [check_store(b), check_lexical(b), check_vectors(b), _search(b)]
    findings.append(_audit(settings))
    return findings


def check_store(b: Bedside) -> Finding:
    """SQLite's check, orphan passages, passage counts, and every passage's span against its document."""
    problems = b.store_problems()
    docs, passages = b.counts()
    return Finding("knowledge store", not problems, "; ".join(problems) or f"{docs} documents, {passages} passages")


def check_lexical(b: Bedside) -> Finding:
    """The lexical index holds exactly the store's passages and has applied every change."""
    return _compare("lexical index", b.index_contents()["lexical"], *b.store_position())


def check_vectors(b: Bedside) -> Finding:
    """The vector index (when in use) holds exactly the store's passages and has applied every change."""
    dense = b.index_contents().get("dense")
    if dense is None:
        return Finding("vector index", True, "not in use")
    return _compare("vector index", dense, *b.store_position())


def _compare(name: str, index: IndexContents, passages: list[int], last: int) -> Finding:
    """The index holds exactly the store's passages, once each, and has applied the newest change."""
    indexed, mark = index.seqs, index.watermark
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
    passage = b.first_passage()
    if passage is None:
        return Finding("search", True, "knowledge base is empty")
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
