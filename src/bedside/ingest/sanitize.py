"""The last check on every document a reader yields: valid Unicode, no terminal control characters, sane sizes.

A lone surrogate (from a JSON "\\ud800" escape or a YAML one) cannot be stored as UTF-8, so such a record is
refused naming the field. Control characters (escape sequences that clear a terminal, set its title or conceal
text) are removed from every field; newlines and tabs survive only in the text, where they separate paragraphs.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import fields, replace

from bedside.errors import IngestError
from bedside.model import Block, Document

MAX_DOCUMENT_CHARS = 5_000_000  # about 1,500 pages of text; larger sources should be split
MAX_FIELD_CHARS = 10_000  # a title, a source name, an author
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Whole escape sequences (CSI "ESC [ ... m", OSC "ESC ] ... BEL" that sets a window title, two-character ESC
# sequences), then any other C0 control but tab, line feed and carriage return, DEL and the C1 controls.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
)
_LINE_BREAKS = re.compile(r"[\t\n\r]")
_URL_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def sanitize(doc: Document) -> Document:
    """The document with control characters removed; IngestError naming the field for invalid Unicode or a
    document larger than the limits."""
    origin = doc.origin
    changes: dict[str, object] = {}
    for f in fields(doc):
        value = getattr(doc, f.name)
        if f.name in ("text", "blocks", "flags"):
            continue
        if type(value) is str:  # not the evidence type, a StrEnum
            changes[f.name] = _field(value, f.name, origin)
        elif f.name == "extra":  # extra metadata may be long (an abstract kept beside the text): no length limit
            changes[f.name] = tuple((_field(k, "extra", origin), _field(v, k, origin, limit=None)) for k, v in value)
        elif f.name == "corrections":  # links to notices: their PMIDs and citations are fields too
            changes[f.name] = tuple(
                replace(c, pmid=_field(c.pmid, "corrections", origin), source=_field(c.source, "corrections", origin))
                for c in value
            )
        elif isinstance(value, tuple):
            changes[f.name] = tuple(_field(item, f.name, origin) for item in value)
    _valid(doc.text, "text", origin)
    if len(doc.text) > MAX_DOCUMENT_CHARS:
        raise IngestError(
            origin, f"document text is {len(doc.text):,} characters; the limit is {MAX_DOCUMENT_CHARS:,} (split it)"
        )
    text, blocks = _strip_text(doc.text, doc.blocks)
    blocks = tuple(replace(b, heading=_field(b.heading, "section heading", origin)) for b in blocks)
    flags = doc.flags
    if len(text) < len(doc.text):
        n = len(doc.text) - len(text)
        flags += (f"removed {n} control character{'s' * (n != 1)} (terminal escapes)",)
    return replace(doc, text=text, blocks=blocks, flags=flags, **changes)  # type: ignore[arg-type]


def _valid(value: str, name: str, origin: str) -> None:
    bad = _SURROGATE.search(value)
    if bad is not None:
        raise IngestError(
            origin,
            f"field '{name}': invalid Unicode (lone surrogate U+{ord(bad.group()):04X} at character {bad.start()})",
        )


def _field(value: str, name: str, origin: str, limit: int | None = MAX_FIELD_CHARS) -> str:
    _valid(value, name, origin)
    if limit is not None and len(value) > limit:
        raise IngestError(origin, f"field '{name}' is {len(value):,} characters; the limit is {limit:,}")
    return clean_field(name, value)


def clean_field(name: str, value: str) -> str:
    """A metadata value as stored: escape sequences and control characters removed, line breaks and tabs made
    single spaces. A URL loses tabs and line breaks as a browser's URL parser drops them, and has other control
    characters percent-encoded: removing them could join `java\x01script:` into a scheme."""
    if not _CONTROL.search(value) and not _LINE_BREAKS.search(value):
        return value
    if name == "url":
        return _URL_CONTROL.sub(lambda m: f"%{ord(m.group()):02X}", _LINE_BREAKS.sub("", value)).strip()
    return " ".join(_CONTROL.sub("", value).split())


def _strip_text(text: str, blocks: tuple[Block, ...]) -> tuple[str, tuple[Block, ...]]:
    """Remove control characters from the text, moving block spans to match."""
    if not _CONTROL.search(text):
        return text, blocks
    removed = [i for m in _CONTROL.finditer(text) for i in range(m.start(), m.end())]

    def moved(position: int) -> int:
        return position - bisect.bisect_left(removed, position)  # less the removed characters before it

    new_text = _CONTROL.sub("", text)
    new_blocks = tuple(replace(b, start=moved(b.start), end=moved(b.end)) for b in blocks)
    return new_text, tuple(b for b in new_blocks if b.end > b.start)
