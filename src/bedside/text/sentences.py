"""Sentence boundaries for biomedical text, as character spans.

Abbreviations ("e.g.", "i.v.", "vs.", "Fig. 2", "et al."), initials and decimal numbers
("1.5 mg/kg") never end a sentence; blank lines and list bullets always do.
"""

from __future__ import annotations

import re

# Tokens (lower-cased, with their final period) after which a period does not end a sentence.
ABBREVIATIONS = frozenset(
    """
    e.g. i.e. etc. vs. v. cf. al. approx. ca. fig. figs. tab. no. nos. ref. refs. eq. eqs. vol.
    pp. p. ed. eds. suppl. dr. mr. mrs. ms. prof. st. jr. sr. inc. ltd. co. corp. dept. univ.
    jan. feb. mar. apr. jun. jul. aug. sep. sept. oct. nov. dec. spp. sp. subsp. var. sect.
    approx. incl. max. resp. esp. viz. ibid. op. chap. ch. art. para. seq. mt. gen. sen. rep.
    i.v. i.m. s.c. p.o. b.i.d. t.i.d. q.i.d. q.d. o.d. p.r.n. h.s. a.c. p.c. i.p. s.l.
    """.split()
)

_CANDIDATE = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
_BREAK = re.compile(r"\n[ \t]*\n|\n(?=[ \t]*(?:[-*•▪◦‣]|\d{1,2}[.)])\s)")
_TOKEN_BEFORE = re.compile(r"(\S+)$")
_DOTTED = re.compile(r"^(?:[a-z]\.){2,}$")
_NEXT_OK = re.compile(r"\s+[\"'“‘(\[]?[A-Z0-9•\-*]")


def split_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Return (start, end) spans of the sentences in text[start:end], whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for seg_start, seg_end in _segments(text, start, end):
        _split_segment(text, seg_start, seg_end, spans)
    return spans


def split(text: str) -> list[str]:
    """Return the sentences of text."""
    return [text[a:b] for a, b in split_spans(text)]


def _segments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    segments = []
    pos = start
    for m in _BREAK.finditer(text, start, end):
        segments.append((pos, m.start()))
        pos = m.end()
    segments.append((pos, end))
    return segments


def _split_segment(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    pos = start
    for m in _CANDIDATE.finditer(text, start, end):
        cut = m.end()
        if not _NEXT_OK.match(text, cut, end):
            continue
        if text[m.start()] == "." and _is_abbreviation(text, pos, m.start() + 1):
            continue
        append_trimmed(text, pos, cut, out)
        pos = cut
    append_trimmed(text, pos, end, out)


def _is_abbreviation(text: str, lo: int, dot_end: int) -> bool:
    m = _TOKEN_BEFORE.search(text, lo, dot_end)
    if not m:
        return False
    token = m.group(1).lstrip("(\"'[“‘").lower()
    if token in ABBREVIATIONS or _DOTTED.match(token):
        return True
    # A single capital initial ("J. Smith"), but not a sentence ending in a one-letter word like "I.".
    raw = m.group(1).lstrip("(\"'[“‘")
    return len(raw) == 2 and raw[0].isupper() and raw[0] != "I"


def append_trimmed(text: str, a: int, b: int, out: list[tuple[int, int]]) -> None:
    """Append the span (a, b) of `text` without its surrounding whitespace, unless nothing is left."""
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if a < b:
        out.append((a, b))


def word_count(text: str) -> int:
    """Count whitespace-separated words."""
    return len(text.split())
