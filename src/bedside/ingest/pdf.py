"""PDF documents (guidelines, leaflets, papers) read with pypdf: text by page, headings from font sizes.

pypdf, a dependency of bedside, is imported only when a PDF is read (it is slow to import).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, BinaryIO

from bedside.errors import BackendUnavailable, IngestError
from bedside.ingest.builder import clean_text, hidden_flags, invisible_count
from bedside.ingest.pdf_hidden import HiddenText, OptionalContent
from bedside.ingest.pdf_layout import Line, build_document
from bedside.ingest.readers import RecordError, read_whole
from bedside.model import Document

_BOLD = re.compile(r"bold|black|heavy|demi", re.I)  # in a font's name: "Arial-BoldMT", "Inter-SemiBold"
# Info-dict values that PDF producers fill in when the author gave none.
_PLACEHOLDERS = frozenset({"", "untitled", "anonymous", "unspecified", "unknown", "none", "title", "author"})


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
    yield replace(build_document(pages, info, origin), flags=hidden_flags(found.pop("invisible", 0), found))


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


def _page_lines(page: Any, number: int, found: dict[str, int], off: set[int]) -> list[Line]:
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


def _extract_lines(page: Any, number: int, hidden: HiddenText) -> tuple[list[Line], int]:
    """The lines pypdf extracts with `hidden` emptying hidden text operators, and the invisible characters seen."""
    lines: list[Line] = []
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
            lines.append(Line(text, round(max(sizes, default=0.0), 1), where[0] if where else None, number, any(bold)))
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
