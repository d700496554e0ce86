"""How documents, passages and index rows travel between the model and a knowledge store's tables (the same
columns on every backend)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bedside.model import Block, Document, DocumentId, EvidenceType, IndexRow, Passage, PassageId

__all__ = [
    "DOC_COLUMNS",
    "HEAD_COLUMNS",
    "INDEX_ROW_SQL",
    "PASSAGE_COLUMNS",
    "document_from_row",
    "document_row",
    "index_row",
    "passage_from_row",
]

PASSAGE_COLUMNS = 'id, document_id, text, start, "end", section, page, ordinal'
DOC_COLUMNS = (
    "id, title, evidence_type, source, year, authors, url, doi, pmid, issuer, guideline, format, origin, "
    "reviewed, topics, blocks, extra, content_hash, text, passage_count, flags"
)
# The same row without the whole text and the block outline: what a search hit shows of its document.
HEAD_COLUMNS = DOC_COLUMNS.replace("blocks,", "'[]',").replace("content_hash, text,", "content_hash, '',")


INDEX_ROW_SQL = (
    "SELECT p.seq, p.id, p.document_id, p.text, d.title, p.section, d.topics, d.evidence_type, d.year, "
    "d.source, d.issuer, d.guideline FROM passages p JOIN documents d ON d.id = p.document_id"
)


def document_row(doc: Document, passage_count: int) -> tuple[object, ...]:
    """The values of DOC_COLUMNS for a document."""
    return (
        doc.id, doc.title, doc.evidence_type.value, doc.source, doc.year, json.dumps(list(doc.authors)),
        doc.url, doc.doi, doc.pmid, doc.issuer, doc.guideline, doc.format, doc.origin,
        None if doc.reviewed is None else int(doc.reviewed), json.dumps(list(doc.topics)),
        json.dumps([[b.heading, b.start, b.end, b.page] for b in doc.blocks]), json.dumps(list(doc.extra)),
        doc.content_hash, doc.text, passage_count, json.dumps(list(doc.flags)),
    )  # fmt: skip


def document_from_row(row: Sequence[object]) -> Document:
    """A document from the values of DOC_COLUMNS (or HEAD_COLUMNS)."""
    (doc_id, title, etype, source, year, authors, url, doi, pmid, issuer, guideline, fmt, origin, reviewed,
     topics, blocks, extra, _hash, text, _count, flags) = row  # fmt: skip
    return Document(
        id=DocumentId(str(doc_id)),
        title=str(title),
        text=str(text),
        evidence_type=EvidenceType(str(etype)),
        source=str(source),
        year=int(year) if year is not None else None,  # type: ignore[call-overload]
        authors=tuple(json.loads(str(authors))),
        url=str(url),
        doi=str(doi),
        pmid=str(pmid),
        issuer=str(issuer),
        guideline=str(guideline),
        format=str(fmt),
        origin=str(origin),
        reviewed=None if reviewed is None else bool(reviewed),
        topics=tuple(json.loads(str(topics))),
        blocks=tuple(Block(h, s, e, p) for h, s, e, p in json.loads(str(blocks))),
        extra=tuple((k, v) for k, v in json.loads(str(extra))),
        flags=tuple(json.loads(str(flags))),
    )


def index_row(r: Sequence[object]) -> IndexRow:
    """An index row from the values INDEX_ROW_SQL selects."""
    seq, pid, doc_id, text, title, section, topics, etype, year, source, issuer, guideline = r
    context = " ".join(str(x) for x in (title, section, " ".join(json.loads(str(topics))), issuer, guideline) if x)
    return IndexRow(
        seq=int(seq),  # type: ignore[call-overload]
        passage_id=PassageId(str(pid)),
        document_id=DocumentId(str(doc_id)),
        text=str(text),
        context=context,
        evidence_type=EvidenceType(str(etype)),
        year=None if year is None else int(year),  # type: ignore[call-overload]
        source=str(source),
        title=str(title),
        section=str(section),
    )


def passage_from_row(r: Sequence[object]) -> Passage:
    """A passage from the values of PASSAGE_COLUMNS."""
    return Passage(
        id=PassageId(str(r[0])),
        document_id=DocumentId(str(r[1])),
        text=str(r[2]),
        start=int(r[3]),  # type: ignore[call-overload]
        end=int(r[4]),  # type: ignore[call-overload]
        section=str(r[5]),
        page=None if r[6] is None else int(r[6]),  # type: ignore[call-overload]
        ordinal=int(r[7]),  # type: ignore[call-overload]
    )
