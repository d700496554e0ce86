"""Biomedical-aware text analysis for lexical search.

Case folding, UK/US spelling folding, Snowball English stemming and stop words, with numbers, units and
alphanumeric terms kept whole ("B12", "HbA1c", "1.5", "mg"). Query analysis adds weighted expansions from
the curated vocabulary: abbreviations to their expansions and back, and synonym groups.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

from bedside.text.vocabulary import Vocabulary, canonical_spelling, load_vocabulary, spelling_rules

STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her
    here hers herself him himself his how i if in into is it its itself just me more most my myself nor of off
    on once only or other ought our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves also may might must
    shall whether within without per via etc vs
    """.split()
)

_GREEK = str.maketrans(
    {"α": " alpha ", "β": " beta ", "γ": " gamma ", "δ": " delta ", "κ": " kappa ", "µ": "u", "μ": "u"}
)
_LETTER_DASH_DIGITS = re.compile(r"\b([A-Za-z])[-‐ ](\d{1,3})\b")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[.,]\d+)*")
_UNITS = {
    "mcg": "ug",
    "microgram": "ug",
    "micrograms": "ug",
    "milligram": "mg",
    "milligrams": "mg",
    "gram": "g",
    "grams": "g",
    "kilogram": "kg",
    "kilograms": "kg",
    "millilitre": "ml",
    "milliliter": "ml",
    "millilitres": "ml",
    "milliliters": "ml",
    "litre": "l",
    "liter": "l",
    "litres": "l",
    "liters": "l",
    "iu": "units",
    "unit": "units",
}
# Lower-case words that look like abbreviations but are ordinary words in questions.
_NOT_ABBREVIATIONS = frozenset({"cap", "art", "aids", "fit", "sc", "ed", "or", "if", "it", "pa", "ra", "uc", "am"})

_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def _normalise_word(word: str) -> str:
    if any(c.isdigit() for c in word):
        return word.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+", word) else word
    word = _UNITS.get(word, word)
    return str(_stemmer.stemWord(canonical_spelling(word)))


def raw_tokens(text: str) -> list[str]:
    """Tokens as written (case kept), after joining "B-12" and spelling out Greek letters."""
    text = _LETTER_DASH_DIGITS.sub(r"\1\2", text.translate(_GREEK))
    return _TOKEN.findall(text)


def analyze(text: str) -> list[str]:
    """Index-time terms of a text: folded, stemmed, stop words removed, numbers kept."""
    out = []
    for token in raw_tokens(text):
        low = token.lower()
        if low in STOP_WORDS:
            continue
        out.append(_normalise_word(low))
    return out


# Texts whose analysis goes into `fingerprint`: spelling variants, units, Greek letters, joined letters and digits,
# grouped and decimal numbers, stop words and words the stemmer shortens.
_PROBES = (
    "Anaemia, haemorrhage and oedema in the oesophagus of a foetus; paediatric coeliac disease with diarrhoea.",
    "Give 1,000 micrograms (1 mg) of vitamin B-12 daily; 2.5 milligrams twice a day; 500 mcg; 10 IU; 1.5 litres.",
    "HbA1c above 48 mmol/mol; α-thalassaemia and β-blockers; eGFR below 30 mL/min/1.73 m2; TNF-α inhibitors.",
    "Patients were randomised; the studies showed running, treated, treatments, kidneys and hospitalisations.",
    "It is not what they should have been doing about it, nor would they do so within the centre's colour rules.",
)


def fingerprint() -> str:
    """A digest of what decides the terms a text is indexed under: tokens, stop words, units, spelling folding,
    and the stemmer's output on probe texts. An index built under another fingerprint holds terms that queries may
    no longer produce (the lexical index rebuilds itself when it differs)."""
    parts = (
        sorted(STOP_WORDS),
        sorted(_GREEK.items()),
        _LETTER_DASH_DIGITS.pattern,
        _TOKEN.pattern,
        sorted(_UNITS.items()),
        spelling_rules(),
        [analyze(text) for text in _PROBES],
    )
    return hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class QueryTerm:
    """One analysed query term and how much it counts."""

    term: str
    weight: float
    expansion: bool = False


class QueryAnalyzer:
    """Turns a question into weighted terms, adding vocabulary expansions at reduced weight."""

    def __init__(self, vocabulary: Vocabulary | None = None, expansion_weight: float = 0.4) -> None:
        self.vocabulary = vocabulary or load_vocabulary()
        self.expansion_weight = expansion_weight
        self._phrases = self._phrase_table()

    def _phrase_table(self) -> dict[tuple[str, ...], list[str]]:
        """Analysed multi-word terms -> texts to add when the phrase occurs in a query."""
        table: dict[tuple[str, ...], list[str]] = {}
        for abbr, expansions in self.vocabulary.abbreviations.items():
            for exp in expansions:
                key = tuple(analyze(exp))
                if key:
                    table.setdefault(key, []).append(abbr)
        for group in self.vocabulary.synonym_groups:
            for term in group:
                key = tuple(analyze(term))
                if key:
                    table.setdefault(key, []).extend(t for t in group if t != term)
        return table

    def terms(self, query: str) -> list[QueryTerm]:
        """Weighted terms; original terms first, each expansion term at most once and never above an original."""
        weights: dict[str, float] = {}
        originals: list[str] = []
        for token in raw_tokens(query):
            low = token.lower()
            if low in STOP_WORDS:
                continue
            term = _normalise_word(low)
            originals.append(term)
            weights[term] = weights.get(term, 0.0) + 1.0
            if self._looks_like_abbreviation(token):
                for exp in self.vocabulary.expansions(token):
                    self._add(weights, analyze(exp))
        for size in (4, 3, 2, 1):
            for i in range(len(originals) - size + 1):
                for extra in self._phrases.get(tuple(originals[i : i + size]), ()):
                    self._add(weights, analyze(extra))
        original_set = set(originals)
        return [QueryTerm(t, w, t not in original_set) for t, w in weights.items()]

    def _add(self, weights: dict[str, float], terms: list[str]) -> None:
        if not terms:
            return
        share = self.expansion_weight / len(terms) ** 0.5
        for t in terms:
            if weights.get(t, 0.0) < share:
                weights[t] = share

    def _looks_like_abbreviation(self, token: str) -> bool:
        if any(c.isupper() for c in token) or any(c.isdigit() for c in token):
            return True
        return len(token) >= 3 and token not in _NOT_ABBREVIATIONS
