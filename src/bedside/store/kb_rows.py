"""How documents, passages and index rows travel between the model and a knowledge store's tables (the same
columns on every backend)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import fields, is_dataclass, replace

from bedside.errors import InvalidInput
from bedside.model import (
    RETRACTING,
    Block,
    Correction,
    CorrectionKind,
    Document,
    DocumentId,
    EvidenceType,
    IndexRow,
    Passage,
    PassageId,
)

__all__ = [
    "DOC_COLUMNS",
    "HEAD_COLUMNS",
    "INDEX_ROW_SQL",
    "NEW_COLUMNS",
    "NOTICE_COLUMNS",
    "PASSAGE_COLUMNS",
    "STATS_WITHDRAWN_SQL",
    "document_from_row",
    "document_row",
    "index_row",
    "newer_versions_query",
    "notice_rows",
    "nul_field",
    "passage_from_row",
    "refuse_nul",
    "with_inbound",
]

PASSAGE_COLUMNS = 'id, document_id, text, start, "end", section, page, ordinal'
DOC_COLUMNS = (
    "id, title, evidence_type, source, year, authors, url, doi, pmid, issuer, guideline, format, origin, "
    "reviewed, topics, blocks, extra, content_hash, text, passage_count, flags, corrections, retracted, notice, "
    "collection"
)
# Columns added to `documents` after its first schema, in order: (name, definition), the same on every backend.
NEW_COLUMNS = (
    ("flags", "TEXT NOT NULL DEFAULT '[]'"),
    ("corrections", "TEXT NOT NULL DEFAULT '[]'"),
    ("retracted", "INTEGER NOT NULL DEFAULT 0"),
    ("notice", "TEXT NOT NULL DEFAULT ''"),
    ("collection", "TEXT NOT NULL DEFAULT ''"),
)
# One row per link by which a stored record is a notice about another article (see `notice_rows`).
NOTICE_COLUMNS = "notice_id, kind, target_pmid, notice_pmid, source"
# The same row without the whole text and the block outline: what a search hit shows of its document.
HEAD_COLUMNS = DOC_COLUMNS.replace("blocks,", "'[]',").replace("content_hash, text,", "content_hash, '',")


INDEX_ROW_SQL = (
    "SELECT p.seq, p.id, p.document_id, p.text, d.title, p.section, d.topics, d.evidence_type, d.year, "
    "d.source, d.issuer, d.guideline FROM passages p JOIN documents d ON d.id = p.document_id"
)

# (retracted articles, notices): an article is retracted by its own record or by a retraction notice stored later.
STATS_WITHDRAWN_SQL = (
    "SELECT (SELECT count(*) FROM documents d WHERE d.retracted <> 0 OR (d.pmid <> '' AND EXISTS (SELECT 1 FROM "
    "notices n WHERE n.target_pmid = d.pmid AND n.kind IN ('RetractionOf', 'RetractedandRepublishedFrom')))), "
    "(SELECT count(*) FROM documents WHERE notice <> '')"
)


def nul_field(doc: Document, passages: Sequence[Passage] = ()) -> str | None:
    """The first field of this document or its passages holding a NUL character (U+0000), else None. PostgreSQL
    text cannot hold one, so no store accepts it: a knowledge base stays movable between SQLite and PostgreSQL."""

    def has_nul(value: object) -> bool:
        if isinstance(value, str):
            return "\x00" in value
        if isinstance(value, tuple | list):
            return any(has_nul(v) for v in value)
        if is_dataclass(value) and not isinstance(value, type):
            return any(has_nul(getattr(value, f.name)) for f in fields(value))
        return False

    for f in fields(doc):
        if has_nul(getattr(doc, f.name)):
            return f.name
    for p in passages:
        for name in ("id", "text", "section"):
            if has_nul(getattr(p, name)):
                return f"passage {p.ordinal + 1} {name}"
    return None


def refuse_nul(items: Sequence[tuple[Document, Sequence[Passage]]]) -> None:
    """InvalidInput naming the document (its origin and id) and the field, when any of them holds a NUL."""
    for doc, passages in items:
        field = nul_field(doc, passages)
        if field is not None:
            where = f"{doc.origin}: " if doc.origin else ""
            raise InvalidInput(
                f"{where}document {doc.id!r}: field '{field}' contains a NUL character (U+0000), "
                "which the knowledge store cannot hold; nothing of this batch was written"
            )


def document_row(doc: Document, passage_count: int) -> tuple[object, ...]:
    """The values of DOC_COLUMNS for a document."""
    return (
        doc.id,
        doc.title,
        doc.evidence_type.value,
        doc.source,
        doc.year,
        json.dumps(list(doc.authors)),
        doc.url,
        doc.doi,
        doc.pmid,
        doc.issuer,
        doc.guideline,
        doc.format,
        doc.origin,
        None if doc.reviewed is None else int(doc.reviewed),
        json.dumps(list(doc.topics)),
        json.dumps([[b.heading, b.start, b.end, b.page] for b in doc.blocks]),
        json.dumps(list(doc.extra)),
        doc.content_hash,
        doc.text,
        passage_count,
        json.dumps(list(doc.flags)),
        json.dumps([[c.kind.value, c.pmid, c.source] for c in doc.corrections if not c.inbound]),
        int(doc.retracted),
        doc.notice,
        doc.collection,
    )


def document_from_row(row: Sequence[object]) -> Document:
    """A document from the values of DOC_COLUMNS (or HEAD_COLUMNS)."""
    (
        doc_id,
        title,
        etype,
        source,
        year,
        authors,
        url,
        doi,
        pmid,
        issuer,
        guideline,
        fmt,
        origin,
        reviewed,
        topics,
        blocks,
        extra,
        _hash,
        text,
        _count,
        flags,
        corrections,
        retracted,
        notice,
        collection,
    ) = row
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
        corrections=tuple(Correction(CorrectionKind(k), p, src) for k, p, src in json.loads(str(corrections))),
        retracted=bool(retracted),
        notice=str(notice),
        collection=str(collection),
    )


def notice_rows(doc: Document) -> list[tuple[str, str, str, str, str]]:
    """The values of NOTICE_COLUMNS for a record: one per link by which it is a notice about another article (kept
    so that the article, stored before or after it, is found to be retracted or corrected)."""
    citation = ", ".join(x for x in (doc.source, str(doc.year) if doc.year else "") if x)
    return [
        (doc.id, c.kind.value, c.pmid, doc.pmid, citation)
        for c in doc.corrections
        if c.pmid and not c.inbound and c.kind.points_back
    ]


def with_inbound(docs: dict[str, Document], notices: Iterable[Sequence[object]]) -> dict[str, Document]:
    """The documents with the links stored notices state about them, marked `inbound` (a retraction notice stored
    after its article retracts the article). `notices` are NOTICE_COLUMNS rows whose target is one of their PMIDs."""
    by_pmid: dict[str, list[str]] = {}
    for doc_id, d in docs.items():
        if d.pmid:
            by_pmid.setdefault(d.pmid, []).append(doc_id)
    found: dict[str, list[Correction]] = {}
    for notice_id, kind, target, notice_pmid, source in notices:
        for doc_id in by_pmid.get(str(target), ()):
            if doc_id != notice_id:
                link = Correction(CorrectionKind(str(kind)).inverse, str(notice_pmid), str(source), inbound=True)
                found.setdefault(doc_id, []).append(link)
    for doc_id, links in found.items():
        d = docs[doc_id]
        own = {(c.kind, c.pmid) for c in d.corrections}
        new = tuple(c for c in links if (c.kind, c.pmid) not in own)
        if new:
            retracted = d.retracted or any(c.kind in RETRACTING for c in new)
            docs[doc_id] = replace(d, corrections=d.corrections + new, retracted=retracted)
    return docs


def newer_versions_query(doc: Document, mark: str, id_order: str = "id") -> tuple[str, list[object]] | None:
    """The query (with `mark` as the backend's parameter marker) for `KnowledgeStore.newer_versions`: the same
    guideline issued in a later year (the same `guideline` title summarised, or a guideline with the same title),
    never a retracted one or a notice, newest first (then by `id_order`); None when nothing could replace it."""
    if doc.year is None:
        return None
    clauses: list[str] = []
    params: list[object] = []
    if doc.guideline:
        clauses.append(f"guideline = {mark}")
        params.append(doc.guideline)
    if doc.evidence_type is EvidenceType.GUIDELINE:
        clauses.append(f"(title = {mark} AND evidence_type = 'guideline')")
        params.append(doc.title)
    if not clauses:
        return None
    # Safe to format: only the constant clauses above and the parameter marker go into the SQL, never values.
    sql = (
        f"SELECT id, title, year, pmid FROM documents WHERE ({' OR '.join(clauses)}) AND year > {mark} "  # nosec B608
        f"AND id <> {mark} AND retracted = 0 AND notice = '' ORDER BY year DESC, {id_order}"
    )
    return sql, [*params, doc.year, doc.id]


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
