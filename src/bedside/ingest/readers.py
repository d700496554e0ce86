"""Choose a reader by file type (or by name) and run it."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bedside.errors import IngestError
from bedside.ingest.sanitize import sanitize
from bedside.model import Document


@dataclass(frozen=True, slots=True)
class RecordError:
    """One bad record inside a multi-record file; the rest of the file is still read."""

    error: IngestError


MAX_FILE_BYTES = {"markdown": 32 * 1024 * 1024, "html": 64 * 1024 * 1024, "pdf": 512 * 1024 * 1024}


def read_whole(stream: BinaryIO, origin: str, fmt: str) -> bytes:
    """A one-document file's bytes, refusing one larger than MAX_FILE_BYTES[fmt] without reading it all."""
    limit = MAX_FILE_BYTES[fmt]
    data = stream.read(limit + 1)
    if len(data) > limit:
        size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
        raise IngestError(origin, f"file is larger than the {fmt} limit of {size} (split it)")
    return data


Reader = Callable[[BinaryIO, str], Iterator["Document | RecordError"]]


def _load(name: str) -> Reader:
    if name == "markdown":
        from bedside.ingest.markdown import read_markdown as reader
    elif name == "jsonl":
        from bedside.ingest.jsonl import read_jsonl as reader
    elif name == "medline":
        from bedside.ingest.medline import read_medline as reader
    elif name == "jats":
        from bedside.ingest.jats import read_jats as reader
    elif name == "html":
        from bedside.ingest.html import read_html as reader
    elif name == "pdf":
        from bedside.ingest.pdf import read_pdf as reader
    else:
        raise KeyError(name)
    return reader


FORMATS = ("markdown", "jsonl", "medline", "jats", "html", "pdf")

_SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "markdown",
    ".text": "markdown",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".nxml": "jats",
}


def detect_format(path: Path, head: bytes) -> str:
    """Name the reader for a file from its suffix and, for XML, its root element."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if suffix == ".xml" or head.lstrip().startswith(b"<?xml") or b"<!DOCTYPE" in head[:500]:
        sniff = head[:4096]
        if b"<PubmedArticleSet" in sniff or b"<MedlineCitationSet" in sniff or b"<PubmedArticle" in sniff:
            return "medline"
        if b"<article" in sniff or b"<pmc-articleset" in sniff or b"JATS" in sniff:
            return "jats"
        if b"<html" in sniff.lower():
            return "html"
        raise IngestError(str(path), "XML file is neither PubMed/MEDLINE nor JATS (unknown root element)")
    if head.startswith(b"%PDF"):
        return "pdf"
    raise IngestError(str(path), f"unknown file type {suffix or '(no suffix)'}; pass --format to choose a reader")


def read_path(
    path: Path, fmt: str | None = None, position: Callable[[int], None] | None = None
) -> Iterator[Document | RecordError]:
    """Yield the documents in one file; raise IngestError when the whole file is unreadable.

    `position`, when given, is called after each record with the number of bytes of the file read so far.
    """
    origin = str(path)
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise IngestError(origin, f"cannot open: {exc.strerror or exc}") from exc
    stream: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb") if path.name.lower().endswith(".gz") else raw  # type: ignore[assignment]
    with raw, stream:
        try:
            head = stream.peek(4096)[:4096]  # type: ignore[attr-defined]
        except (OSError, EOFError, zlib.error) as exc:
            raise IngestError(origin, f"cannot read: {exc}") from exc
        if not head.strip():
            raise IngestError(origin, "file is empty")
        name = fmt or detect_format(path, head)
        if name not in FORMATS:
            raise IngestError(origin, f"unknown format {name!r} (choose from {', '.join(FORMATS)})")
        try:
            for item in _load(name)(stream, origin):
                yield _checked(item)
                if position is not None:
                    position(raw.tell())
        except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt gzip, I/O error mid-file
            raise IngestError(origin, f"cannot read: {exc}") from exc
        except RecursionError as exc:
            raise IngestError(origin, "structure nested too deeply to read") from exc
        except (ValueError, LookupError, TypeError, AttributeError, UnicodeError, MemoryError) as exc:
            # a reader's own checks raise IngestError; this names the file for anything they did not foresee
            raise IngestError(origin, f"cannot read ({type(exc).__name__}: {str(exc)[:200]})") from exc


def _checked(item: Document | RecordError) -> Document | RecordError:
    """A document passed through sanitize; a record it refuses becomes a RecordError, the file goes on."""
    if isinstance(item, RecordError):
        return item
    try:
        return sanitize(item)
    except IngestError as exc:
        path, _, line = exc.path.rpartition(":")
        if path and line.isdigit():  # "corpus.jsonl:12"
            return RecordError(IngestError(path, exc.reason, line=int(line)))
        return RecordError(exc)
