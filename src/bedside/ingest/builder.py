"""Assemble a document's plain text from headings and paragraphs, recording section spans."""

from __future__ import annotations

import re
import unicodedata

from bedside.model import Block

# Characters that render as nothing: kept out of stored text so hidden content cannot ride along. Soft hyphen,
# zero-width and joiner characters, bidi embeddings, overrides and isolates, invisible operators, the byte-order
# mark, and the tag characters (U+E0000 block) that can spell out a whole instruction unseen.
_INVISIBLE = dict.fromkeys(
    [
        *map(ord, "\u00ad\u034f\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"),
        *map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c"),
        *range(0xE0000, 0xE0080),
    ]
)
_SPACES = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """NFC-normalise, drop invisible characters and collapse whitespace to single spaces."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    return _SPACES.sub(" ", text).strip()


def invisible_count(text: str) -> int:
    """How many characters clean_text drops from text as invisible (zero-width, bidi controls, tags)."""
    return sum(1 for c in text if ord(c) in _INVISIBLE)


def hidden_flags(invisible: int, hidden: dict[str, int] | None = None) -> tuple[str, ...]:
    """Ingestion warnings for a document: invisible characters removed and hidden fragments dropped, by reason."""
    flags = []
    if invisible:
        flags.append(f"removed {invisible} invisible character{'s' * (invisible != 1)} (zero-width, bidi or tag)")
    if hidden:
        n = sum(hidden.values())
        reasons = ", ".join(f"{why}: {k}" for why, k in sorted(hidden.items()))
        flags.append(f"dropped {n} hidden text fragment{'s' * (n != 1)} ({reasons})")
    return tuple(flags)


class TextBuilder:
    """Collects headings and paragraphs into one text with a Block per section.

    Headings appear in the text on their own line; a block's span covers the section's body.
    Nested headings produce a path such as "Treatment > Dosing".
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._blocks: list[Block] = []
        self._path: list[tuple[int, str]] = []  # (level, heading)
        self._open: tuple[str, int, int | None] | None = None  # heading, start, page
        self._has_body = False
        self.invisible = 0  # invisible characters removed from the headings and paragraphs given
        self.hidden: dict[str, int] = {}  # hidden fragments the reader dropped, by reason

    @property
    def empty(self) -> bool:
        """True until a paragraph has been added."""
        return not self._has_body

    def heading(self, text: str, level: int = 1, page: int | None = None) -> None:
        """Start a new section."""
        self.invisible += invisible_count(text)
        text = clean_text(text)
        if not text:
            return
        self._close()
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self._path.append((level, text))
        self._write(text + "\n\n")
        self._open = (" > ".join(h for _, h in self._path), self._length, page)

    def paragraph(self, text: str, page: int | None = None) -> None:
        """Add a paragraph (or list item, or table row) to the current section."""
        self.invisible += invisible_count(text)
        text = clean_text(text)
        if not text:
            return
        if self._open is None:
            self._open = (" > ".join(h for _, h in self._path), self._length, page)
        self._write(text + "\n\n")
        self._has_body = True

    def new_page(self) -> None:
        """End the current block at a page break; the next paragraph reopens it with its own page number."""
        self._close()

    def flags(self) -> tuple[str, ...]:
        """Warnings for the document: what hidden content was removed (see hidden_flags)."""
        return hidden_flags(self.invisible, self.hidden)

    def build(self) -> tuple[str, tuple[Block, ...]]:
        """Return the text (without trailing whitespace) and its blocks."""
        self._close()
        text = "".join(self._parts).rstrip()
        blocks = tuple(
            Block(b.heading, b.start, min(b.end, len(text)), b.page) for b in self._blocks if b.start < len(text)
        )
        return text, blocks

    def _write(self, s: str) -> None:
        self._parts.append(s)
        self._length += len(s)

    def _close(self) -> None:
        if self._open is None:
            return
        heading, start, page = self._open
        end = self._length
        if end > start:
            self._blocks.append(Block(heading=heading, start=start, end=end, page=page))
        self._open = None
