"""Saved web pages (guidelines, patient leaflets, journal pages): the main content only, with citation metadata."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import lxml.html
from lxml import etree

from bedside.errors import IngestError
from bedside.ingest.builder import TextBuilder, clean_text
from bedside.ingest.readers import RecordError, read_whole
from bedside.ingest.visibility import Context, PageStyle
from bedside.model import Document, DocumentId, EvidenceType

_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_DOI = re.compile(r"\b(10\.\d{4,9}/\S+)")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_TOKEN_SPLIT = re.compile(r"[\s_\-]+")

_DROP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "footer",
        "aside",
        "form",
        "iframe",
        "svg",
        "button",
        "object",
        "embed",
        "canvas",
        "select",
        "input",
        "textarea",
        "dialog",
        "head",
    }
)
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog"})
# class / id words that mark page furniture; matched against whole words of "site-header", "cookie_banner".
_BOILERPLATE = frozenset(
    {
        "nav",
        "navbar",
        "navigation",
        "menu",
        "footer",
        "header",
        "masthead",
        "sidebar",
        "breadcrumb",
        "breadcrumbs",
        "cookie",
        "cookies",
        "consent",
        "banner",
        "social",
        "share",
        "sharing",
        "advert",
        "advertisement",
        "ads",
        "ad",
        "promo",
        "related",
        "comment",
        "comments",
        "subscribe",
        "newsletter",
        "skip",
        "skiplink",
        "popup",
        "modal",
        "toolbar",
        "pagination",
        "feedback",
        "sr",
        "visually",
        "offscreen",
    }
)
# Never removed by class/id: removing these would remove the page (`<body class="has-sidebar">`).
_KEEP_TAGS = frozenset({"html", "body", "main"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Elements that break the flow of text; anything else is inline and joins the paragraph around it.
_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "blockquote",
        "body",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "header",
        "hgroup",
        "hr",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "ul",
        "caption",
        "center",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
    }
)
# Browsers read labels for these as windows-1252 (WHATWG Encoding), and so do pages that declare them.
_WINDOWS_1252 = frozenset({"iso8859-1", "ascii", "latin-1"})


def read_html(stream: BinaryIO, origin: str) -> Iterator[Document | RecordError]:
    """Read one HTML page into one Document."""
    raw = read_whole(stream, origin, "html")
    if not raw.strip():
        raise IngestError(origin, "file is empty")
    text = decode_html(raw, origin)
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)
    try:
        root = lxml.html.document_fromstring(_XML_DECLARATION.sub("", text, count=1), parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise IngestError(origin, f"cannot parse HTML: {exc}") from exc
    yield parse_html(root, origin)


def decode_html(raw: bytes, origin: str) -> str:
    """Decode with the byte-order mark, else the declared charset, else UTF-8; invalid bytes raise IngestError."""
    if raw.startswith(codecs.BOM_UTF8):
        label, codec = "utf-8", "utf-8-sig"
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        label, codec = "utf-16", "utf-16"
    else:
        found = _XML_ENCODING.match(raw) or _META_CHARSET.search(raw[:8192])
        label = found.group(1).decode("ascii") if found else "utf-8"
        try:
            codec = codecs.lookup(label).name
        except LookupError:
            label, codec = "utf-8", "utf-8"  # an unknown label is ignored, as browsers do
        codec = "cp1252" if codec in _WINDOWS_1252 else codec
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise IngestError(origin, f"not valid {label.upper()} (byte {exc.start})", line=line) from exc


def parse_html(root: lxml.html.HtmlElement, origin: str) -> Document:
    """Turn a parsed page into a Document: metadata from <head>, text from the main content."""
    meta = _Meta(root)  # before stripping, which removes <head>
    builder = TextBuilder()
    style = PageStyle.of_page(root)  # before stripping, which removes <style>
    _strip_boilerplate(root, builder.hidden, style, style.judge(root, Context()).context)
    first_h1 = _write(_content_root(root), builder)
    if builder.empty:
        raise IngestError(origin, "no main content (only navigation, scripts or hidden elements)")
    text, blocks = builder.build()
    doi = _doi(meta.first("citation_doi") or meta.first("dc.identifier") or meta.first("prism.doi"))
    try:
        declared = meta.first("bedside:type")
        etype = EvidenceType.parse(declared) if declared else _article_type(meta.first("citation_article_type"))
    except ValueError as exc:
        raise IngestError(origin, f"meta bedside:type: {exc}") from exc
    date = meta.first("citation_publication_date") or meta.first("article:published_time") or meta.first("dc.date")
    year = _YEAR.search(date or meta.first("citation_date"))
    site = meta.first("og:site_name")
    return Document(
        id=DocumentId(f"doi:{doi}" if doi else _stem_id(origin)),
        title=meta.first("citation_title") or meta.first("og:title") or meta.page_title(site) or first_h1,
        text=text,
        evidence_type=etype,
        source=meta.first("citation_journal_title") or site,
        year=int(year.group(1)) if year else None,
        authors=tuple(dict.fromkeys(meta.all("citation_author") or meta.all("dc.creator"))),
        url=meta.canonical or meta.first("og:url") or meta.first("citation_fulltext_html_url"),
        doi=doi,
        pmid=meta.first("citation_pmid"),
        format="html",
        origin=origin,
        topics=_keywords(meta.first("citation_keywords")),  # not SEO "keywords": too often a list of search terms
        blocks=blocks,
        flags=builder.flags(),
    )


class _Meta:
    """<meta name|property=... content=...> values by lower-cased key, and the canonical link."""

    def __init__(self, root: lxml.html.HtmlElement) -> None:
        self._values: dict[str, list[str]] = {}
        for el in root.iter("meta"):
            key = (el.get("name") or el.get("property") or "").strip().lower()
            value = clean_text(el.get("content") or "")
            if key and value:
                self._values.setdefault(key, []).append(value)
        self._title = clean_text(root.findtext("head/title") or "")
        self.canonical = ""
        for link in root.iter("link"):
            rel = (link.get("rel") or "").lower().split()
            href = (link.get("href") or "").strip()
            if "canonical" in rel and href.startswith(("http://", "https://")):
                self.canonical = href
                break

    def first(self, key: str) -> str:
        values = self._values.get(key)
        return values[0] if values else ""

    def all(self, key: str) -> list[str]:
        return self._values.get(key, [])

    def page_title(self, site: str) -> str:
        """<title> without a trailing " | Site name"."""
        title = self._title
        for sep in (" | ", " - ", " – ", " — ", " :: "):
            if site:
                title = title.removesuffix(sep + site)
        return title


def _strip_boilerplate(el: lxml.html.HtmlElement, hidden: dict[str, int], style: PageStyle, ctx: Context) -> None:
    """Remove navigation, scripts, hidden elements and class/id-marked furniture, keeping the text around them.

    Text a reader cannot see (see visibility) is removed and counted in `hidden` by reason, once per element.
    """
    for child in list(el):
        if not isinstance(child.tag, str):
            continue
        verdict = style.judge(child, ctx)
        if verdict.subtree:
            if clean_text(child.text_content()):
                hidden[verdict.subtree] = hidden.get(verdict.subtree, 0) + 1
            child.drop_tree()  # keeps child.tail, which belongs to the parent's text
        elif _is_boilerplate(child):
            child.drop_tree()
        else:
            if verdict.own:
                own = (child.text or "") + "".join(c.tail or "" for c in child)
                if clean_text(own):
                    hidden[verdict.own] = hidden.get(verdict.own, 0) + 1
                child.text = None
                for c in child:
                    c.tail = None
            _strip_boilerplate(child, hidden, style, verdict.context)


def _is_boilerplate(el: lxml.html.HtmlElement) -> bool:
    """Page furniture by tag, ARIA role, hiding, or class/id words; never the page itself or its <main>."""
    tag = el.tag.lower()
    if tag in _DROP_TAGS:
        return True
    if (el.get("role") or "").strip().lower() in _DROP_ROLES:
        return True
    if tag == "header":  # a page banner; a <header> inside the article holds its title and byline
        return not any(a.tag in ("article", "main", "section") for a in el.iterancestors())
    if tag in _KEEP_TAGS:
        return False
    words = set(_TOKEN_SPLIT.split(f"{el.get('class') or ''} {el.get('id') or ''}".lower())) & _BOILERPLATE
    if words == {"header"} and any(a.tag in ("article", "main") for a in el.iterancestors()):
        return False  # "article-header" / "entry-header": the title block of the content itself
    return bool(words)


def _content_root(root: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """<main>, else [role=main], else the article with the most text, else <body>."""
    for query in ("//main", "//*[@role='main']"):
        found = root.xpath(query)
        if found:
            return found[0]
    articles = root.xpath("//article")
    if articles:
        return max(articles, key=lambda a: len(clean_text(a.text_content())))
    body = root.find("body")
    return body if body is not None else root


def _write(el: lxml.html.HtmlElement, builder: TextBuilder) -> str:
    """Write el's content in document order; return the text of the first <h1> (a title of last resort)."""
    first_h1 = ""
    run = [el.text or ""]
    for child in el:
        tag = child.tag.lower() if isinstance(child.tag, str) else ""
        if tag == "br":
            run.append(" ")
        elif tag in _BLOCK_TAGS or (tag and _has_block(child)):
            builder.paragraph("".join(run))
            run = []
            found = _write_block(child, tag, builder)
            first_h1 = first_h1 or found
        elif tag:
            run.append(_flat_text(child))
        run.append(child.tail or "")
    builder.paragraph("".join(run))
    return first_h1


