"""PDF documents (guidelines, leaflets, papers) read with pypdf: text by page, headings from font sizes.

pypdf, a dependency of bedside, is imported only when a PDF is read (it is slow to import).
"""

from __future__ import annotations

import io
import itertools
import re
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from bedside.errors import BackendUnavailable, IngestError
from bedside.ingest.builder import TextBuilder, clean_text, hidden_flags, invisible_count
from bedside.ingest.pdf_hidden import HiddenText, OptionalContent
from bedside.ingest.readers import RecordError, read_whole
from bedside.model import Block, Document, DocumentId

_YEAR = re.compile(r"(1[89]\d\d|20\d\d)")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+[A-Z]")
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?[-–—(\[]?\s*\d{1,4}\s*[-–—)\]]?(?:\s*(?:of|/)\s*\d{1,4})?$", re.I)
# Bullet glyphs, plus what some fonts extract them as: \x7f (WinAnsi's spare bullet codes), \uf0b7 / \uf0a7
# (Symbol and Wingdings bullets in private use).
_BULLET = re.compile(r"^[•▪◦‣●○■□➢►*\-–\x7f\uf0b7\uf0a7\uf0d8]\s+")
_BOLD = re.compile(r"bold|black|heavy|demi", re.I)  # in a font's name: "Arial-BoldMT", "Inter-SemiBold"
_SENTENCE_END = (".", "!", "?", ":", ";")
_HEADING_RATIO = 1.15  # a heading's font is at least this much larger than the body text's
_MAX_HEADING_WORDS = 12
_PARAGRAPH_GAP = 1.4  # a gap this many times the usual line spacing starts a new paragraph
_EDGE_LINES = 2  # running headers and footers are looked for among a page's first and last lines
_NO_TEXT = "no extractable text (scanned PDF? run OCR first)"
# Info-dict values that PDF producers fill in when the author gave none.
_PLACEHOLDERS = frozenset({"", "untitled", "anonymous", "unspecified", "unknown", "none", "title", "author"})


@dataclass(frozen=True, slots=True)
class _Line:
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


def read_pdf(stream: BinaryIO, origin: str) -> Iterator[Document | RecordError]:
    """Read one PDF into one Document; every block records the page (1-based) it starts on."""
    import pypdf  # a dependency of bedside, imported here only when a PDF is read
    from pypdf.errors import DependencyError, PyPdfError

    data = read_whole(stream, origin, "pdf")
    if not data.strip():
        raise IngestError(origin, "file is empty")
    if b"%PDF-" not in data[:1024]:
        raise IngestError(origin, "not a PDF file (no %PDF header)")
    # pypdf raises many kinds of exception on damaged files, not only its own.
    damaged = (PyPdfError, ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError, RecursionError)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        _decrypt(reader, origin)
        info = _info(reader)
        found: dict[str, int] = {}  # hidden text fragments by reason, and "invisible" characters
        off = _switched_off(reader)
        pages = [_page_lines(page, number, found, off) for number, page in enumerate(reader.pages, start=1)]
    except DependencyError as exc:
        raise BackendUnavailable(f"{origin}: cannot decrypt: {exc}") from exc
    except NotImplementedError as exc:  # an encryption handler or filter pypdf does not support
        raise IngestError(origin, f"unsupported PDF feature ({exc})") from exc
    except damaged as exc:
        raise IngestError(origin, f"corrupt or truncated PDF ({exc or type(exc).__name__})") from exc
    if not pages:
        raise IngestError(origin, "corrupt or truncated PDF (no pages found)")
    yield replace(_document(pages, info, origin), flags=hidden_flags(found.pop("invisible", 0), found))


def _decrypt(reader: Any, origin: str) -> None:
    """Open an encrypted PDF with the empty user password (permissions-only encryption), or fail clearly."""
    if not reader.is_encrypted:
        return
    from pypdf import PasswordType

    if reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise IngestError(origin, "encrypted PDF (password required)")


