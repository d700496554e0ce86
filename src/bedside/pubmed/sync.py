"""Keep a knowledge base in step with NLM's MEDLINE/PubMed distribution: baseline files, then daily update files.

Files are applied strictly in order (by their year and number: pubmed25n0001.xml.gz before pubmed25n1275.xml.gz),
each only after its MD5 matches the `.md5` file published beside it. A file's records are ingested (a newer
version of a record replaces the older), then its DeleteCitation PMIDs are removed. Each applied file is recorded
in the knowledge base with its MD5, so a sync stopped at any point re-runs from the first file not yet applied,
and a sync with nothing new is a no-op. A file whose MD5 differs from the one recorded when it was applied is
reported (NLM does not republish a file under the same name) and not applied again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from bedside.errors import IngestError, InvalidInput
from bedside.ingest import RecordError
from bedside.ingest.medline import DeletedCitations, read_medline_updates
from bedside.knowledge import IngestReport, KnowledgeBase
from bedside.model import Document

__all__ = ["SyncFile", "SyncReport", "distribution_files", "sync_distribution"]

_NAME = re.compile(r"^pubmed(\d{2})n(\d{4})\.xml(\.gz)?$")
_MD5 = re.compile(r"\b([0-9a-f]{32})\b", re.I)
STATE_KEY = "pubmed_sync"
Progress = Callable[[str, int, int], None]  # (file name, files done, files to apply)


@dataclass(frozen=True, slots=True)
class SyncFile:
    """One distribution file, in the order NLM numbers them."""

    path: Path
    year: int
    number: int

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class SyncReport:
    """What a sync applied."""

    applied: list[str] = field(default_factory=list)
    skipped: int = 0  # files applied by an earlier run
    deleted: int = 0  # documents removed by DeleteCitation
    ingest: IngestReport = field(default_factory=IngestReport)
    problems: list[str] = field(default_factory=list)  # a file that could not be applied (the sync stops there)


def distribution_files(folder: Path) -> list[SyncFile]:
    """The baseline and update files under a folder (any depth), in application order."""
    if not folder.is_dir():
        raise InvalidInput(f"{folder}: not a folder")
    found = []
    for path in folder.rglob("pubmed*n*.xml*"):
        m = _NAME.match(path.name)
        if m and path.is_file():
            found.append(SyncFile(path, int(m.group(1)), int(m.group(2))))
    numbers = [(f.year, f.number) for f in found]
    dupes = {n for n in numbers if numbers.count(n) > 1}
    if dupes:
        year, number = sorted(dupes)[0]
        raise InvalidInput(f"{folder}: file number {number:04d} of year {year:02d} appears more than once")
    return sorted(found, key=lambda f: (f.year, f.number))


def file_md5(path: Path) -> str:
    """The MD5 of a file's bytes, as NLM publishes it."""
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def published_md5(path: Path) -> str:
    """The MD5 in the `.md5` file beside a distribution file ("MD5(pubmed25n0001.xml.gz)= 0123...")."""
    sidecar = path.with_name(path.name + ".md5")
    if not sidecar.is_file():
        raise IngestError(str(path), f"no {sidecar.name} beside it: cannot verify the file")
    m = _MD5.search(sidecar.read_text(encoding="ascii", errors="replace"))
    if m is None:
        raise IngestError(str(sidecar), "holds no MD5")
    return m.group(1).lower()


def sync_distribution(
    kb: KnowledgeBase, folder: Path, *, progress: Progress | None = None, collection: str = ""
) -> SyncReport:
    """Apply, in order, every distribution file under `folder` not applied before; stop at the first bad one."""
    files = distribution_files(folder)
    state = json.loads(kb.store.get_meta(STATE_KEY) or '{"applied": {}}')
    applied: dict[str, str] = state["applied"]
    last = tuple(state.get("last") or (0, 0))
    report = SyncReport()
    todo = []
    for f in files:
        if f.name in applied or (f.year, f.number) <= last:
            report.skipped += 1
            if f.name in applied and file_md5(f.path) != applied[f.name]:
                report.problems.append(f"{f.name}: differs from the file applied under that name (not re-applied)")
            continue
        todo.append(f)
    for done, f in enumerate(todo):
        if progress is not None:
            progress(f.name, done, len(todo))
        try:
            expected, actual = published_md5(f.path), file_md5(f.path)
            if expected != actual:
                raise IngestError(str(f.path), f"MD5 {actual} does not match the published {expected}")
            deleted = _apply(kb, f, report.ingest, collection)
        except IngestError as exc:
            report.problems.append(str(exc))
            break
        except (OSError, EOFError) as exc:  # an unreadable or corrupt gzip stream
            report.problems.append(f"{f.path}: {exc}")
            break
        report.deleted += deleted
        report.applied.append(f.name)
        applied[f.name] = actual
        kb.store.set_meta(STATE_KEY, json.dumps({"applied": applied, "last": [f.year, f.number]}))
    if progress is not None:
        progress("", len(report.applied), len(todo))
    return report


def _apply(kb: KnowledgeBase, f: SyncFile, report: IngestReport, collection: str) -> int:
    """Ingest one file's records, then remove the documents its DeleteCitation elements name."""
    deletions: list[str] = []
    with _open(f.path) as stream:

        def records() -> Iterator[Document | RecordError]:
            for item in read_medline_updates(stream, f.name):
                if isinstance(item, DeletedCitations):
                    deletions.extend(item.pmids)
                else:
                    yield item

        kb.ingest_records(records(), collection=collection, report=report)
    return kb.remove_many(deletions)


def _open(path: Path) -> BinaryIO:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")
