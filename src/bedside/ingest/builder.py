"""Assemble a document's plain text from headings and paragraphs, recording section spans."""

from __future__ import annotations

import re
import unicodedata

from bedside.model import Block

# Characters that render as nothing: kept out of stored text so hidden content cannot ride along.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    )
)
_SPACES = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """NFC-normalise, drop invisible characters and collapse whitespace to single spaces."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    return _SPACES.sub(" ", text).strip()


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

    @property
    def empty(self) -> bool:
        """True until a paragraph has been added."""
        return not self._has_body

    def heading(self, text: str, level: int = 1, page: int | None = None) -> None:
        """Start a new section."""
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