def _info(reader: Any) -> dict[str, str]:
    """The info dictionary's text values, without producer placeholders such as "untitled"."""
    meta = reader.metadata or {}
    values = {}
    for key in ("/Title", "/Author", "/Subject", "/Keywords", "/CreationDate"):
        value = clean_text(str(meta.get(key) or ""))
        if value.strip("()[]").lower() not in _PLACEHOLDERS:  # reportlab writes "(anonymous)"
            values[key] = value
    return values


def _page_lines(page: Any, number: int, found: dict[str, int], off: set[int]) -> list[_Line]:
    """The page's visible lines in drawing order, each with the size of its largest font (text matrix included).

    Hidden text (see pdf_hidden) is left out and counted in `found` by reason; invisible characters under
    "invisible". Text covered by a shape painted later is found in a first pass and left out in a second."""
    box = page.cropbox
    crop = (float(box.left), float(box.bottom), float(box.right), float(box.top))
    layers = _layers(page, off)
    hidden = HiddenText(crop, layers)
    lines, invisible = _extract_lines(page, number, hidden)
    covered = hidden.covered()
    if covered:
        lines, invisible = _extract_lines(page, number, HiddenText(crop, layers, blank=covered))
        hidden.dropped["covered by a shape"] = len(covered)
    found["invisible"] = found.get("invisible", 0) + invisible
    for why, n in hidden.dropped.items():
        found[why] = found.get(why, 0) + n
    return lines


def _extract_lines(page: Any, number: int, hidden: HiddenText) -> tuple[list[_Line], int]:
    """The lines pypdf extracts with `hidden` emptying hidden text operators, and the invisible characters seen."""
    lines: list[_Line] = []
    parts: list[str] = []
    sizes: list[float] = []
    where: list[float] = []  # the first fragment's baseline
    bold: list[bool] = []
    invisible = 0

    def end_line() -> None:
        nonlocal invisible
        invisible += invisible_count("".join(parts))
        text = clean_text("".join(parts))
        if text:
            lines.append(_Line(text, round(max(sizes, default=0.0), 1), where[0] if where else None, number, any(bold)))
        for buffer in (parts, sizes, where, bold):
            buffer.clear()

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        for i, piece in enumerate(text.split("\n")):
            if i:
                end_line()  # pypdf ends each line it detects with "\n"
            parts.append(piece)
            if piece.strip():
                sizes.append(abs(size) * _scale(tm) * _scale(cm))
                where.append(tm[4] * cm[1] + tm[5] * cm[3] + cm[5])
                bold.append(bool(_BOLD.search(str((font or {}).get("/BaseFont", "")))))

    page.extract_text(visitor_text=visit, visitor_operand_before=hidden)
    end_line()
    return lines, invisible


def _switched_off(reader: Any) -> set[int]:
    """Object numbers of the optional content groups (layers) hidden in the document's default view."""
    props = _resolve(reader.trailer["/Root"]).get("/OCProperties")
    if props is None:
        return set()
    props = _resolve(props)
    default = _resolve(props.get("/D")) or {}
    if str(default.get("/BaseState", "/ON")) == "/OFF":
        on = {_idnum(r) for r in _raw_list(default, "/ON")}
        return {_idnum(r) for r in _raw_list(props, "/OCGs")} - on
    return {_idnum(r) for r in _raw_list(default, "/OFF")}


def _layers(page: Any, off: set[int]) -> OptionalContent:
    """The page's names for layers (/Properties), fill alphas (/ExtGState) and images, form XObjects' included."""
    layers = OptionalContent(off=off)
    pending = [(_resolve(page.get("/Resources")), 0)]
    while pending:
        resources, depth = pending.pop()
        if not isinstance(resources, dict) or depth > 3:
            continue
        properties = _resolve(resources.get("/Properties")) or {}
        for name in properties:
            layers.properties.setdefault(str(name), dict.__getitem__(properties, name))
        states = _resolve(resources.get("/ExtGState")) or {}
        for name in states:
            state = _resolve(states[name]) or {}
            alpha = state.get("/ca")
            if isinstance(alpha, (int, float)):
                layers.alphas.setdefault(str(name), float(alpha))
            if "/BM" in state:
                blend = _resolve(state["/BM"])
                blend = blend[0] if isinstance(blend, list) and blend else blend
                layers.blends.setdefault(str(name), str(blend) in ("/Normal", "/Compatible"))
        xobjects = _resolve(resources.get("/XObject")) or {}
        for name in xobjects:
            form = _resolve(xobjects[name])
            if isinstance(form, dict) and str(form.get("/Subtype")) == "/Form":
                pending.append((_resolve(form.get("/Resources")), depth + 1))
            elif isinstance(form, dict) and str(form.get("/Subtype")) == "/Image":
                masked = any(k in form for k in ("/SMask", "/Mask")) or bool(form.get("/ImageMask"))
                layers.images.setdefault(str(name), not masked)
    return layers