def _write_block(el: lxml.html.HtmlElement, tag: str, builder: TextBuilder) -> str:
    if tag in _HEADINGS:
        heading = clean_text(_flat_text(el))
        builder.heading(heading, _HEADINGS[tag])
        return heading if tag == "h1" else ""
    if tag == "table":
        _write_table(el, builder)
        return ""
    if tag == "pre":
        builder.paragraph(_flat_text(el))
        return ""
    return _write(el, builder)


def _flat_text(el: lxml.html.HtmlElement) -> str:
    """All text under el, with a space where a block or <br> separates words ("a<br>b", "<p>a</p><p>b</p>")."""
    parts: list[str] = []

    def walk(node: lxml.html.HtmlElement) -> None:
        separate = node.tag in _BLOCK_TAGS or node.tag in ("br", "td", "th", "tr")
        parts.append(" " if separate else "")
        parts.append(node.text or "")
        for child in node:
            if isinstance(child.tag, str):
                walk(child)
            parts.append(child.tail or "")
        parts.append(" " if separate else "")

    walk(el)
    return "".join(parts)


def _has_block(el: lxml.html.HtmlElement) -> bool:
    """An inline element that wraps blocks (`<a><div>..</div></a>` cards) must be walked like a block."""
    return any(isinstance(d.tag, str) and d.tag.lower() in _BLOCK_TAGS for d in el.iterdescendants())


