"""Harvest a PubMed query into the knowledge base: search, fetch in pages, ingest, resumable.

A query larger than ESearch's 10,000-id window is split into date windows (Entrez date) until each fits. Each
window is searched with the history server; a fresh window is fetched page by page from the history server, while
a window partly done before (a killed run) fetches by id only the PMIDs not yet ingested. The PMIDs ingested for a
query are kept in the data directory (`pubmed/harvest.sqlite`) after their page is written to the store, so a run
can be killed at any point and re-run: nothing is fetched or ingested twice, beyond the one page in flight.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from bedside.errors import InvalidInput
from bedside.ingest.medline import read_medline
from bedside.knowledge import IngestReport, KnowledgeBase
from bedside.model import Document
from bedside.pubmed.eutils import ESEARCH_CAP, EUtils
from bedside.store.sqlite import Schema, open_database, transaction

__all__ = ["HarvestLog", "HarvestReport", "Window", "date_windows", "harvest"]

EARLIEST = date(1781, 1, 1)  # older than any PubMed record
Progress = Callable[[int, int], None]  # (records done, records planned)


@dataclass(frozen=True, slots=True)
class Window:
    """An Entrez-date range (inclusive; None: unbounded search) and how many records it holds."""

    start: date | None
    end: date | None
    count: int


@dataclass
class HarvestReport:
    """What a harvest found and did."""

    found: int = 0  # records the query matches (in the date range)
    planned: int = 0  # records to fetch this run (not done before, within --max)
    already: int = 0  # matched records ingested by an earlier run
    fetched: int = 0
    windows: int = 0
    truncated: list[str] = field(default_factory=list)  # single days past ESearch's window (only the first 10,000)
    ingest: IngestReport = field(default_factory=IngestReport)


HARVEST_SCHEMA = Schema(
    "PubMed harvest log",
    ("CREATE TABLE IF NOT EXISTS done (query TEXT NOT NULL, pmid TEXT NOT NULL, PRIMARY KEY (query, pmid))",),
)


class HarvestLog:
    """The PMIDs already ingested for each query (one SQLite file in the data directory)."""

    def __init__(self, path: Path) -> None:
        self._db = open_database(path, HARVEST_SCHEMA)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def done(self, query: str, pmids: Iterable[str]) -> set[str]:
        """Those of these PMIDs already ingested for this query."""
        wanted = list(dict.fromkeys(pmids))
        out: set[str] = set()
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            # Safe to format: only placeholders are formatted in, never values.
            sql = f"SELECT pmid FROM done WHERE query = ? AND pmid IN ({','.join('?' * len(part))})"  # nosec B608
            rows = self._db.execute(sql, (query, *part))
            out.update(r[0] for r in rows)
        return out

    def mark(self, query: str, pmids: Iterable[str]) -> None:
        """Record PMIDs as ingested for this query."""
        with transaction(self._db) as db:
            db.executemany("INSERT OR IGNORE INTO done VALUES (?, ?)", [(query, p) for p in pmids])


def date_windows(client: EUtils, term: str, start: date | None, end: date, report: HarvestReport) -> list[Window]:
    """Date ranges that each hold at most ESearch's window of records, oldest first (halved until they fit)."""
    first = client.esearch(term, retmax=0, mindate=start, maxdate=end if start else None)
    report.found = first.count
    if first.count < ESEARCH_CAP:
        return [Window(start, end if start else None, first.count)]
    out: list[Window] = []
    pending = [(start or EARLIEST, end, first.count)]
    while pending:
        lo, hi, count = pending.pop()
        if count < ESEARCH_CAP:
            out.append(Window(lo, hi, count))
            continue
        if lo >= hi:  # one day holds more than ESearch can list: take its first 10,000, and say so
            report.truncated.append(lo.isoformat())
            out.append(Window(lo, hi, ESEARCH_CAP - 1))
            continue
        mid = lo + (hi - lo) // 2
        for a, b in ((mid + timedelta(days=1), hi), (lo, mid)):  # popped oldest first
            n = client.esearch(term, retmax=0, mindate=a, maxdate=b).count
            if n:
                pending.append((a, b, n))
    return sorted(out, key=lambda w: w.start or EARLIEST)


def harvest(
    client: EUtils,
    kb: KnowledgeBase,
    log: HarvestLog,
    term: str,
    *,
    since: date | None = None,
    until: date | None = None,
    max_records: int | None = None,
    page: int = 500,
    collection: str = "",
    progress: Progress | None = None,
) -> HarvestReport:
    """Fetch and ingest every record the query matches (within dates and `max_records`), skipping those ingested by
    an earlier run of the same query."""
    if not 1 <= page <= ESEARCH_CAP:
        raise InvalidInput(f"page size must be between 1 and {ESEARCH_CAP}")
    if max_records is not None and max_records < 1:
        raise InvalidInput("--max must be at least 1")
    until = until or date.today()
    if since is not None and since > until:
        raise InvalidInput(f"--since {since.isoformat()} is after {until.isoformat()}")
    report = HarvestReport()
    windows = date_windows(client, term, since, until, report)
    report.windows = len(windows)
    budget = max_records if max_records is not None else report.found
    try:
        for window in windows:
            if budget <= 0:
                break
            found = client.esearch(
                term, retmax=min(ESEARCH_CAP, max(window.count, 1)), mindate=window.start, maxdate=window.end
            )
            done = log.done(term, found.ids)
            report.already += len(done)
            todo = [pmid for pmid in found.ids if pmid not in done][:budget]
            budget -= len(todo)
            report.planned += len(todo)
            fresh = len(done) == 0
            for i in range(0, len(todo), page):
                part = todo[i : i + page]
                xml = (
                    client.efetch_history(found.webenv, found.query_key, i, len(part))
                    if fresh
                    else client.efetch_ids(part)
                )
                docs = _read(xml, term)
                kb.ingest_records(docs, collection=collection, report=report.ingest, sync=False)
                got = [d.pmid for d in docs if isinstance(d, Document)]
                log.mark(term, got)
                report.fetched += len(got)
                if progress is not None:
                    progress(report.fetched, report.planned)
    finally:  # once, at the end (or when a run dies): the store's change log keeps the indexes recoverable
        kb.sync_indexes()
    return report


def _read(xml: bytes, term: str) -> list:  # type: ignore[type-arg]
    origin = f"PubMed query {term!r}"
    return list(read_medline(io.BytesIO(xml), origin))
