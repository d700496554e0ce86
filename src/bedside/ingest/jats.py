"""PMC / JATS full-text XML: one <article>, or a <pmc-articleset> of several, streamed article by article."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO, cast

from lxml import etree

from bedside.errors import IngestError
from bedside.ingest.builder import TextBuilder, clean_text
from bedside.ingest.evidence_type import from_jats_article_type
from bedside.ingest.readers import RecordError
from bedside.model import Block, Document, DocumentId

_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_MATHML = "{http://www.w3.org/1998/Math/MathML}"

# Children that are structure, not running text: each is handled by its own rule in _write_block.
_BLOCKS = frozenset(
    {
        "sec",
        "p",
        "list",
        "list-item",
        "table-wrap",
        "table-wrap-group",
        "fig",
        "fig-group",
        "boxed-text",
        "disp-quote",
        "statement",
        "def-list",
        "verse-group",
        "speech",
        "preformat",
        "code",
        "disp-formula",
        "disp-formula-group",
        "graphic",
        "media",
        "supplementary-material",
        "ref-list",
        "fn-group",
        "sec-meta",
        "alternatives",
        "array",
        "chem-struct-wrap",
        "title",
        "label",
        "caption",
        "table",
        "ack",
        "glossary",
    }
)
# Blocks dropped whole: references, formulas (MathML is noise as prose), media and repeated metadata.
_SKIP_BLOCKS = frozenset(
    {
        "disp-formula",
        "disp-formula-group",
        "graphic",
        "media",
        "supplementary-material",
        "ref-list",
        "fn-group",
        "sec-meta",
        "alternatives",
        "chem-struct-wrap",
        "title",
        "label",
        "ack",
        "glossary",
    }
)
# Inline elements whose text is not part of the sentence they sit in.
_SKIP_INLINE = frozenset({"fn", "tex-math", "inline-graphic", "private-char"})
_NOTE_REFS = frozenset({"fn", "table-fn", "author-notes", "corresp"})  # footnote markers: "*", "a", "†"
_SKIP_ABSTRACTS = frozenset({"graphical", "teaser", "toc", "video", "web-summary"})
_DATE_PREFERENCE = ("epub", "ppub", "collection")


def read_jats(stream: BinaryIO, origin: str) -> Iterator[Document | RecordError]:
    """Yield a Document per <article>; a bad article in a set becomes a RecordError, a lone one raises."""
    context = etree.iterparse(
        stream,
        events=("end",),
        tag="article",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
        recover=False,
    )
    seen = 0
    etree.clear_error_log()  # the log is per thread: drop stale entries so errors name this file's problem
    try:
        for _, elem in context:
            seen += 1
            parent = elem.getparent()
            try:
                yield parse_article(elem, origin)
            except IngestError as exc:
                if parent is None:
                    raise
                yield RecordError(exc)
            finally:
                if parent is not None:  # free finished articles: a set can hold thousands
                    elem.clear(keep_tail=False)
                    while elem.getprevious() is not None:
                        del parent[0]
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, origin) from exc
    if seen == 0:
        raise IngestError(origin, "no <article> elements found (not JATS?)")


def _syntax_error(exc: etree.XMLSyntaxError, origin: str) -> IngestError:
    """iterparse often reports only "no element found"; the first logged error says what and where."""
    entries = cast(Iterable[etree._LogEntry], exc.error_log)  # lxml-stubs omit _ErrorLog.__iter__
    first = next((e for e in entries if e.level >= etree.ErrorLevels.ERROR), None)
    if first is not None and first.line:
        return IngestError(origin, f"malformed XML: {first.message.strip()}", line=first.line)
    return IngestError(origin, f"malformed XML: {exc.msg}", line=exc.lineno or None)


def _line(elem: etree._Element) -> int | None:
    line = elem.sourceline
    return line if isinstance(line, int) else None


def parse_article(article: etree._Element, origin: str = "") -> Document:
    """Turn one JATS <article> element into a Document."""
    meta = article.find("front/article-meta")
    if meta is None:
        raise IngestError(origin, "article without front/article-meta", line=_line(article), element="article")
    ids = _article_ids(meta)
    doc_id = ids.get("pmc") or (f"doi:{ids['doi']}" if ids.get("doi") else ids.get("pmid"))
    if not doc_id:
        raise IngestError(origin, "article has no PMCID, DOI or PMID", line=_line(meta), element="article-meta")
    where = f"{origin} {doc_id}"
    title = _inline(meta.find("title-group/article-title"))
    text, blocks = _article_text(article, meta, where)
    article_type = article.get("article-type") or ""
    subjects = [_inline(s) for s in meta.iterfind("article-categories//subject")]
    extra = [("article_type", article_type)] if article_type else []
    if subjects:
        extra.append(("subjects", "; ".join(subjects)))
    licence = _licence(meta)
    if licence:
        extra.append(("license", licence))
    return Document(
        id=DocumentId(doc_id),
        title=title,
        text=text,
        evidence_type=from_jats_article_type(article_type, subjects),
        source=_inline(article.find("front/journal-meta//journal-title")),
        year=_year(meta),
        authors=_authors(meta),
        url=_url(ids),
        doi=ids.get("doi", ""),
        pmid=ids.get("pmid", ""),
        format="jats",
        origin=where,
        topics=tuple(dict.fromkeys(k for k in (_inline(k) for k in meta.iterfind("kwd-group/kwd")) if k)),
        blocks=blocks,
        extra=tuple(extra),
    )


def _licence(meta: etree._Element) -> str:
    """The article's licence as its permissions state it: the licence's link, else its type."""
    for lic in meta.iterfind("permissions/license"):
        href = lic.get("{http://www.w3.org/1999/xlink}href") or ""
        if href.strip():
            return href.strip()
        if (lic.get("license-type") or "").strip():
            return str(lic.get("license-type")).strip()
    for ref in meta.iterfind("permissions/{http://www.niso.org/schemas/ali/1.0/}license_ref"):
        if ref.text and ref.text.strip():
            return ref.text.strip()
    return ""


def _article_ids(meta: etree._Element) -> dict[str, str]:
    """Map "pmc", "pmid" and "doi" to their values; the PMCID is normalised to "PMC1234567"."""
    ids: dict[str, str] = {}
    for aid in meta.iterfind("article-id"):
        kind = (aid.get("pub-id-type") or "").lower()
        value = clean_text(aid.text or "")
        if not value:
            continue
        if kind in ("pmc", "pmcid"):
            ids.setdefault("pmc", "PMC" + value.upper().removeprefix("PMC"))
        elif kind in ("pmid", "doi"):
            ids.setdefault(kind, value.removeprefix("https://doi.org/") if kind == "doi" else value)
    return ids


def _url(ids: dict[str, str]) -> str:
    """The PMC page when there is a PMCID, else the DOI link, else PubMed."""
    if ids.get("pmc"):
        return f"https://pmc.ncbi.nlm.nih.gov/articles/{ids['pmc']}/"
    if ids.get("doi"):
        return f"https://doi.org/{ids['doi']}"
    return f"https://pubmed.ncbi.nlm.nih.gov/{ids['pmid']}/" if ids.get("pmid") else ""


def _year(meta: etree._Element) -> int | None:
    """The year of the electronic, then print, then collection date; else any pub-date with a year."""
    dated: dict[str, int] = {}
    fallback = None
    for date in meta.iterfind("pub-date"):
        m = _YEAR.search(date.findtext("year") or "")
        if not m:
            continue
        year = int(m.group(1))
        fallback = fallback or year
        kind = date.get("pub-type") or ""
        if not kind:  # JATS 1.1+: date-type="pub" plus publication-format="electronic" / "print"
            fmt = date.get("publication-format") or ""
            kind = {"electronic": "epub", "print": "ppub"}.get(fmt, date.get("date-type") or "")
        dated.setdefault(kind, year)
    for kind in _DATE_PREFERENCE:
        if kind in dated:
            return dated[kind]
    return fallback


def _authors(meta: etree._Element) -> tuple[str, ...]:
    """Each author as "Surname GN" (initials of every given name), or a collaboration's group name."""
    authors = []
    for contrib in meta.iterfind("contrib-group/contrib"):
        if (contrib.get("contrib-type") or "author") != "author":
            continue
        name = contrib.find(".//name")
        if name is None:
            collab = _inline(contrib.find(".//collab"))
            if collab:
                authors.append(collab)
            continue
        surname = _inline(name.find("surname"))
        given = name.find("given-names")
        initials = given.get("initials") if given is not None else None
        if not initials and given is not None:
            initials = "".join(part[0].upper() for part in re.split(r"[\s.\-]+", _inline(given)) if part)
        if surname:
            authors.append(f"{surname} {initials or ''}".strip())
    return tuple(authors)