def _write_table(table: lxml.html.HtmlElement, builder: TextBuilder) -> None:
    """Caption as a paragraph, then one paragraph per row with its cells joined by " | "."""
    caption = table.find("caption")
    if caption is not None:
        builder.paragraph(_flat_text(caption))
    for row in table.iter("tr"):
        if any(a is not table and a.tag == "table" for a in row.iterancestors()):
            continue  # a nested table's rows are read as its cell's text
        cells = (clean_text(_flat_text(c)) for c in row if isinstance(c.tag, str) and c.tag in ("td", "th"))
        builder.paragraph(" | ".join(c for c in cells if c))


def _doi(value: str) -> str:
    m = _DOI.search(value)
    return m.group(1).rstrip(".,;") if m else ""


def _article_type(value: str) -> EvidenceType:
    """A publisher's article type when it names one of ours ("Systematic Review"), else research."""
    try:
        return EvidenceType.parse(value) if value else EvidenceType.RESEARCH
    except ValueError:
        return EvidenceType.RESEARCH


def _keywords(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(k.strip() for k in re.split(r"[;,]", value) if k.strip()))


def _stem_id(origin: str) -> str:
    stem = Path(origin).name
    for suffix in (".gz", ".html", ".htm", ".xhtml"):
        stem = stem.removesuffix(suffix)
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "document"
