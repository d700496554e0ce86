"""Plain language for students and patients: abbreviations expanded on first use (``data/abbreviations.tsv``),
and for patients glossary notes (``data/glossary.tsv``), plain-word substitutions and long sentences split at clause
boundaries. No number, dose, unit or threshold is ever changed: a statement whose quantities would not survive its
rewrite keeps its clinician wording.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources

from bedside.errors import IngestError
from bedside.model import Statement
from bedside.text import sentences
from bedside.text.quantities import has_dose, quantities
from bedside.text.vocabulary import canonical_spelling, load_vocabulary

__all__ = ["CARE_LEAD", "DOSE_LEAD", "URGENT_CUE", "Rewriter", "load_glossary", "wants_lead"]

DOSE_LEAD = "Your clinician may prescribe:"
CARE_LEAD = "Advice for your care team:"
_LONG_SENTENCE = 16  # words; longer patient sentences are split at a clause boundary

# Plain words that mean the same thing in context (lower case; the longest phrase wins).
_SUBSTITUTIONS = {
    "administer": "give",
    "administered": "given",
    "administering": "giving",
    "commence": "start",
    "commenced": "started",
    "commences": "starts",
    "commencing": "starting",
    "initiate": "start",
    "initiated": "started",
    "initiates": "starts",
    "initiating": "starting",
    "discontinue": "stop",
    "discontinued": "stopped",
    "discontinuing": "stopping",
    "cease": "stop",
    "prior to": "before",
    "approximately": "about",
    "in order to": "to",
    "subsequently": "later",
    "haemoglobin concentration": "haemoglobin level",
    "hemoglobin concentration": "hemoglobin level",
    "sufficient": "enough",
    "insufficient": "not enough",
    "additional": "extra",
    "numerous": "many",
    "require": "need",
    "requires": "needs",
    "required": "needed",
    "requiring": "needing",
    "utilise": "use",
    "utilize": "use",
    "obtain": "get",
    "assist": "help",
    "regarding": "about",
    "frequently": "often",
    "individuals": "people",
    "patients": "people",
    "elevated": "raised",
    "gastrointestinal tract": "gut",
    "gastrointestinal": "gut",
    "investigations": "tests",
    "laboratory": "lab",
    "indicates": "points to",
    "indicating": "pointing to",
    "coexist": "occur together",
    "precipitate": "bring on",
    "precipitates": "brings on",
    "is highly suggestive of": "is a strong sign of",
    "is suggestive of": "is a sign of",
}

URGENT_CUE = re.compile(
    r"\b(?:emergency(?!\s+department)|emergencies|immediately|call|seek)\b"
    r"|\burgent(?:ly)?\s+(?:\w+\s+)?(?:help|care|medical|attention|advice|assessment|review|transfer|treatment)\b"
    r"|\b(?:get|go|see|refer(?:red)?)\b(?:\s+\w+){0,3}\s+urgently\b",
    re.I,
)
# An expansion that names an organisation ("National Institute for Health and Care Excellence").
_ORGANISATION = re.compile(
    r"\b(?:Institute|Society|Association|College|Organi[sz]ation|Agency|Foundation|Council|"
    r"Campaign|Initiative|Group|Centers?|Centres?|Committee|Federation|Academy)\b"
)
# A statement that tells the prescriber what to do ("Give ...", "Do not start ...", "Refer ...").
_PRESCRIBER = re.compile(
    r"^(?:do not |don't |never )?(?:give|offer|prescribe|start|consider|refer|check|measure|use|treat|avoid|continue|"
    r"stop|switch|add|withhold|assess|monitor|repeat|arrange|reassess|review|test|screen|confirm|admit|discuss|"
    r"explain|lower|aim|titrate|increase|reduce|classify|obtain|take|order|document|record|calculate)\b",
    re.I,
)
_NEGATION = re.compile(r"\b(?:do not|don't|never|avoid|not recommended|contraindicated|should not|must not)\b", re.I)
# Clause boundaries where a long sentence can end and the next begin, with the word that opens the next.
_CLAUSE_BREAKS = tuple(
    (re.compile(p), opener)
    for p, opener in (
        (r"\s*;\s+", ""),
        (r",\s+so\s+(?!that\b|as\b|long\b|far\b|much\b)", "So "),
        (r",\s+then\s+", "Then "),
        (r",\s+because\s+", "This is because "),
        (r",\s+but\s+(?!not\b|only\b|also\b|rather\b)", "But "),
        # ", and" opening a new clause on its own subject ("..., and a ferritin below 30 µg/L indicates ..."),
        # not a list.
        (
            r",\s+and\s+(?=(?:the|a|an|in|for|if|when|this|these|it|they|those|people|adults|children|patients|"
            r"[A-Z][a-z]+\s+(?:is|are|can|may|should|recommends|advises|suggests))\b)",
            "",
        ),
        (r"\s+[–—]\s+", ""),
    )
)
# A sentence that opens with one of these ends its first clause at a comma that must not become a full stop.
_SUBORDINATE = re.compile(r"(?:if|when|where|once|unless|although|though|while|whilst|after|before|until|as)\b", re.I)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SUBSTITUTION = re.compile(
    rf"(?<![\w-])(?:{'|'.join(map(re.escape, sorted(_SUBSTITUTIONS, key=len)[::-1]))})(?![\w-])", re.I
)


@dataclass
class Rewriter:
    """Rewrites statements in reading order, remembering which abbreviations and terms were explained."""

    gloss: bool
    seen: set[str] = field(default_factory=set)
    notes: set[str] = field(default_factory=set)  # explanations already shown, never repeated
    pending: list[str] = field(default_factory=list)  # this statement's explanations, said after it

    def statement(self, statement: Statement, *, patient: bool) -> Statement:
        """The statement with its text rewritten, or unchanged text when a number would not survive. For a patient,
        a term's explanation follows the statement as a short sentence of its own ("Ferritin: a blood test of
        stored iron."), so the statement itself stays short."""
        original = statement.text
        text = _substitute(original) if patient else original
        self.pending = []
        text = _pattern(self.gloss).sub(self._explain, text)
        if patient:
            text = _split_long(text)
        if self.pending:
            text = " ".join([text if text.rstrip()[-1:] in ".!?" else text.rstrip() + ".", *self.pending])
        if not _labels(original) <= _labels(text):
            text = original  # never reached with the shipped tables; a guard against future entries
        out = replace(statement, text=text)
        if patient and wants_lead(original, statement.kind):
            return replace(out, kind="dose")  # lead_of frames it for the patient
        if patient and _PRESCRIBER.match(original) and not URGENT_CUE.search(original):
            return replace(out, kind="care")  # an instruction to the prescriber, not the patient's to-do
        return out

    def _explain(self, m: re.Match[str]) -> str:
        if m.group("abbr"):
            return self._abbreviation(m)
        return self._term(m)

    def _abbreviation(self, m: re.Match[str]) -> str:
        abbr, text, whole = m.group("abbr"), m.string, m.group(0)
        expansions = load_vocabulary().abbreviations.get(abbr, ())
        if abbr in self.seen or _roman_numeral(abbr, text[: m.start()]):
            return whole
        if _defines(text, m.start(), m.end(), expansions):
            self.seen.add(abbr)
            return whole
        if len(expansions) != 1 or not _expandable(abbr, expansions[0]):
            return whole  # ambiguous, or the expansion would add a number or repeat itself
        if self.gloss and _ORGANISATION.search(expansions[0]):
            return whole  # a patient gains nothing from an issuer's full name ("NICE"), and reads it harder
        self.seen.add(abbr)
        expansion = expansions[0] + ("s" if m.group("abbr_s") and not expansions[0].endswith("s") else "")
        if _starts_sentence(text[: m.start()]):
            expansion = expansion[0].upper() + expansion[1:]
        note = self._gloss_for(expansions[0], abbr)
        if note:
            self.pending.append(f"{expansion[0].upper()}{expansion[1:]} ({whole}): {note}.")
        return f"{expansion} ({whole})"

    def _term(self, m: re.Match[str]) -> str:
        word, paren, text = m.group("term"), m.group("paren"), m.string
        if paren is not None and re.search(r"[A-Z]", paren):
            self.seen.add(paren)  # "term (ABBR)" defines ABBR
        elif paren is not None or text[m.end() :].lstrip().startswith("("):
            return m.group(0)  # a parenthesis of its own follows; explain a later use instead
        if _depth(text, m.start()) or _proper_name(word, text[: m.start()]):
            return m.group(0)
        note = self._gloss_for(word)
        if not note:
            return m.group(0)
        named = f"{word} ({paren})" if paren else word
        self.pending.append(f"{named[0].upper()}{named[1:]}: {note}.")
        return m.group(0)

    def _gloss_for(self, *terms: str) -> str:
        if not self.gloss:
            return ""
        glossary = _glossary_index()
        for term in terms:
            key = _term_key(term)
            if key in glossary and key not in self.seen and glossary[key] not in self.notes:
                self.seen.add(key)
                self.notes.add(glossary[key])
                return glossary[key]
        return ""