def _resolve(obj: Any) -> Any:
    return obj.get_object() if hasattr(obj, "get_object") else obj


def _idnum(ref: Any) -> int:
    return getattr(ref, "idnum", id(ref))


def _raw_list(d: Any, key: str) -> list[Any]:
    """The entries of an array value as stored (indirect references kept), [] when absent."""
    if not isinstance(d, dict) or key not in d:
        return []
    value = _resolve(dict.__getitem__(d, key))
    return list(value) if isinstance(value, list) else []


def _scale(matrix: list[float]) -> float:
    """How much a transformation matrix magnifies text, whatever its rotation."""
    return abs(matrix[0] * matrix[3] - matrix[1] * matrix[2]) ** 0.5 or 1.0


def _document(pages: list[list[_Line]], info: dict[str, str], origin: str) -> Document:
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


def _drop_furniture(pages: list[list[_Line]]) -> list[list[_Line]]:
    """Remove running headers and footers (short lines on more than half the pages) and bare page numbers."""

    def key(line: _Line) -> str:
        return re.sub(r"\d+", "#", line.text.lower())  # "Page 3 of 9" and "Page 4 of 9" repeat as one

    counts: Counter[str] = Counter()
    for page in pages:
        counts.update({key(line) for line in _edges(page) if len(line.text.split()) <= 2 * _MAX_HEADING_WORDS})
    repeated = {k for k, n in counts.items() if n >= 2 and n > len(pages) / 2}
    kept = []
    for page in pages:
        edges = {id(line) for line in _edges(page)}
        kept.append([
            line for line in page
            if id(line) not in edges or (key(line) not in repeated and not _PAGE_NUMBER.match(line.text))
        ])  # fmt: skip
    return kept


def _edges(page: list[_Line]) -> list[_Line]:
    return page[:_EDGE_LINES] + page[_EDGE_LINES:][-_EDGE_LINES:]


def _body_size(lines: list[_Line]) -> float:
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


def _line_spacing(lines: list[_Line], body_size: float) -> float | None:
    """The usual distance between consecutive body lines on a page, or None when positions are unknown."""
    gaps = [
        a.y - b.y for a, b in itertools.pairwise(lines)
        if a.page == b.page and a.y is not None and b.y is not None and a.size == b.size == body_size
        and 0 < a.y - b.y < 3 * max(body_size, 1.0)
    ]  # fmt: skip
    return statistics.median(gaps) if gaps else None


def _items(lines: list[_Line], body_size: float) -> list[_Heading | _Paragraph]:
    """Group lines into headings and paragraphs, in reading order."""
    levels = _heading_levels(lines, body_size)
    spacing = _line_spacing(lines, body_size)
    items: list[_Heading | _Paragraph] = []
    para: list[_Line] = []

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


def _wraps(previous: _Line, line: _Line) -> bool:
    """True when heading line continues the heading on previous: same page and font, unnumbered, set close below."""
    if line.page != previous.page or line.size != previous.size or _NUMBERED.match(line.text):
        return False
    return previous.y is None or line.y is None or 0 < previous.y - line.y <= 1.6 * line.size


def _heading_levels(lines: list[_Line], body_size: float) -> dict[int, int]:
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


def _heading_kind(line: _Line, previous: _Line | None, body_size: float) -> int | None:
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


def _breaks(previous: _Line, line: _Line, spacing: float | None) -> bool:
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
