"""PubMed/MEDLINE XML (PubmedArticleSet from efetch or the annual baseline), streamed in constant memory."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from lxml import etree

from bedside.errors import IngestError
from bedside.ingest.builder import TextBuilder, clean_text
from bedside.ingest.evidence_type import from_publication_types
from bedside.ingest.readers import RecordError
from bedside.model import NOTICE_OF, RETRACTING, Correction, CorrectionKind, Document, DocumentId

_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_KINDS = {k.value: k for k in CorrectionKind}
# Publication types NLM gives a retracted article and the notices about articles.
RETRACTED_TYPE = "retracted publication"
_NOTICE_TYPES = {
    "retraction of publication": "retraction notice",
    "expression of concern": "expression of concern",
    "published erratum": "erratum",
}


@dataclass(frozen=True, slots=True)
class DeletedCitations:
    """A DeleteCitation element of a MEDLINE update file: PMIDs NLM withdrew from PubMed."""

    pmids: tuple[str, ...]


def read_medline(stream: BinaryIO, origin: str) -> Iterator[Document | RecordError]:
    """Yield a Document for every PubmedArticle; elements are freed as soon as they are read."""
    for item in read_medline_updates(stream, origin, deletions=False):
        if not isinstance(item, DeletedCitations):
            yield item


def read_medline_updates(
    stream: BinaryIO, origin: str, *, deletions: bool = True
) -> Iterator[Document | RecordError | DeletedCitations]:
    """As `read_medline`, and (with `deletions`) the PMIDs of every DeleteCitation element, in file order."""
    tags = ("PubmedArticle", "MedlineCitation", "DeleteCitation") if deletions else ("PubmedArticle", "MedlineCitation")
    context = etree.iterparse(
        stream,
        events=("end",),
        tag=tags,
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
        recover=False,
    )
    seen = 0
    try:
        for _, elem in context:
            if (
                elem.tag == "MedlineCitation"
                and elem.getparent() is not None
                and elem.getparent().tag == "PubmedArticle"
            ):
                continue  # read with its PubmedArticle
            seen += 1
            if elem.tag == "DeleteCitation":
                yield DeletedCitations(tuple((p.text or "").strip() for p in elem.iterfind("PMID") if p.text))
                elem.clear(keep_tail=False)
                continue
            try:
                yield parse_article(elem, origin)
            except IngestError as exc:
                yield RecordError(exc)
            finally:
                elem.clear(keep_tail=False)
                parent = elem.getparent()
                if parent is not None:
                    while elem.getprevious() is not None:
                        del parent[0]
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise IngestError(origin, f"malformed XML: {exc.msg}", line=line) from exc
    if seen == 0:
        raise IngestError(origin, "no PubmedArticle elements found")


def _text(elem: etree._Element | None) -> str:
    return clean_text("".join(str(t) for t in elem.itertext())) if elem is not None else ""


def parse_article(article: etree._Element, origin: str = "") -> Document:
    """Turn one PubmedArticle (or bare MedlineCitation) element into a Document."""
    citation = article if article.tag == "MedlineCitation" else article.find("MedlineCitation")
    if citation is None:
        raise IngestError(origin, "PubmedArticle without MedlineCitation", element="PubmedArticle")
    pmid = (citation.findtext("PMID") or "").strip()
    where = f"{origin} PMID {pmid}" if pmid else origin
    if not pmid:
        line = article.sourceline if isinstance(article.sourceline, int) else None
        raise IngestError(origin, "article without a PMID", line=line, element="MedlineCitation")
    art = citation.find("Article")
    if art is None:
        raise IngestError(where, "no Article element", element="Article")
    title = _text(art.find("ArticleTitle")) or _text(art.find("VernacularTitle"))

    builder = TextBuilder()
    for abstract_text in art.iterfind("Abstract/AbstractText"):
        label = abstract_text.get("Label") or ""
        body = _text(abstract_text)
        if label:
            builder.heading(label.title() if label.isupper() else label, 1)
        builder.paragraph(body)
    if builder.empty:
        for other in citation.iterfind("OtherAbstract/AbstractText"):
            builder.paragraph(_text(other))
    if builder.empty:
        if not title:
            raise IngestError(where, "article has neither title nor abstract", element="Article")
        builder.paragraph(title)
    text, blocks = builder.build()

    journal = _text(art.find("Journal/Title")) or _text(art.find("Journal/ISOAbbreviation"))
    year = _year(art)
    authors = []
    for author in art.iterfind("AuthorList/Author"):
        collective = author.findtext("CollectiveName")
        if collective:
            authors.append(clean_text(collective))
            continue
        last = author.findtext("LastName") or ""
        initials = author.findtext("Initials") or author.findtext("ForeName") or ""
        if last:
            authors.append(f"{last} {initials}".strip())
    doi = ""
    for loc in art.iterfind("ELocationID"):
        if loc.get("EIdType") == "doi" and loc.text:
            doi = loc.text.strip()
    if not doi:
        for aid in article.iterfind("PubmedData/ArticleIdList/ArticleId"):
            if aid.get("IdType") == "doi" and aid.text:
                doi = aid.text.strip()
    pub_types = [_text(p) for p in art.iterfind("PublicationTypeList/PublicationType")]
    mesh = [_text(d) for d in citation.iterfind("MeshHeadingList/MeshHeading/DescriptorName")]
    keywords = [_text(k) for k in citation.iterfind("KeywordList/Keyword")]
    corrections = _corrections(citation)
    kinds = {c.kind for c in corrections}
    types = {t.lower() for t in pub_types}
    notice = next((_NOTICE_TYPES[t] for t in _NOTICE_TYPES if t in types), "")
    notice = notice or next((label for kind, label in NOTICE_OF.items() if kind in kinds), "")
    return Document(
        id=DocumentId(pmid),
        title=title,
        text=text,
        evidence_type=from_publication_types(pub_types, mesh),
        source=journal,
        year=year,
        authors=tuple(authors),
        url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
        doi=doi,
        pmid=pmid,
        format="medline",
        origin=where,
        topics=tuple(dict.fromkeys(mesh + keywords)),
        blocks=blocks,
        flags=builder.flags(),
        extra=(("publication_types", "; ".join(pub_types)),) if pub_types else (),
        corrections=corrections,
        retracted=RETRACTED_TYPE in types or bool(kinds & RETRACTING),
        notice=notice,
    )


def _corrections(citation: etree._Element) -> tuple[Correction, ...]:
    """The record's links to notices (and a notice's link to its article); other RefTypes (CommentIn, Cites, ...)
    are not read."""
    out = []
    for item in citation.iterfind("CommentsCorrectionsList/CommentsCorrections"):
        kind = _KINDS.get((item.get("RefType") or "").strip())
        if kind is None:
            continue
        pmid = (item.findtext("PMID") or "").strip()
        out.append(Correction(kind, pmid, _text(item.find("RefSource"))))
    return tuple(dict.fromkeys(out))


def _year(art: etree._Element) -> int | None:
    for path in ("Journal/JournalIssue/PubDate/Year", "ArticleDate/Year"):
        value = art.findtext(path)
        if value and value.strip().isdigit():
            return int(value.strip())
    medline_date = art.findtext("Journal/JournalIssue/PubDate/MedlineDate") or ""
    m = _YEAR.search(medline_date)
    return int(m.group(1)) if m else None