@cache
def load_glossary() -> Mapping[str, str]:
    """The shipped glossary: term as written -> plain explanation. Read once; one entry per term and spelling."""
    path = "bedside/data/glossary.tsv"
    text = resources.files("bedside.data").joinpath("glossary.tsv").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    keys: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        term, tab, explanation = line.partition("\t")
        if not tab or not term.strip() or not explanation.strip():
            raise IngestError(path, "expected TERM<tab>explanation", line=number)
        if _term_key(term) in keys:
            raise IngestError(path, f"duplicate term {term.strip()!r}", line=number)
        keys.add(_term_key(term))
        out[term.strip()] = explanation.strip()
    return out


@cache
def _glossary_index() -> dict[str, str]:
    """Canonical key (lower case, US spelling) -> explanation."""
    return {_term_key(term): text for term, text in load_glossary().items()}


@cache
def _pattern(gloss: bool) -> re.Pattern[str]:
    """Abbreviations as written (case-sensitive), then glossary terms (any case), longest first."""
    abbrs = sorted(load_vocabulary().abbreviations, key=len, reverse=True)
    alternatives = [rf"(?P<abbr>{'|'.join(map(re.escape, abbrs))})(?P<abbr_s>s)?"]
    if gloss:
        written = {t.lower() for t in load_glossary()}
        variants = written | {_term_key(t) for t in written}
        variants |= {v.replace("-", " ") for v in variants}
        terms = sorted(variants, key=len, reverse=True)
        alternatives.append(
            rf"(?i:(?P<term>{'|'.join(map(re.escape, terms))}))(?P<plural>e?s)?"
            r"(?:\s*\((?P<paren>[A-Za-z][\w-]{0,11})\))?"
        )
    return re.compile(rf"(?<![\w-])(?:{'|'.join(alternatives)})(?![\w-])")