def _article_text(article: etree._Element, meta: etree._Element, where: str) -> tuple[str, tuple[Block, ...]]:
    builder = TextBuilder()
    for abstract in meta.iterfind("abstract"):
        kind = (abstract.get("abstract-type") or "").lower()
        if kind in _SKIP_ABSTRACTS:
            continue
        heading = _inline(abstract.find("title")) or (kind.replace("-", " ").capitalize() if kind else "Abstract")
        builder.heading(heading, 1)
        _write_children(abstract, 2, builder)
    body = article.find("body")
    if body is not None:
        first = next((c for c in body if isinstance(c.tag, str)), None)
        if not builder.empty and first is not None and first.tag != "sec":
            builder.heading("Main text", 1)  # keep unheaded body text out of the abstract's last section
        _write_children(body, 1, builder)
    floats = article.find("floats-group")
    if floats is not None and len(floats):
        builder.heading("Tables and figures", 1)
        _write_children(floats, 2, builder)
    if builder.empty:
        raise IngestError(where, "article has neither abstract nor body text", element="article")
    return builder.build()


def _write_children(parent: etree._Element, level: int, builder: TextBuilder) -> None:
    """Write parent's content in order: runs of inline text become paragraphs, block children their own parts."""
    run = [parent.text or ""]
    for child in parent:
        if child.tag is etree.Entity:
            run.append(_entity(child))
        elif not _is_text(child):
            pass  # comments, processing instructions and footnotes: only the tail is text
        elif child.tag in _BLOCKS:
            builder.paragraph("".join(run))
            run = []
            _write_block(child, level, builder)
        else:
            run.append(_inline_text(child))
        run.append(child.tail or "")
    builder.paragraph("".join(run))


