"""How hard a text is to read: the Flesch–Kincaid grade, with a built-in syllable count so that bedside needs no
dictionary (the patient version keeps the statements that read at or below a grade; tests check the built-in grade
against textstat's)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bedside.text import sentences
from bedside.text.vocabulary import canonical_spelling

__all__ = ["reading_grade"]

_WORD = re.compile(r"[A-Za-z]+")


def reading_grade(texts: Sequence[str]) -> float:
    """Flesch–Kincaid grade of the texts read one after another (0.0 for no words).

    UK spellings are read as their US forms so both score alike.
    """
    prose = [as_sentence(t) for t in texts if t.strip()]
    if not prose:
        return 0.0
    return _grade(prose)


def as_sentence(text: str) -> str:
    """The text as one sentence, in US spelling, as the grade reads it (a full stop added when it has none)."""
    text = _WORD.sub(_us_spelling, text.strip())
    return text if text[-1] in ".!?" else text + "."


def _us_spelling(m: re.Match[str]) -> str:
    word = m.group(0)
    us = canonical_spelling(word.lower())
    return word if us == word.lower() else us[0].upper() + us[1:] if word[0].isupper() else us


def _grade(prose: Sequence[str]) -> float:
    """Flesch–Kincaid: 0.39 words/sentence + 11.8 syllables/word - 15.59 (a number counts as one syllable)."""
    n_sentences = sum(len(sentences.split(t)) or 1 for t in prose)
    words = [w for t in prose for w in t.split() if any(c.isalnum() for c in w)]
    if not words:
        return 0.0
    n_syllables = sum(_syllables(w) for w in words)
    return round(0.39 * len(words) / n_sentences + 11.8 * n_syllables / len(words) - 15.59, 2)


def _syllables(word: str) -> int:
    """Vowel groups, less a silent final "e"; at least one."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    count = len(re.findall(r"[aeiouy]+", letters))
    silent_e = letters.endswith("e") and not letters.endswith(("le", "ee")) and count > 1
    return max(count - silent_e, 1)
