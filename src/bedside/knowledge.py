"""The knowledge base: ingest sources into the store and keep the search indexes in step with it."""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from bedside.errors import IngestError, InvalidInput
from bedside.index.protocols import SyncProgress, SyncReport
from bedside.ingest import FORMATS, RecordError, chunk, read_path
from bedside.model import (
    RETRACTING,
    CorrectionKind,
    Document,
    EvidenceType,
    NewerVersion,
    Passage,
    SourceState,
)
from bedside.store import KnowledgeStore
from bedside.store.kb_rows import nul_field

_SUFFIXES = (".md", ".markdown", ".txt", ".jsonl", ".ndjson", ".xml", ".nxml", ".html", ".htm", ".xhtml", ".pdf")
BATCH_DOCUMENTS = 400
_COLLECTIONS_KEY = "collections"
_COLLECTION_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# A named collection holds an institution's own documents unless its operator says otherwise.
DEFAULT_PRIORITY = 1
DEFAULT_LABEL = "Local protocol"


@dataclass(frozen=True, slots=True)
class Collection:
    """A named collection of documents: its priority over the literature (0: none) and its label in references."""

    name: str
    priority: int = DEFAULT_PRIORITY
    label: str = DEFAULT_LABEL
    documents: int = 0


def check_collection_name(name: str) -> str:
    """The name if usable (lower-case letters, digits, '.', '_', '-'; at most 64), else InvalidInput."""
    if not _COLLECTION_NAME.match(name):
        raise InvalidInput(
            f"invalid collection name {name!r}: use lower-case letters, digits, '.', '_' and '-' (at most 64)"
        )
    return name


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
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and p.name.lower().removesuffix(".gz").endswith(_SUFFIXES)
            )
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
        collection: str = "",
    ) -> IngestReport:
        """Read every path into the store; idempotent by content hash; one bad file never stops the rest.

        `collection` puts every document read into that named collection (re-ingesting a document into another
        collection moves it there)."""
        if fmt is not None and fmt not in FORMATS:
            raise IngestError(fmt, f"unknown format (choose from {', '.join(FORMATS)})")
        if collection:
            check_collection_name(collection)
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
                    if collection:
                        doc = replace(doc, collection=collection)
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

    def ingest_records(
        self,
        items: Iterable[Document | RecordError],
        *,
        collection: str = "",
        report: IngestReport | None = None,
        sync: bool = True,
    ) -> IngestReport:
        """Write documents already read (e.g. fetched from PubMed) like `ingest` writes a file's; idempotent by
        content hash; record errors are reported, never stop the rest. `sync=False` leaves the indexes to a later
        `sync_indexes` (they follow the store's change log, so a crash before it loses nothing)."""
        if collection:
            check_collection_name(collection)
        report = report if report is not None else IngestReport()
        batch: list[Document] = []
        for item in items:
            if isinstance(item, RecordError):
                report.failed.append((_where(item.error), item.error.reason))
                continue
            doc = replace(item, collection=collection) if collection else item
            report.warnings.extend((doc.origin, flag) for flag in doc.flags)
            batch.append(doc)
            if len(batch) >= BATCH_DOCUMENTS:
                self._write(batch, report)
                batch = []
        if batch:
            self._write(batch, report)
        if sync:
            self.sync_indexes()
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
            field = nul_field(doc, passages)
            if field is not None:  # no store can hold it (PostgreSQL text cannot); the rest of the batch goes on
                report.failed.append(
                    (
                        doc.origin or doc.id,
                        f"document {doc.id!r}: field '{field}' contains a NUL "
                        "character (U+0000), which the knowledge store cannot hold",
                    )
                )
                continue
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

    def remove_many(self, doc_ids: Iterable[str]) -> int:
        """Remove those of these documents that exist (then sync the indexes once); how many were removed."""
        present = self.store.hashes(list(dict.fromkeys(doc_ids)))
        for doc_id in present:
            self.store.remove(doc_id)
        if present:
            self.sync_indexes()
        return len(present)

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

    def source_states(self, ids: Iterable[str]) -> dict[str, SourceState]:
        """What the knowledge base says now about each of these documents that it holds (absent: removed)."""
        wanted = list(dict.fromkeys(ids))
        hashes = self.store.hashes(wanted)
        out: dict[str, SourceState] = {}
        for doc_id, d in self.store.document_heads(wanted).items():
            updates = [c for c in d.corrections if c.kind is CorrectionKind.UPDATE_IN]
            newer = self.store.newer_versions(d) + [NewerVersion("", c.source, None, c.pmid) for c in updates]
            out[doc_id] = SourceState(
                content_hash=hashes[doc_id],
                title=d.guideline or d.title,
                retracted=d.retracted,
                retraction=next((c.note for c in d.corrections if c.kind in RETRACTING), ""),
                notice=d.notice,
                newer=tuple(newer),
                notes=tuple(
                    c.note for c in d.corrections if c.kind in (CorrectionKind.CONCERN_IN, CorrectionKind.ERRATUM_IN)
                ),
            )
        return out

    def collections(self) -> list[Collection]:
        """Every named collection holding documents or configured, with its settings."""
        settings = self._collection_settings()
        counts = {name: n for name, n in self.store.collections().items() if name}
        return [
            Collection(name, documents=counts.get(name, 0), **settings.get(name, {}))  # type: ignore[arg-type]
            for name in sorted(set(counts) | set(settings))
        ]

    def collection(self, name: str) -> Collection:
        """One collection's settings (the defaults for a name never configured)."""
        return Collection(name, **self._collection_settings().get(name, {}))  # type: ignore[arg-type]

    def set_collection(self, name: str, *, priority: int | None = None, label: str | None = None) -> Collection:
        """Set a collection's priority (0 to 10; 0 ranks it as the literature) and reference label."""
        check_collection_name(name)
        settings = self._collection_settings()
        entry = dict(settings.get(name, {}))
        if priority is not None:
            if not 0 <= priority <= 10:
                raise InvalidInput(f"collection priority must be between 0 and 10, not {priority}")
            entry["priority"] = priority
        if label is not None:
            label = " ".join(label.split())
            if not label or len(label) > 60:
                raise InvalidInput("a collection label needs 1 to 60 characters")
            entry["label"] = label
        settings[name] = entry
        self.store.set_meta(_COLLECTIONS_KEY, json.dumps(settings, sort_keys=True))
        return self.collection(name)

    def collection_priorities(self) -> dict[str, int]:
        """Collection name -> priority, for every collection that holds documents or is configured."""
        settings = self._collection_settings()
        names = set(self.store.collection_names()) | set(settings)
        return {name: Collection(name, **settings.get(name, {})).priority for name in names}  # type: ignore[arg-type]

    def _collection_settings(self) -> dict[str, dict[str, object]]:
        raw = self.store.get_meta(_COLLECTIONS_KEY)
        return json.loads(raw) if raw else {}

    def medline_pmids(self) -> list[str]:
        """The PMIDs of every document read from MEDLINE records."""
        heads = self.store.document_heads(self.store.document_ids()).values()
        return [d.pmid for d in heads if d.format == "medline" and d.pmid]

    def documents(self) -> Iterator[Document]:
        """Every stored document (for exports and checks)."""
        for doc_id in self.store.document_ids():
            yield self.store.document(doc_id)


def _retype(doc: Document, evidence_type: EvidenceType | None) -> Document:
    if evidence_type is None or doc.evidence_type == evidence_type:
        return doc
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
