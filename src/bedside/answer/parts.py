"""The parts of a question and the decision each asks for ("Alteplase dose, and what BP do I need before and after
giving it?" asks a dose and a threshold), and how well a sentence gives that kind of answer.

A vignette states the patient first and asks last: the ask is the sentences that end in a question mark (or the last
sentence when none does), cut where a coordinated question word starts another part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bedside.answer.candidates import Candidate
from bedside.text.analysis import analyze
from bedside.text.quantities import has_dose, has_measure

_SENTENCE = re.compile(r"(?<=[.?!])\s+(?=[A-Z0-9])")
_WH = (
    r"(?:what|which|how|when|where|why|who|whom|whether|does|do|did|is|are|was|were|should|shall|can|could|must|"
    r"will|would|has|have|may|might|any|also|then)"
)
_PREP = r"(?:(?:at|in|by|for|from|to|with|on|after|before|until|of)\s+)?"
_PART_BREAK = re.compile(
    rf"\?\s*|;\s*|\s+-\s+|,?\s+(?:and|or|plus|but)\s+(?={_PREP}{_WH}\b)|,\s+(?={_PREP}{_WH}\b)", re.I
)
_MIN_PART_WORDS = 1

# The decision a part asks for, first match wins; "choice" (which drug, what to do) is the default for a treatment.
_DECISIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "duration",
        re.compile(
            r"\b(how long|duration|for how many|when (?:can|should|do) (?:i|we|she|he|they) stop|"
            r"until when|course length|length)\b",
            re.I,
        ),
    ),
    (
        "dose",
        re.compile(
            r"\b(dose|doses|dosing|dosage|how much|how many (?:mg|units|tablets)|regimen|mg/kg|rate|"
            r"titrat\w*|starting dose|loading)\b",
            re.I,
        ),
    ),
    (
        "threshold",
        re.compile(
            r"\b(threshold|target\w*|cut-?offs?|levels?|aim\w*|goal|range|above|below|what bp|"
            r"what blood pressure|how low|how high|at what)\b",
            re.I,
        ),
    ),
    ("monitoring", re.compile(r"\b(monitor\w*|how often|recheck|re-check|follow[- ]?up|review|check\w*)\b", re.I)),
    (
        "diagnosis",
        re.compile(
            r"\b(diagnos\w*|is (?:this|it|she|he) \w+|does (?:this|it) (?:mean|count)|confirm\w*|"
            r"test\w*|investigat\w*|work-?up|scan|ultrasound|imaging|criteria|screen\w*)\b",
            re.I,
        ),
    ),
    (
        "choice",
        re.compile(
            r"\b(which|what (?:drug|antibiotic|treatment|anticoagulant|agent|medication|options?|else)|"
            r"first[- ]line|treat\w*|manag\w*|give|start|switch|choose|choice|option|next|add|"
            r"what (?:do|should|can) (?:i|we))\b",
            re.I,
        ),
    ),
)
_YES_NO_WORDS = re.compile(
    r"^\s*(?:is|are|does|do|did|should|shall|can|could|must|will|would|has|have|may|might)\b", re.I
)
_DURATION = re.compile(
    r"\b(?:for|over|within|at least|continue\w*|duration|course)\b.{0,40}\b\d+(?:\s*(?:-|–|to)\s*\d+)?"
    r"\s*(?:days?|weeks?|months?|years?|hours?)\b|\b\d+[- ]day course\b",
    re.I,
)
_THRESHOLD = re.compile(
    r"\b(?:below|above|under|over|less than|more than|at least|target|<|>|≤|≥)\s*\d|"
    r"\d+\s*/\s*\d+\s*mm\s*Hg|\d+(?:\.\d+)?\s*(?:mmol/L|µmol/L|g/L|%|mmHg|ng/mL|pmol/L)",
    re.I,
)
_DECIDES = re.compile(
    r"\b(recommend\w*|should|offer\w*|give|start|continue|stop|do not|does not|don't|is not|are not|"
    r"not (?:needed|required|indicated|routinely)|no need|avoid|contraindicated|never|only if|unless|indicated|"
    r"suggest\w*|advis\w*)\b",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Part:
    """One thing the question asks: its words, its analysed terms and the decision it wants."""

    text: str
    terms: frozenset[str]
    decision: str  # dose | duration | threshold | monitoring | diagnosis | yes-no | choice | general
    also: tuple[str, ...] = ()  # further kinds of answer the same part asks ("antibiotic, dose and duration")


# "Is this AKI?", "is she anaemic?" ask for a diagnosis; "is it OK to stop?", "is it safe to", "is it worth" ask
# whether to do something.
_IS_THIS = re.compile(
    r"\s*is (?:this|it|she|he)\b(?!\s+(?:ok|okay|alright|safe|fine|reasonable|worth|possible|necessary|appropriate|"
    r"advisable|sensible|better|best|too late|too early|still|acceptable|wise)\b)",
    re.I,
)


def decision_of(text: str) -> str:
    """The kind of answer a part asks for."""
    yes_no = bool(_YES_NO_WORDS.match(text))
    for name, pattern in _DECISIONS:
        if pattern.search(text):
            if yes_no and name not in ("dose", "duration") and not _IS_THIS.match(text):
                return "yes-no"  # "does she need a renal ultrasound?", "does X lower Y levels?": a yes/no decision
            return name
    return "yes-no" if yes_no else "general"


def ask_of(question: str) -> str:
    """The sentences of a question that ask (end in "?"), or its last sentence."""
    sentences = [s.strip() for s in _SENTENCE.split(question.strip()) if s.strip()]
    asking = [s for s in sentences if s.endswith("?")]
    return " ".join(asking) if asking else (sentences[-1] if sentences else question)


def parts_of(question: str, generic: frozenset[str] = frozenset()) -> tuple[Part, ...]:
    """The question's parts, in order (at least one). `generic` terms are left out of each part's terms."""
    ask = ask_of(question)
    pieces = [p.strip(" ,.-–") for p in _PART_BREAK.split(ask)]
    pieces = [p for p in pieces if len(p.split()) >= _MIN_PART_WORDS]
    if len(pieces) > 4:  # a run-on list: keep the ask whole rather than four fragments
        pieces = [ask]
    pieces = pieces or [ask]
    return tuple(Part(p, frozenset(analyze(p)) - generic, decision_of(p), decisions_of(p)) for p in pieces)


def decisions_of(text: str) -> tuple[str, ...]:
    """Every kind of answer a part names, beyond its first."""
    first = decision_of(text)
    return tuple(name for name, pattern in _DECISIONS if name != first and pattern.search(text))


def decision_fit(c: Candidate, decision: str) -> float:
    """How directly a sentence gives the kind of answer asked for, 0 to 1."""
    text = c.text
    if decision == "dose":
        return 1.0 if has_dose(text) else 0.3 if has_measure(text) else 0.0
    if decision == "duration":
        return 1.0 if _DURATION.search(text) else 0.0
    if decision == "threshold":
        return 1.0 if _THRESHOLD.search(text) else 0.3 if has_measure(text) else 0.0
    if decision == "monitoring":
        return 1.0 if c.category == "monitoring" else 0.0
    if decision == "diagnosis":
        return 1.0 if c.category == "diagnosis" else 0.3 if _DECIDES.search(text) else 0.0
    if decision == "yes-no":
        return 1.0 if _DECIDES.search(text) else 0.0
    if decision == "choice":
        return 1.0 if c.category in ("treatment", "warning") or _DECIDES.search(text) else 0.0
    return 0.5
