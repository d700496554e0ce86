"""JSON Lines corpora: one {"id", "title", "text", "source", "year", "url", "pmid", "type", ...} per line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

from bedside.errors import IngestError
from bedside.ingest.builder import TextBuilder
from bedside.ingest.readers import RecordError
from bedside.model import Document, DocumentId, EvidenceType

MAX_RECORD_BYTES = 8 * 1024 * 1024  # one JSON line; the document text limit (sanitize) applies after
_BASE_KEYS = {"id", "_id", "title", "text", "source", "year", "url", "pmid", "doi", "type", "authors", "section"}


def read_jsonl(stream: BinaryIO, origin: str) -> Iterator[Document | RecordError]:
    """Yield one Document per line; a bad line becomes a RecordError naming its line number.

    A line longer than MAX_RECORD_BYTES is skipped unread (memory stays bounded) and reported."""
    for number, raw in enumerate(_lines(stream), start=1):
        if raw is None:
            reason = f"record is larger than the limit of {MAX_RECORD_BYTES:,} bytes (split the text)"
            yield RecordError(IngestError(origin, reason, line=number))
            continue
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except UnicodeDecodeError as exc:
            yield RecordError(IngestError(origin, f"not valid UTF-8 (byte {exc.start})", line=number))
            continue
        except json.JSONDecodeError as exc:
            yield RecordError(IngestError(origin, f"invalid JSON: {exc.msg} at column {exc.colno}", line=number))
            continue
        except RecursionError:
            yield RecordError(IngestError(origin, "invalid JSON: nested too deeply", line=number))
            continue
        except ValueError:  # the only other ValueError: a number with more digits than Python converts
            reason = f"invalid JSON: a number has more than {sys.get_int_max_str_digits():,} digits"
            yield RecordError(IngestError(origin, reason, line=number))
            continue
        try:
            yield parse_record(record, f"{origin}:{number}")
        except IngestError as exc:
            yield RecordError(IngestError(origin, exc.reason, line=number))


def _lines(stream: BinaryIO) -> Iterator[bytes | None]:
    """The file's lines; None in place of a line longer than MAX_RECORD_BYTES, which is read past in chunks."""
    while True:
        line = stream.readline(MAX_RECORD_BYTES + 1)
        if not line:
            return
        if len(line) <= MAX_RECORD_BYTES or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = stream.readline(1 << 20)
        yield None


def parse_record(record: Any, origin: str) -> Document:
    """Turn one decoded JSON object into a Document."""
    if not isinstance(record, dict):
        raise IngestError(origin, "expected a JSON object")
    doc_id = record.get("id", record.get("_id"))
    if doc_id is None or str(doc_id).strip() == "":
        raise IngestError(origin, "missing field 'id'")
    body = record.get("text")
    title = record.get("title") or ""
    if not isinstance(title, str):
        raise IngestError(origin, "field 'title' must be a string")
    if body is not None and not isinstance(body, str):
        raise IngestError(origin, "field 'text' must be a string")
    if not (body or "").strip():
        if not title.strip():
            raise IngestError(origin, "record has neither 'text' nor 'title'")
        body = title  # a title-only record (like a MEDLINE citation without abstract) is still a document
    year = record.get("year")
    if year not in (None, ""):
        try:
            year = int(str(year)[:4])
        except ValueError:
            raise IngestError(origin, f"field 'year': expected a year, got {year!r}") from None
    else:
        year = None
    try:
        etype = EvidenceType.parse(str(record["type"])) if record.get("type") else EvidenceType.RESEARCH
    except ValueError as exc:
        raise IngestError(origin, f"field 'type': {exc}") from None
    authors = record.get("authors") or ()
    if isinstance(authors, str):
        authors = (authors,)
    builder = TextBuilder()
    section = record.get("section")
    if isinstance(section, str) and section.strip():
        builder.heading(section)
    for para in str(body).split("\n\n"):
        builder.paragraph(para)
    text, blocks = builder.build()
    pmid = str(record.get("pmid") or "")
    extra = tuple(
        (k, str(v)) for k, v in sorted(record.items()) if k not in _BASE_KEYS and isinstance(v, (str, int, float))
    )
    return Document(
        id=DocumentId(str(doc_id).strip()),
        title=title.strip(),
        text=text,
        evidence_type=etype,
        source=str(record.get("source") or ""),
        year=year,
        authors=tuple(str(a) for a in authors),
        url=str(record.get("url") or ""),
        doi=str(record.get("doi") or ""),
        pmid=pmid,
        format="jsonl",
        origin=origin,
        blocks=blocks,
        flags=builder.flags(),
        extra=extra,
    )
