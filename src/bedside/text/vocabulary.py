"""The curated clinical vocabulary shipped with bedside: abbreviations, synonym groups, UK/US spellings.

Pure data and lookups; retrieval uses it to expand queries, the answer engine to match and explain terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

# British spellings mapped to one canonical (US) form, applied to single lower-cased words.
_SPELLING = (
    ("haem", "hem"),
    ("anaem", "anem"),
    ("aemia", "emia"),
    ("oedem", "edem"),
    ("oesoph", "esoph"),
    ("oestr", "estr"),
    ("foet", "fet"),
    ("coeliac", "celiac"),
    ("paed", "ped"),
    ("gynaec", "gynec"),
    ("rrhoea", "rrhea"),
    ("leukaem", "leukem"),
    ("ischaem", "ischem"),
    ("caec", "cec"),
    ("aetiol", "etiol"),
    ("faec", "fec"),
    ("glycaem", "glycem"),
    ("kalaem", "kalem"),
    ("natraem", "natrem"),
    ("calcaem", "calcem"),
    ("tumour", "tumor"),
    ("colour", "color"),
    ("behaviour", "behavior"),
    ("randomis", "randomiz"),
    ("organis", "organiz"),
    ("hospitalis", "hospitaliz"),
    ("immunis", "immuniz"),
    ("apnoea", "apnea"),
    ("dyspnoea", "dyspnea"),
    ("orthopaed", "orthoped"),
    ("anaesth", "anesth"),
    ("haemorrh", "hemorrh"),
    ("litre", "liter"),
    ("centre", "center"),
    ("fibre", "fiber"),
    ("sulph", "sulf"),
    ("labour", "labor"),
)
_SPELLING_RE = re.compile("|".join(re.escape(a) for a, _ in _SPELLING))
_SPELLING_MAP = dict(_SPELLING)


def spelling_rules() -> tuple[tuple[str, str], ...]:
    """The UK-to-US spelling rules `canonical_spelling` applies, in order."""
    return _SPELLING


def canonical_spelling(word: str) -> str:
    """One spelling for UK and US variants of a lower-cased word ("anaemia" -> "anemia")."""
    if len(word) < 4 or not _SPELLING_RE.search(word):
        return word
    return _SPELLING_RE.sub(lambda m: _SPELLING_MAP[m.group(0)], word)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Abbreviations (upper/mixed case as written) and synonym groups (lower case)."""

    abbreviations: dict[str, tuple[str, ...]]
    synonym_groups: tuple[tuple[str, ...], ...]
    folded: dict[str, tuple[str, ...]]  # lower-cased abbreviation -> expansions

    def expansions(self, abbreviation: str) -> tuple[str, ...]:
        """Expansions of an abbreviation, matched case-insensitively when unambiguous."""
        found = self.abbreviations.get(abbreviation)
        if found is not None:
            return found
        return self.folded.get(abbreviation.lower(), ())

    def synonyms(self, term: str) -> tuple[str, ...]:
        """Every other term in the groups that contain `term` (lower-cased)."""
        term = term.lower()
        out: list[str] = []
        for group in self.synonym_groups:
            if term in group:
                out.extend(t for t in group if t != term)
        return tuple(dict.fromkeys(out))


def _lines(name: str) -> list[str]:
    text = resources.files("bedside.data").joinpath(name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


@cache
def load_vocabulary() -> Vocabulary:
    """The shipped vocabulary (read once per process)."""
    abbreviations: dict[str, tuple[str, ...]] = {}
    for line in _lines("abbreviations.tsv"):
        abbr, _, expansions = line.partition("\t")
        abbreviations[abbr.strip()] = tuple(e.strip() for e in expansions.split("|") if e.strip())
    groups = tuple(tuple(t.strip().lower() for t in line.split("|") if t.strip()) for line in _lines("synonyms.tsv"))
    folded: dict[str, list[str]] = {}
    for abbr, exp in abbreviations.items():
        folded.setdefault(abbr.lower(), []).extend(exp)
    return Vocabulary(
        abbreviations=abbreviations,
        synonym_groups=groups,
        folded={k: tuple(dict.fromkeys(v)) for k, v in folded.items()},
    )
