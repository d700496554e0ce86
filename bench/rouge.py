"""ROUGE-2 and ROUGE-SU4 F1 (lower-cased word tokens, Snowball stemming), as used for BioASQ ideal answers."""

from __future__ import annotations

import itertools
import re
from collections import Counter

import Stemmer

_stem = Stemmer.Stemmer("english")
_WORD = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed word tokens."""
    return [str(t) for t in _stem.stemWords(_WORD.findall(text.lower()))]


def first_words(text: str, n: int = 40) -> str:
    """The first n whitespace-separated words."""
    return " ".join(text.split()[:n])


def _bigrams(toks: list[str]) -> Counter[tuple[str, ...]]:
    return Counter(itertools.pairwise(toks))


def _skip_bigrams(toks: list[str], gap: int = 4) -> Counter[tuple[str, ...]]:
    grams: Counter[tuple[str, ...]] = Counter((t,) for t in toks)  # SU: unigrams included
    for i, a in enumerate(toks):
        for b in toks[i + 1 : i + 2 + gap]:
            grams[(a, b)] += 1
    return grams


def _f1(candidate: Counter[tuple[str, ...]], reference: Counter[tuple[str, ...]]) -> float:
    overlap = sum((candidate & reference).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(candidate.values())
    recall = overlap / sum(reference.values())
    return 2 * precision * recall / (precision + recall)


def rouge_2(candidate: str, reference: str) -> float:
    """ROUGE-2 F1."""
    return _f1(_bigrams(tokens(candidate)), _bigrams(tokens(reference)))


def rouge_su4(candidate: str, reference: str) -> float:
    """ROUGE-SU4 F1: skip-bigrams with at most 4 words between, plus unigrams."""
    return _f1(_skip_bigrams(tokens(candidate)), _skip_bigrams(tokens(reference)))
