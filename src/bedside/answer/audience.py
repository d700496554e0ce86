"""Render one verified answer for a clinician, a student or a patient or caregiver.

Whatever the audience, statements keep their citations and provenance, and no number, dose, unit or threshold
is changed, dropped or rounded: each rewrite is checked, and a statement whose quantities would not survive
keeps its clinician wording. Clinician: unchanged. Student: unambiguous abbreviations (one expansion in
``data/abbreviations.tsv``) expanded on first use across the answer. Patient: as student, plus glosses from
``data/glossary.tsv`` on first use, plain-word substitutions, long sentences split at clause boundaries, red
flags first, plain headings, and a framing lead on dose statements (`lead_of`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cache
from importlib import metadata, resources
from typing import Any, Literal

from bedside.errors import BackendUnavailable, IngestError, InvalidInput
from bedside.model import Answer, AnswerSection, Statement
from bedside.text import sentences
from bedside.text.vocabulary import canonical_spelling, load_vocabulary

AUDIENCES = ("clinician", "student", "patient")
DOSE_LEAD = "Your clinician may prescribe:"
# A bottom-line sentence for a yes/no question that the sources do not decide: the frame states no fact of its own.
INDIRECT_LEAD = "The sources in the knowledge base do not answer this directly; they state:"
URGENT_HEADING = "When to get help urgently"

_LONG_SENTENCE = 16  # words; longer patient sentences are split at a clause boundary
PATIENT_STATEMENTS = 10  # statements a patient reads beyond the bottom line and the urgent ones
PATIENT_PER_SECTION = 4
PATIENT_MAX_GRADE = 14.0  # a statement still harder than this once rewritten stays in the clinician version
CARE_LEAD = "Advice for your care team:"

# Plain words that mean the same thing in context (lower case; the longest phrase wins).
_SUBSTITUTIONS = {
    "administer": "give", "administered": "given", "administering": "giving", "commence": "start",
    "commenced": "started", "commences": "starts", "commencing": "starting", "initiate": "start",
    "initiated": "started", "initiates": "starts", "initiating": "starting", "discontinue": "stop",
    "discontinued": "stopped", "discontinuing": "stopping", "cease": "stop", "prior to": "before",
    "approximately": "about", "in order to": "to", "subsequently": "later",
    "haemoglobin concentration": "haemoglobin level", "hemoglobin concentration": "hemoglobin level",
    "sufficient": "enough", "insufficient": "not enough", "additional": "extra", "numerous": "many", "require": "need",
    "requires": "needs", "required": "needed", "requiring": "needing", "utilise": "use", "utilize": "use",
    "obtain": "get", "assist": "help", "regarding": "about", "frequently": "often", "individuals": "people",
    "patients": "people", "elevated": "raised", "gastrointestinal tract": "gut", "gastrointestinal": "gut",
    "investigations": "tests", "laboratory": "lab", "indicates": "points to", "indicating": "pointing to",
    "coexist": "occur together", "precipitate": "bring on", "precipitates": "brings on",
    "is highly suggestive of": "is a strong sign of", "is suggestive of": "is a sign of",
}  # fmt: skip

# Plain headings for patients, keyed by the lower-cased clinician heading.
_PLAIN_HEADINGS = {
    "critical warnings": "Important safety points", "warnings": "Important safety points",
    "monitoring": "Check-ups and tests", "monitoring and follow-up": "Check-ups and tests",
    "follow-up": "Check-ups and tests", "assessment before treatment": "Before treatment starts",
    "regimen": "Treatment options", "regimens": "Treatment options", "dosing": "Doses", "doses": "Doses",
    "duration": "How long treatment lasts", "when to escalate": "When treatment may need to change",
    "pitfalls": "Things that are easy to miss", "special populations": "People who need different care",
    "tests and thresholds": "Tests and results", "definitions and thresholds": "Tests and results",
    "investigations": "Tests", "interpretation": "What the results mean", "diagnosis": "How it is diagnosed",
    "evidence": "What the research shows", "clinical implications": "What this means for care",
    "referral": "Seeing a specialist", "prognosis": "Outlook", "key points": "Main points",
}  # fmt: skip

# What a patient needs first when statements must be few (plain headings, most needed first).
_PATIENT_NEED = {
    h: i for i, h in enumerate((URGENT_HEADING, "Treatment options", "Doses", "How long treatment lasts", "Treatment",
                                "Important safety points", "Check-ups and tests", "Monitoring", "Main points"))
}  # fmt: skip
# Sections a patient version shows only where their statements are plain (as their plain headings).
_PATIENT_EXTRAS = frozenset(("Tests and results", "Tests", "How it is diagnosed", "What the research shows"))
# Clinician sections a patient version leaves out (as their plain headings).
_CLINICIAN_ONLY = frozenset(
    (
        "People who need different care",
        "Things that are easy to miss",
        "Before treatment starts",
        "When treatment may need to change",
        "What the results mean",
        "When to refer",
    )
)
# Sections whose statements are all red flags, and statements that are red flags wherever they stand.
_URGENT_SECTION = re.compile(r"when to (?:seek|get) (?:\w+ )?(?:care|help)|red flags?|safety[- ]net|urgent", re.I)
_URGENT_CUE = re.compile(
    r"\b(?:emergency(?!\s+department)|emergencies|immediately|call|seek)\b"
    r"|\burgent(?:ly)?\s+(?:\w+\s+)?(?:help|care|medical|attention|advice|assessment|review|transfer|treatment)\b"
    r"|\b(?:get|go|see|refer(?:red)?)\b(?:\s+\w+){0,3}\s+urgently\b",
    re.I,
)
# An expansion that names an organisation ("National Institute for Health and Care Excellence").
_ORGANISATION = re.compile(r"\b(?:Institute|Society|Association|College|Organi[sz]ation|Agency|Foundation|Council|"
                           r"Campaign|Initiative|Group|Centers?|Centres?|Committee|Federation|Academy)\b")  # fmt: skip
# A statement that tells the prescriber what to do ("Give ...", "Do not start ...", "Refer ...").
_PRESCRIBER = re.compile(
    r"^(?:do not |don't |never )?(?:give|offer|prescribe|start|consider|refer|check|measure|use|treat|avoid|continue|"
    r"stop|switch|add|withhold|assess|monitor|repeat|arrange|reassess|review|test|screen|confirm|admit|discuss|"
    r"explain|lower|aim|titrate|increase|reduce|classify|obtain|take|order|document|record|calculate)\b",
    re.I,
)
_NEGATION = re.compile(r"\b(?:do not|don't|never|avoid|not recommended|contraindicated|should not|must not)\b", re.I)
# A dose: a number with a mass, unit or volume, alone or per kg/day/dose, but not a concentration ("µg/L").
_DOSE = re.compile(
    r"(?<![\w.])\d+(?:[.,]\d+)?\s*(?:mg|g|mcg|µg|μg|micrograms?|milligrams?|grams?|units?|IU|mmol|mL|ml)"
    r"(?:/(?:kg|day|d|dose|week|h|hour|m2))?(?![\w/])"
)
# Clause boundaries where a long sentence can end and the next begin, with the word that opens the next.
_CLAUSE_BREAKS = tuple((re.compile(p), opener) for p, opener in (
    (r"\s*;\s+", ""), (r",\s+so\s+(?!that\b|as\b|long\b|far\b|much\b)", "So "), (r",\s+then\s+", "Then "),
    (r",\s+because\s+", "This is because "), (r",\s+but\s+(?!not\b|only\b|also\b|rather\b)", "But "),
    # ", and" opening a new clause on its own subject ("..., and a ferritin below 30 µg/L indicates ..."), not a list.
    (r",\s+and\s+(?=(?:the|a|an|in|for|if|when|this|these|it|they|those|people|adults|children|patients|"
     r"[A-Z][a-z]+\s+(?:is|are|can|may|should|recommends|advises|suggests))\b)", ""),
    (r"\s+[–—]\s+", ""),
))  # fmt: skip
# A sentence that opens with one of these ends its first clause at a comma that must not become a full stop.
_SUBORDINATE = re.compile(r"(?:if|when|where|once|unless|although|though|while|whilst|after|before|until|as)\b", re.I)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_UNIT = r"(?:%|[mµμnpk]?g|mcg|micrograms?|milligrams?|grams?|[mµμnp]?mol|m?L|d?l|dL|IU|units?|mEq)"
_QUANTITY = re.compile(rf"(?<![\d.,])\d+(?:[.,]\d+)*(?:\s?{_UNIT}(?:/[\w.]+)*(?!\w))?")
_WORD = re.compile(r"[A-Za-z]+")
_SUBSTITUTION = re.compile(
    rf"(?<![\w-])(?:{'|'.join(map(re.escape, sorted(_SUBSTITUTIONS, key=len)[::-1]))})(?![\w-])", re.I
)


def render_for(answer: Answer, audience: str) -> Answer:
    """Return the answer rendered for `audience`; citations and provenance are never touched.

    Render from the clinician answer (the composer's output); raises InvalidInput for an unknown audience.
    """
    key = audience.strip().lower()
    if key not in AUDIENCES:
        raise InvalidInput(f"unknown audience {audience!r} (expected one of: {', '.join(AUDIENCES)})")
    if key == "clinician":
        return replace(answer, audience=key)
    patient = key == "patient"
    sections = _patient_sections(answer.sections) if patient else answer.sections
    writer = _Rewriter(gloss=patient)
    bottom = tuple(writer.statement(s, patient=patient) for s in answer.bottom_line)
    new_sections = tuple(
        replace(sec, statements=tuple(writer.statement(s, patient=patient) for s in sec.statements)) for sec in sections
    )
    if patient:
        # Choose by how the rewritten statements read, then rewrite only those again, so that each term is
        # explained where a patient first meets it.
        chosen = {s.provenance for s in _patient_bottom(bottom)} | {
            s.provenance for sec in _what_a_patient_needs(new_sections) for s in sec.statements
        }
        writer = _Rewriter(gloss=True)
        bottom = tuple(writer.statement(s, patient=True) for s in answer.bottom_line if s.provenance in chosen)
        new_sections = tuple(
            AnswerSection(sec.heading, kept)
            for sec in sections
            if (kept := tuple(writer.statement(s, patient=True) for s in sec.statements if s.provenance in chosen))
        )
        left = len(answer.statements()) - len(bottom) - sum(len(sec.statements) for sec in new_sections)
        if left:
            note = f"{left} more technical statement{'s are' if left > 1 else ' is'} in the clinician version."
            answer = replace(answer, notices=(*answer.notices, note))
    return replace(answer, audience=key, bottom_line=bottom, sections=new_sections)


def _patient_bottom(bottom: Sequence[Statement]) -> tuple[Statement, ...]:
    """The bottom-line statements a patient reads: the plain ones, or the plainest one if none is."""
    plain = tuple(s for s in bottom if reading_grade([s.text], engine="builtin") <= PATIENT_MAX_GRADE)
    return plain or tuple(sorted(bottom, key=lambda s: reading_grade([s.text], engine="builtin"))[:1])


def _what_a_patient_needs(sections: Sequence[AnswerSection]) -> tuple[AnswerSection, ...]:
    """The statements a patient or carer can use: every red flag; then, in this order of need, what treatment
    involves, safety points, check-ups and main points, the plainest few of each (at least one); tests only where
    plain; not the clinician's workup, special populations or pitfalls. A statement still technical after rewriting
    is left to the clinician version unless its section would otherwise say nothing."""
    chosen: dict[int, list[Statement]] = {}
    total = 0
    order = sorted(range(len(sections)), key=lambda i: _PATIENT_NEED.get(sections[i].heading, len(_PATIENT_NEED)))
    for i in order:
        sec = sections[i]
        if sec.heading in _CLINICIAN_ONLY:
            continue
        if sec.heading == URGENT_HEADING:
            chosen[i] = list(sec.statements)
            continue
        grades = {id(s): reading_grade([s.text], engine="builtin") for s in sec.statements}
        ranked = sorted(sec.statements, key=lambda s: grades[id(s)])
        plain = [s for s in ranked if grades[id(s)] <= PATIENT_MAX_GRADE]
        if sec.heading not in _PATIENT_EXTRAS:
            plain = plain or ranked[:1]
        picked = plain[: min(PATIENT_PER_SECTION, max(0, PATIENT_STATEMENTS - total))]
        chosen[i] = [s for s in sec.statements if any(s is c for c in picked)]  # in the original order
        total += len(picked)
    return tuple(replace(sections[i], statements=tuple(chosen[i])) for i in sorted(chosen) if chosen[i])


def lead_of(statement: Statement, audience: str) -> str:
    """The framing a renderer shows before the statement's text ("" for none); never part of the fact."""
    lead = getattr(statement, "lead", None)
    if lead is not None:
        return str(lead)
    if statement.kind == "indirect":
        return INDIRECT_LEAD
    if audience == "patient" and statement.kind == "dose" and _wants_lead(statement.text, "dose"):
        return DOSE_LEAD
    if audience == "patient" and statement.kind == "care":
        return CARE_LEAD
    return ""


def answer_texts(answer: Answer) -> list[str]:
    """What a reader reads, statement by statement in reading order, each with its lead."""
    return [" ".join(filter(None, (lead_of(s, answer.audience), s.text))) for s in answer.statements()]


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


def reading_grade(texts: Sequence[str], *, engine: Literal["auto", "textstat", "builtin"] = "auto") -> float:
    """Flesch–Kincaid grade of the texts read one after another (0.0 for no words).

    UK spellings are read as their US forms so both score alike. `engine="auto"` uses textstat when it is
    installed and a built-in syllable heuristic otherwise.
    """
    prose = [_as_sentence(t) for t in texts if t.strip()]
    if not prose:
        return 0.0
    if engine != "builtin":
        grade = _textstat_grade()
        if grade is not None:
            return float(grade(" ".join(prose)))
        if engine == "textstat":
            raise BackendUnavailable("install with: pip install 'textstat>=0.7.8,<0.7.9'")
    return _builtin_grade(prose)


# -- rewriting statements --------------------------------------------------------------------------


@dataclass
class _Rewriter:
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
        if not Counter(_QUANTITY.findall(original)) <= Counter(_QUANTITY.findall(text)):
            text = original  # never reached with the shipped tables; a guard against future entries
        out = replace(statement, text=text)
        if patient and _wants_lead(original, statement.kind):
            changes: dict[str, Any] = {"lead": DOSE_LEAD} if _HAS_LEAD else {"kind": "dose"}
            return replace(out, **changes)
        if patient and _PRESCRIBER.match(original) and not _URGENT_CUE.search(original):
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


_HAS_LEAD = "lead" in {f.name for f in fields(Statement)}


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


def _depth(text: str, index: int) -> int:
    return text.count("(", 0, index) - text.count(")", 0, index)


def _wants_lead(text: str, kind: str) -> bool:
    """A statement that gives a dose, and is neither a prohibition nor a red flag."""
    if _NEGATION.search(text) or _URGENT_CUE.search(text):
        return False
    return kind == "dose" or bool(_DOSE.search(text))


# -- sections for patients -------------------------------------------------------------------------


def _patient_sections(sections: Sequence[AnswerSection]) -> tuple[AnswerSection, ...]:
    """Red flags first, under one urgent heading; plain headings; empty sections dropped, nothing lost."""
    urgent: list[Statement] = []
    kept: list[AnswerSection] = []
    for sec in sections:
        whole = bool(_URGENT_SECTION.search(sec.heading))
        stay = [s for s in sec.statements if not (whole or _URGENT_CUE.search(s.text))]
        urgent.extend(s for s in sec.statements if whole or _URGENT_CUE.search(s.text))
        if stay:
            kept.append(AnswerSection(heading=_plain_heading(sec.heading), statements=tuple(stay)))
    if urgent:
        kept.insert(0, AnswerSection(heading=URGENT_HEADING, statements=tuple(urgent)))
    return tuple(kept)


def _plain_heading(heading: str) -> str:
    key = re.sub(r"\s+", " ", heading.strip().rstrip(":")).lower()
    return _PLAIN_HEADINGS.get(key, heading)


# -- reading grade ---------------------------------------------------------------------------------


def _as_sentence(text: str) -> str:
    text = _WORD.sub(_us_spelling, text.strip())
    return text if text[-1] in ".!?" else text + "."


def _us_spelling(m: re.Match[str]) -> str:
    word = m.group(0)
    us = canonical_spelling(word.lower())
    return word if us == word.lower() else us[0].upper() + us[1:] if word[0].isupper() else us


@cache
def _textstat_grade() -> Callable[[str], Any] | None:
    """textstat's grade, from releases that work offline: 0.7.9 and later fetch a dictionary on first use."""
    try:
        version = tuple(int(p) for p in metadata.version("textstat").split(".")[:3])
        if not (0, 7, 8) <= version < (0, 7, 9):
            return None
        import textstat  # type: ignore[import-untyped]
    except (metadata.PackageNotFoundError, ValueError, ImportError):
        return None
    grade: Callable[[str], Any] = textstat.flesch_kincaid_grade
    return grade


def _builtin_grade(prose: Sequence[str]) -> float:
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
