"""The knowledge base: ingest sources into the store and keep the search indexes in step with it."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bedside.errors import IngestError
from bedside.index.protocol import SyncProgress, SyncReport
from bedside.ingest import FORMATS, RecordError, chunk, read_path
from bedside.model import Document, EvidenceType, Passage
from bedside.store import KnowledgeStore

_SUFFIXES = (".md", ".markdown", ".txt", ".jsonl", ".ndjson", ".xml", ".nxml", ".html", ".htm", ".xhtml", ".pdf")
BATCH_DOCUMENTS = 400


@dataclass
class IngestReport:
    """What one ingestion run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    passages: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    files: int = 0
    # (file or record, message): hidden text removed from a document read (it was still ingested, without it)
    warnings: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed


class IngestProgress(Protocol):
    """Receives progress while ingesting (a progress bar, a log)."""

    def start(self, total_bytes: int, files: int) -> None: ...
    def advance(self, done_bytes: int, report: IngestReport) -> None: ...
    def finish(self, report: IngestReport) -> None: ...


class IndexSync(Protocol):
    """A search index that follows the store's change log."""

    name: str

    def sync(self, source: KnowledgeStore, progress: SyncProgress | None = None) -> SyncReport: ...
    def watermark(self) -> int: ...


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files named directly, found under folders (recursively) or matched by globs, and paths that match nothing."""
    files: list[Path] = []
    missing: list[tuple[str, str]] = []
    for raw in paths:
        text = os.fspath(raw)
        path = Path(text).expanduser()
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and p.name.lower().removesuffix(".gz").endswith(_SUFFIXES)
            )  # fmt: skip
            if not found:
                missing.append((text, "folder holds no readable files"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif any(c in text for c in "*?["):
            matched = sorted(Path(p) for p in glob.glob(os.path.expanduser(text), recursive=True) if Path(p).is_file())
            if not matched:
                missing.append((text, "pattern matches no files"))
            files.extend(matched)
        else:
            missing.append((text, "no such file or directory"))
    return list(dict.fromkeys(files)), missing


class KnowledgeBase:
    """Documents, passages and the indexes over them, in one data directory."""

    def __init__(self, store: KnowledgeStore, indexes: Sequence[IndexSync] = ()) -> None:
        self.store = store
        self.indexes = list(indexes)
        self.sync_progress: SyncProgress | None = None

    def ingest(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        fmt: str | None = None,
        evidence_type: EvidenceType | None = None,
        progress: IngestProgress | None = None,
    ) -> IngestReport:
        """Read every path into the store; idempotent by content hash; one bad file never stops the rest."""
        if fmt is not None and fmt not in FORMATS:
            raise IngestError(fmt, f"unknown format (choose from {', '.join(FORMATS)})")
        files, missing = expand_paths(paths)
        report = IngestReport(failed=list(missing), files=len(files))
        sizes = [_size(f) for f in files]
        if progress:
            progress.start(sum(sizes), len(files))
        seen: dict[str, str] = {}
        done = 0
        batch: list[Document] = []
        for path, size in zip(files, sizes, strict=True):

            def position(pos: int, base: int = done) -> None:
                _tick(progress, base + pos, report)

            try:
                for item in read_path(path, fmt, position=position):
                    if isinstance(item, RecordError):
                        report.failed.append((_where(item.error), item.error.reason))
                        continue
                    doc = _retype(item, evidence_type)
                    report.warnings.extend((doc.origin, flag) for flag in doc.flags)
                    first = seen.get(doc.id)
                    if first is not None:
                        report.failed.append((doc.origin, f"duplicate document id {doc.id!r} (also in {first})"))
                        continue
                    seen[doc.id] = doc.origin
                    batch.append(doc)
                    if len(batch) >= BATCH_DOCUMENTS:
                        self._write(batch, report)
                        batch = []
            except IngestError as exc:
                report.failed.append((_where(exc), exc.reason))
            done += size
            _tick(progress, done, report)
        if batch:
            self._write(batch, report)
        self.sync_indexes()
        if progress:
            progress.finish(report)
        return report

    def _write(self, batch: list[Document], report: IngestReport) -> None:
        known = self.store.hashes([d.id for d in batch])
        changed: list[tuple[Document, list[Passage]]] = []
        for doc in batch:
            old = known.get(doc.id)
            if old == doc.content_hash:
                report.unchanged += 1
                continue
            passages = chunk(doc)
            changed.append((doc, passages))
            report.passages += len(passages)
            if old is None:
                report.added += 1
            else:
                report.updated += 1
        if changed:
            self.store.write(changed)

    def remove(self, doc_id: str) -> None:
        """Remove a document, its passages and its index entries."""
        self.store.remove(doc_id)
        self.sync_indexes()

    def sync_indexes(self) -> None:
        """Bring every index up to the store's latest change, then forget changes all of them applied.

        Each index is synced under the store's indexer lock for its name, so two processes never index the same
        index at once (the second waits, then finds little or nothing left to do), and its watermark is recorded in
        the store, where every host and `bedside status` can see it.
        """
        for index in self.indexes:
            with self.store.indexer_lock(index.name):
                index.sync(self.store, self.sync_progress)
            self.store.set_watermark(index.name, index.watermark())
        if self.indexes:
            self.store.prune_changes(min(index.watermark() for index in self.indexes))

    def stats(self) -> dict[str, object]:
        """Counts by evidence type and source."""
        return self.store.stats()

    def documents(self) -> Iterator[Document]:
        """Every stored document (for exports and checks)."""
        for doc_id in self.store.document_ids():
            yield self.store.document(doc_id)


def _retype(doc: Document, evidence_type: EvidenceType | None) -> Document:
    if evidence_type is None or doc.evidence_type == evidence_type:
        return doc
    from dataclasses import replace

    return replace(doc, evidence_type=evidence_type)


def _where(exc: IngestError) -> str:
    return f"{exc.path}:{exc.line}" if exc.line is not None else exc.path


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tick(progress: IngestProgress | None, done: int, report: IngestReport) -> None:
    if progress is not None:
        progress.advance(done, report)
