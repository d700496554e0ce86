"""Cut a document into passages of roughly 60-250 words along section and sentence boundaries."""

from __future__ import annotations

from bedside.model import Block, Document, Passage, passage_id
from bedside.text.sentences import split_spans

MIN_WORDS = 60
TARGET_WORDS = 180  # keeps a passage inside a 256-token embedding window
MAX_WORDS = 250


def chunk(doc: Document, *, target: int = TARGET_WORDS, minimum: int = MIN_WORDS) -> list[Passage]:
    """Return the document's passages in reading order.

    Invariant: every passage's text is exactly `doc.text[start:end]`, and passages never overlap.
    A section shorter than `minimum` words is joined to the next one rather than left on its own.
    """
    blocks = doc.blocks or (Block(heading="", start=0, end=len(doc.text)),)
    pieces: list[tuple[int, int, int, Block]] = []  # start, end, words, block
    for block in blocks:
        for a, b in split_spans(doc.text, block.start, block.end):
            words = doc.text.count(" ", a, b) + doc.text.count("\n", a, b) + 1
            if words > MAX_WORDS:
                pieces.extend((x, y, w, block) for x, y, w in _windows(doc.text, a, b, target))
            else:
                pieces.append((a, b, words, block))

    passages: list[Passage] = []
    current: list[tuple[int, int, int, Block]] = []
    words = 0

    def flush() -> None:
        nonlocal current, words
        if not current:
            return
        a, b, block = current[0][0], current[-1][1], current[0][3]
        passages.append(
            Passage(
                id=passage_id(doc.id, a),
                document_id=doc.id,
                text=doc.text[a:b],
                start=a,
                end=b,
                section=block.heading,
                page=block.page,
                ordinal=len(passages),
            )
        )
        current, words = [], 0

    for piece in pieces:
        new_section = bool(current) and piece[3] is not current[-1][3]
        if current and ((new_section and words >= minimum) or words + piece[2] > target):
            if words + piece[2] <= MAX_WORDS and words < minimum:
                pass  # too short to stand alone: keep filling
            else:
                flush()
        current.append(piece)
        words += piece[2]
    if passages and words < minimum and _words(passages[-1]) + words <= MAX_WORDS:
        # A short tail joins the passage before it instead of standing alone.
        prev = passages.pop()
        current.insert(0, (prev.start, prev.end, _words(prev), _block_of(blocks, prev)))
    flush()
    return passages


def _words(p: Passage) -> int:
    return len(p.text.split())


def _block_of(blocks: tuple[Block, ...], p: Passage) -> Block:
    for block in blocks:
        if block.start <= p.start < block.end:
            return block
    return blocks[0]


def _windows(text: str, a: int, b: int, size: int) -> list[tuple[int, int, int]]:
    """Split an over-long run of text (a table, a list without stops) into word windows."""
    out = []
    positions = []
    i = a
    while i < b:
        while i < b and text[i].isspace():
            i += 1
        j = i
        while j < b and not text[j].isspace():
            j += 1
        if i < j:
            positions.append((i, j))
        i = j
    for k in range(0, len(positions), size):
        group = positions[k : k + size]
        out.append((group[0][0], group[-1][1], len(group)))
    return out