def _proper_name(word: str, before: str) -> bool:
    """A lower-case glossary term capitalised mid-sentence is part of a name ("the Gastrointestinal Society")."""
    return word[0].isupper() and not _starts_sentence(before) and word[0].lower() + word[1:] in _glossary_words()


@cache
def _glossary_words() -> frozenset[str]:
    return frozenset(variant for term in load_glossary() if term[0].islower() for variant in (term, _term_key(term)))


def _term_key(term: str) -> str:
    return " ".join(canonical_spelling(w) for w in term.strip().lower().split())


def _defines(text: str, start: int, end: int, expansions: Sequence[str]) -> bool:
    """True where the text itself defines the abbreviation: "expansion (ABBR)" or "ABBR (expansion)"."""
    if text[:start].rstrip().endswith("(") and text[end:].lstrip().startswith(")"):
        return True
    after = text[end:].lstrip()
    return after.startswith("(") and any(after[1:].lower().startswith(e.lower()) for e in expansions)


def _expandable(abbr: str, expansion: str) -> bool:
    if re.search(rf"(?<![\w-]){re.escape(abbr)}(?![\w-])", expansion):
        return False  # "B12" -> "vitamin B12" says nothing new
    return Counter(_NUMBER.findall(expansion)) == Counter(_NUMBER.findall(abbr))


def _roman_numeral(abbr: str, before: str) -> bool:
    """True for "IV" after "stage", "class" or "grade": a numeral, not "intravenous"."""
    return set(abbr) <= set("IVXLCDM") and bool(
        re.search(r"\b(?:stage|class|grade|type|phase|category|level|part|factor|NYHA|GOLD)\s*$", before, re.I)
    )


def _starts_sentence(before: str) -> bool:
    before = before.rstrip()
    return not before or before[-1] in ".!?"


def _substitute(text: str) -> str:
    """Apply the plain-word table to lower-case words (and capitalised ones that start a sentence)."""

    def swap(m: re.Match[str]) -> str:
        found = m.group(0)
        plain = _SUBSTITUTIONS[found.lower()]
        if found.islower():
            return plain
        if found[0].isupper() and found[1:].islower() and _starts_sentence(m.string[: m.start()]):
            return plain[0].upper() + plain[1:]
        return found  # a proper name or an acronym: leave it

    return _SUBSTITUTION.sub(swap, text)


def _split_long(text: str) -> str:
    """Split a long sentence at the clause boundary (`_CLAUSE_BREAKS`) nearest its middle, recursively.

    Never inside parentheses, in a sentence with a top-level colon or several semicolons (a list), at the comma
    closing an opening subordinate clause, or leaving a half under 5 words.
    """
    words = sentences.word_count(text)
    if words <= _LONG_SENTENCE or any(_depth(text, m.start()) == 0 for m in re.finditer(":", text)):
        return text
    best: tuple[int, re.Match[str], str] | None = None
    commas = [i for i, ch in enumerate(text) if ch == "," and _depth(text, i) == 0]
    opening = commas[0] if commas and _SUBORDINATE.match(text) else -1
    for pattern, opener in _CLAUSE_BREAKS:
        found = [m for m in pattern.finditer(text) if _depth(text, m.start()) == 0 and m.start() != opening]
        if opener == "" and len(found) > 1:
            continue
        for m in found:
            head = sentences.word_count(text[: m.start()])
            if min(head, words - head) >= 5 and (best is None or abs(words - 2 * head) < best[0]):
                best = (abs(words - 2 * head), m, opener)
    if best is None:
        return text
    _, m, opener = best
    tail = text[m.end() :]
    first = tail.split(maxsplit=1)[0] if tail.split() else ""
    if not opener and first.isalpha() and first.islower():
        tail = tail[0].upper() + tail[1:]
    return f"{_split_long(text[: m.start()].rstrip())}. {_split_long(opener + tail)}"


def _labels(text: str) -> Counter[str]:
    """The text's quantities, normalised ("1,000 mcg" and "1000 µg" alike), with their counts."""
    return Counter(q.label for q in quantities(text))


def _depth(text: str, index: int) -> int:
    return text.count("(", 0, index) - text.count(")", 0, index)


def wants_lead(text: str, kind: str) -> bool:
    """A statement that gives a dose, and is neither a prohibition nor a red flag."""
    if _NEGATION.search(text) or URGENT_CUE.search(text):
        return False
    return kind == "dose" or has_dose(text)