def _write_block(el: etree._Element, level: int, builder: TextBuilder) -> None:
    tag = el.tag
    if tag in _SKIP_BLOCKS:
        return
    if tag == "sec":
        if el.get("sec-type") == "supplementary-material":
            return
        heading = clean_text(f"{_inline(el.find('label'))} {_inline(el.find('title'))}")
        if heading:
            builder.heading(heading, level)
        _write_children(el, level + 1 if heading else level, builder)
    elif tag in ("table-wrap", "fig"):
        _write_float(el, builder)
    elif tag in ("table", "array"):
        _write_rows(el, builder)
    elif tag == "def-list":
        for item in el.iterfind("def-item"):
            builder.paragraph(f"{_inline(item.find('term'))}: {' '.join(_inline(d) for d in item.iterfind('def'))}")
    elif tag in ("preformat", "code"):
        builder.paragraph(_inline(el))
    elif tag == "caption":  # of a boxed-text or other container: its title and paragraphs as one paragraph
        builder.paragraph(" ".join(_inline(c) for c in el if isinstance(c.tag, str) and c.tag in ("title", "p")))
    else:  # p, list, list-item, boxed-text, disp-quote, statement, speech, groups: containers
        _write_children(el, level, builder)


def _write_float(el: etree._Element, builder: TextBuilder) -> None:
    """A table or figure: "Table 1. Caption" as a paragraph, then (tables) one paragraph per row and footnotes."""
    caption = el.find("caption")
    caption_text = ""
    if caption is not None:
        caption_text = " ".join(_inline(c) for c in caption if isinstance(c.tag, str) and c.tag in ("title", "p"))
    label = _inline(el.find("label"))
    if label and caption_text and not label.endswith((".", ":")):
        label += "."
    builder.paragraph(f"{label} {caption_text}")
    for table in el.iter("table"):
        _write_rows(table, builder)
    foot = el.find("table-wrap-foot")
    if foot is not None:
        for part in foot.iter("p"):
            builder.paragraph(_inline(part))


def _write_rows(table: etree._Element, builder: TextBuilder) -> None:
    for row in table.iter("tr"):
        cells = (_inline(cell) for cell in row if isinstance(cell.tag, str) and cell.tag in ("td", "th"))
        builder.paragraph(" | ".join(c for c in cells if c))


def _inline(elem: etree._Element | None) -> str:
    """The cleaned text of an inline element (title, name part, cell), formulas rendered compactly."""
    return clean_text(_inline_text(elem)) if elem is not None else ""


def _inline_text(elem: etree._Element) -> str:
    if elem.tag == f"{_MATHML}math":
        return _math_text(elem)
    parts = [elem.text or ""]
    for child in elem:
        if child.tag is etree.Entity:
            parts.append(_entity(child))
        elif _is_text(child):
            parts.append(_inline_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _is_text(node: etree._Element) -> bool:
    """False for comments, processing instructions, footnotes and footnote markers."""
    if not isinstance(node.tag, str) or node.tag in _SKIP_INLINE:
        return False
    return not (node.tag == "xref" and node.get("ref-type") in _NOTE_REFS)


def _entity(node: etree._Element) -> str:
    """An entity left unresolved (its DTD is never loaded): HTML's meaning ("&nbsp;"), else a space."""
    value = html.unescape(node.text or "")
    return value if value != node.text else " "


def _math_text(math: etree._Element) -> str:
    """MathML as text: its @alttext, else its visible tokens (never the TeX or XML annotations)."""
    alt = math.get("alttext")
    if alt:
        return alt
    tokens: list[str] = []
    _math_tokens(math, tokens)
    return " ".join(tokens)


def _math_tokens(node: etree._Element, out: list[str]) -> None:
    if not isinstance(node.tag, str) or node.tag in (f"{_MATHML}annotation", f"{_MATHML}annotation-xml"):
        return
    if node.text and node.text.strip():
        out.append(node.text.strip())
    for child in node:
        _math_tokens(child, out)
