"""From the lines a PDF's pages draw to a Document: running headers and footers dropped, headings found by font size
and weight, paragraphs by line spacing, lists kept as lists.

Pure layout analysis over `Line`s (text, font size, bold or not, baseline, page): pypdf is not needed here.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bedside.errors import IngestError
from bedside.ingest.builder import TextBuilder
from bedside.model import Block, Document, DocumentId

_YEAR = re.compile(r"(1[89]\d\d|20\d\d)")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+[A-Z]")
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?[-–—(\[]?\s*\d{1,4}\s*[-–—)\]]?(?:\s*(?:of|/)\s*\d{1,4})?$", re.I)
# Bullet glyphs, plus what some fonts extract them as: \x7f (WinAnsi's spare bullet codes), \uf0b7 / \uf0a7
# (Symbol and Wingdings bullets in private use).
_BULLET = re.compile(r"^[•▪◦‣●○■□➢►*\-–\x7f\uf0b7\uf0a7\uf0d8]\s+")
_SENTENCE_END = (".", "!", "?", ":", ";")
_HEADING_RATIO = 1.15  # a heading's font is at least this much larger than the body text's
_MAX_HEADING_WORDS = 12
_PARAGRAPH_GAP = 1.4  # a gap this many times the usual line spacing starts a new paragraph
_EDGE_LINES = 2  # running headers and footers are looked for among a page's first and last lines
_NO_TEXT = "no extractable text (scanned PDF? run OCR first)"


@dataclass(frozen=True, slots=True)
class Line:
    """One line as drawn: the largest font size on it, its baseline height (None if unknown) and its page."""

    text: str
    size: float
    y: float | None
    page: int
    bold: bool = False


@dataclass(frozen=True, slots=True)
class _Heading:
    text: str
    level: int
    page: int


@dataclass(frozen=True, slots=True)
class _Paragraph:
    text: str
    page: int  # where it starts


def build_document(pages: list[list[Line]], info: dict[str, str], origin: str) -> Document:
    lines = [line for page in _drop_furniture(pages) for line in page]
    if not lines:
        raise IngestError(origin, _NO_TEXT)
    items = _items(lines, _body_size(lines))
    text, blocks = _build(items)
    if not text:
        raise IngestError(origin, _NO_TEXT)
    first_heading = next((item.text for item in items if isinstance(item, _Heading)), "")
    year = _YEAR.search(info.get("/CreationDate", ""))
    subject = info.get("/Subject", "")
    return Document(
        id=DocumentId(re.sub(r"[^a-z0-9]+", "-", _stem(origin).lower()).strip("-") or "document"),
        title=_title(info.get("/Title", "")) or first_heading or re.sub(r"[_\-]+", " ", _stem(origin)),
        text=text,
        year=int(year.group(1)) if year else None,
        authors=tuple(a.strip() for a in info.get("/Author", "").split(";") if a.strip()),  # "," may be in a name
        format="pdf",
        origin=origin,
        topics=tuple(dict.fromkeys(k.strip() for k in re.split(r"[;,]", info.get("/Keywords", "")) if k.strip())),
        blocks=blocks,
        extra=(("subject", subject),) if subject else (),
    )


def _title(value: str) -> str:
    """The info-dict title, unless it only names the file it was made from ("Microsoft Word - draft.docx")."""
    if value.lower().startswith("microsoft word - ") or re.search(r"\.(docx?|pdf|indd|rtf|odt|tex)$", value, re.I):
        return ""
    return value


def _drop_furniture(pages: list[list[Line]]) -> list[list[Line]]:
    """Remove running headers and footers (short lines on more than half the pages) and bare page numbers."""

    def key(line: Line) -> str:
        return re.sub(r"\d+", "#", line.text.lower())  # "Page 3 of 9" and "Page 4 of 9" repeat as one

    counts: Counter[str] = Counter()
    for page in pages:
        counts.update({key(line) for line in _edges(page) if len(line.text.split()) <= 2 * _MAX_HEADING_WORDS})
    repeated = {k for k, n in counts.items() if n >= 2 and n > len(pages) / 2}
    kept = []
    for page in pages:
        edges = {id(line) for line in _edges(page)}
        kept.append(
            [
                line
                for line in page
                if id(line) not in edges or (key(line) not in repeated and not _PAGE_NUMBER.match(line.text))
            ]
        )
    return kept


def _edges(page: list[Line]) -> list[Line]:
    return page[:_EDGE_LINES] + page[_EDGE_LINES:][-_EDGE_LINES:]


def _body_size(lines: list[Line]) -> float:
    """The font size most of the text is set in: the median over characters."""
    chars: Counter[float] = Counter()
    for line in lines:
        if line.size > 0:
            chars[line.size] += len(line.text)
    seen, half = 0, sum(chars.values()) / 2
    for size in sorted(chars):
        seen += chars[size]
        if seen >= half:
            return size
    return 0.0


def _line_spacing(lines: list[Line], body_size: float) -> float | None:
    """The usual distance between consecutive body lines on a page, or None when positions are unknown."""
    gaps = [
        a.y - b.y
        for a, b in itertools.pairwise(lines)
        if a.page == b.page
        and a.y is not None
        and b.y is not None
        and a.size == b.size == body_size
        and 0 < a.y - b.y < 3 * max(body_size, 1.0)
    ]
    return statistics.median(gaps) if gaps else None


def _items(lines: list[Line], body_size: float) -> list[_Heading | _Paragraph]:
    """Group lines into headings and paragraphs, in reading order."""
    levels = _heading_levels(lines, body_size)
    spacing = _line_spacing(lines, body_size)
    items: list[_Heading | _Paragraph] = []
    para: list[Line] = []

    def flush() -> None:
        if para:
            items.append(_Paragraph(_join([line.text for line in para]), para[0].page))
            para.clear()

    for i, line in enumerate(lines):
        level = levels.get(i)
        if level is None:
            if para and _breaks(para[-1], line, spacing):
                flush()
            para.append(line)
            continue
        flush()
        last = items[-1] if items else None
        if isinstance(last, _Heading) and levels.get(i - 1) == level and _wraps(lines[i - 1], line):
            items[-1] = _Heading(f"{last.text} {line.text}", level, last.page)
        else:
            items.append(_Heading(line.text, level, line.page))
    flush()
    return items


def _wraps(previous: Line, line: Line) -> bool:
    """True when heading line continues the heading on previous: same page and font, unnumbered, set close below."""
    if line.page != previous.page or line.size != previous.size or _NUMBERED.match(line.text):
        return False
    return previous.y is None or line.y is None or 0 < previous.y - line.y <= 1.6 * line.size


def _heading_levels(lines: list[Line], body_size: float) -> dict[int, int]:
    """Map the index of every heading line to its level, 1 being the top.

    A numbered heading's level is its depth ("2.3" sits under "2"), below any larger unnumbered headings such
    as the title; an unnumbered heading's level is the rank of its font size among all heading sizes.
    """
    kinds = {}
    for i, line in enumerate(lines):
        kind = _heading_kind(line, lines[i - 1] if i else None, body_size)
        if kind is not None:
            kinds[i] = kind
    sizes = sorted({lines[i].size for i in kinds}, reverse=True)
    top_numbered = max((lines[i].size for i, k in kinds.items() if k > 0), default=None)
    offset = 0
    if top_numbered is not None:
        offset = len({lines[i].size for i, k in kinds.items() if k == 0 and lines[i].size > top_numbered})
    return {i: min(6, offset + k if k > 0 else sizes.index(lines[i].size) + 1) for i, k in kinds.items()}


def _heading_kind(line: Line, previous: Line | None, body_size: float) -> int | None:
    """None for body text, 0 for a heading set large, else the depth of a numbered heading ("2.3 Dosing": 2)."""
    text = line.text
    if len(text.split()) >= _MAX_HEADING_WORDS or text.endswith((".", ",", ";")) or not any(c.isalpha() for c in text):
        return None
    if _BULLET.match(text):
        return None
    larger = body_size > 0 and line.size >= _HEADING_RATIO * body_size
    numbered = _NUMBERED.match(text)
    if numbered:
        depth = numbered.group(1).count(".") + 1
        # "1 Introduction" in plain body type could be a numbered list item; "2.3 Dosing" hardly ever is.
        standout = depth > 1 or line.bold or line.size > body_size
        wrapped = previous is not None and previous.page == line.page and not previous.text.endswith(_SENTENCE_END)
        if standout and not (wrapped and line.size <= body_size and not line.bold):
            return depth
    return 0 if larger else None


def _breaks(previous: Line, line: Line, spacing: float | None) -> bool:
    """True when line starts a new paragraph rather than continuing previous's."""
    continues = not previous.text.endswith(_SENTENCE_END) and line.text[:1].islower()
    if line.page != previous.page:
        return not continues  # a sentence carried over the page break stays one paragraph
    if _BULLET.match(line.text):
        return True
    if spacing is None or previous.y is None or line.y is None:
        return False
    gap = previous.y - line.y
    if gap < 0:  # moved up the page: a new column
        return not continues
    return gap > _PARAGRAPH_GAP * spacing


def _join(lines: list[str]) -> str:
    """Join wrapped lines; "treat-" + "ment" becomes "treatment", "anti-" + "MRSA" stays "anti-MRSA"."""
    text = _BULLET.sub("", lines[0])
    for line in lines[1:]:
        if text.endswith("-") and text[-2:-1].isalpha():
            text = text[:-1] + line if line[:1].islower() else text + line
        else:
            text = f"{text} {line}"
    return text


def _build(items: list[_Heading | _Paragraph]) -> tuple[str, tuple[Block, ...]]:
    builder = TextBuilder()
    page = None
    for item in items:
        if page is not None and item.page != page:
            builder.new_page()
        page = item.page
        if isinstance(item, _Heading):
            builder.heading(item.text, item.level, page=item.page)
        else:
            builder.paragraph(item.text, page=item.page)
    return builder.build()


def _stem(origin: str) -> str:
    """The file name without .pdf / .gz."""
    stem = Path(origin).name
    for suffix in (".gz", ".pdf", ".PDF"):
        stem = stem.removesuffix(suffix)
    return stem
