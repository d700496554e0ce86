"""Which patients a sentence applies to, and whether it fits the patient a question describes.

A guideline sentence usually names its population ("in adults under 65 without cardiovascular disease", "non-pregnant
women", "children aged 6-23 months", "in AF without heart failure"); where it names none, its section heading or its
document's title may ("Iron deficiency and anaemia in pregnancy"). `applicability` reads those cues into ranges and
requirements; `fit` compares them with a `Patient`: a conflict means the sentence is about someone else and must not
be offered for this patient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import lru_cache

from bedside.answer.patient import Patient

_NUM = r"(\d{1,3})"
# Age bounds in years. Months ("aged 6-23 months") are converted; "under 16s" and "over 12s" are common UK forms.
_AGE_RANGE = re.compile(rf"\b(?:aged|ages|age)\s+{_NUM}\s*(?:-|–|to)\s*{_NUM}\s*(months?|years?)?", re.I)
_AGE_MIN = re.compile(
    rf"\b(?:aged\s+{_NUM}\s*(?:years?\s+)?(?:and|or)\s+(?:over|older|above)|over\s+{_NUM}s\b|"
    rf"{_NUM}\s*years?\s+(?:and|or)\s+(?:over|older)|(?:aged|age)\s+(?:over|above|≥|>=)\s*{_NUM}|"
    rf"older than\s+{_NUM})",
    re.I,
)
_AGE_MAX = re.compile(
    rf"\b(?:(?:aged|age)\s+(?:under|below|less than|<)\s*{_NUM}|under\s+{_NUM}s?\b(?!\s*(?:mg|g|kg|mmol|%|µ|u))|"
    rf"younger than\s+{_NUM})",
    re.I,
)

_CHILD = re.compile(
    r"\b(child(?!-?bearing)\w*|paediatric|pediatric|infant\w*|neonat\w*|newborn\w*|toddler\w*|babies|baby)\b", re.I
)
_ADULT = re.compile(r"\badults?\b", re.I)
_BOTH_AGES = re.compile(
    r"\b(?:adults? and (?:children|adolescents|young people)|(?:children|adolescents|young people)"
    r" and adults?|all ages|any age)\b",
    re.I,
)
_OLDER = re.compile(r"\b(older (?:adults|people|patients|persons)|elderly|frail)\b", re.I)
_NON_PREGNANT = re.compile(r"\b(non-?pregnant|not pregnant|who are not pregnant|outside pregnancy)\b", re.I)
_PREGNANT = re.compile(
    r"\b(pregnan\w*|antenatal\w*|trimester|gestation\w*|obstetric\w*|intrapartum|in labou?r|third stage of labou?r|"
    r"postpartum|postnatal|after (?:giving )?birth)\b",
    re.I,
)
# "women who could become pregnant", "before pregnancy", "planning a pregnancy": about contraception or planning, not
# about a pregnant patient.
_PREGNANCY_POSSIBLE = re.compile(
    r"\b(could become|may become|planning (?:a )?|before|childbearing|of child-?bearing)\s+"
    r"(?:\w+\s+){0,2}pregnan\w*|\bchildbearing\b|pregnancy test\w*",
    re.I,
)
_WITHOUT = re.compile(
    r"\b(?:without|no|not on|not of|in the absence of)\s+(?:known\s+|established\s+|a history of\s+)?$", re.I
)
_CONDITION_CUES: dict[str, re.Pattern[str]] = {
    "heart failure": re.compile(r"\b(heart failure|HFrEF|HFmrEF|HFpEF|reduced ejection fraction)\b", re.I),
    "renal impairment": re.compile(
        r"\b(CKD|chronic kidney disease|renal impairment|kidney failure|dialysis|"
        r"eGFR (?:is )?(?:below|under|less than|<)\s*\d+)\b",
        re.I,
    ),
    "hepatic impairment": re.compile(r"\b(cirrho\w*|hepatic impairment|liver (?:disease|failure|impairment))\b", re.I),
    # NICE's hypertension steps differ by family origin.
    "black african or caribbean family origin": re.compile(r"\b(Black African|African-Caribbean|African Caribbean)\b"),
    "diabetes": re.compile(r"\b((?:type [12] )?diabetes(?! insipidus)|T[12]DM?)\b", re.I),
    "neurological involvement": re.compile(
        r"\b(neurolog\w+ (?:involvement|symptoms?|signs?|features?|"
        r"deficits?))\b",
        re.I,
    ),
    "cardiovascular disease": re.compile(
        r"\b(cardiovascular disease|ASCVD|coronary (?:heart|artery) disease|"
        r"ischaemic heart disease|ischemic heart disease)\b",
        re.I,
    ),
}
_EGFR_BELOW = re.compile(
    r"\b(?:eGFR|creatinine clearance|CrCl)\s*(?:is\s+)?(?:below|under|less than|<)\s*(\d{1,3})", re.I
)
_EGFR_ABOVE = re.compile(
    r"\b(?:eGFR|creatinine clearance|CrCl)\s*(?:is\s+)?(?:above|over|at least|≥|>=|>)\s*(\d{1,3})", re.I
)
_MEN = re.compile(r"\b(?:in|for)\s+(?:adult\s+)?men\b(?!\s+and)", re.I)
_WOMEN = re.compile(r"\b(?:in|for)\s+(?:adult\s+|non-?pregnant\s+)?women\b(?!\s+and)", re.I)
_SEX_BOTH = re.compile(r"\b(?:men and (?:\w+\s+)?women|women and men)\b", re.I)


@dataclass(frozen=True, slots=True)
class Applicability:
    """Whom a sentence is about. Empty: anyone with the condition it discusses."""

    age_min: float | None = None  # years, inclusive
    age_max: float | None = None  # years, exclusive
    requires: frozenset[str] = field(default_factory=frozenset)  # pregnancy, heart failure, renal impairment, ...
    excludes: frozenset[str] = field(default_factory=frozenset)
    sex: str | None = None
    egfr_below: float | None = None
    egfr_above: float | None = None
    # Populations joined by "or" ("aged 55 or over, or who are of Black African family origin"): any one may hold.
    either: tuple[Applicability, ...] = ()

    @property
    def general(self) -> bool:
        """True when the sentence names no population at all."""
        return self == Applicability()

    def merged(self, default: Applicability) -> Applicability:
        """This sentence's own cues, completed by a wider context's (heading, title) where it says nothing."""
        return Applicability(
            either=tuple(alt.merged(default) for alt in self.either),
            age_min=self.age_min if self.age_min is not None or self.age_max is not None else default.age_min,
            age_max=self.age_max if self.age_min is not None or self.age_max is not None else default.age_max,
            requires=self.requires | (default.requires - self.excludes),
            excludes=self.excludes | (default.excludes - self.requires),
            sex=self.sex or default.sex,
            egfr_below=self.egfr_below if self.egfr_below is not None else default.egfr_below,
            egfr_above=self.egfr_above if self.egfr_above is not None else default.egfr_above,
        )


def _years(value: str, unit: str | None) -> float:
    return int(value) / 12 if unit and unit.lower().startswith("month") else float(value)


def _first(m: re.Match[str]) -> str:
    return next(g for g in m.groups() if g)


_OR_WHO = re.compile(r",?\s+or\s+(?=who (?:are|have|is|has)\b)", re.I)
# Where a sentence giving each population its own value turns to the next ("93-95% in adults and 94-98% in children
# aged 6 to 11", "below 140/90 for those under 80, and below 150/90 for those aged 80 and over").
_NEXT_POPULATION = re.compile(
    r",?\s+(?:and|while|whereas)\s+(?!over\b|older\b|above\b|under\b|younger\b|adolescents\b|adults?\b|children\b|"
    r"young people\b)|;\s+",
    re.I,
)


@lru_cache(maxsize=65536)
def applicability(text: str) -> Applicability:
    """The population cues of one sentence (or heading, or title); alternatives joined by ", or who ..." each keep
    the cues they share with the first (its conditions excluded, as in "without diabetes who are 55 or over, or who
    are of Black African family origin")."""
    pieces = _OR_WHO.split(text)
    if len(pieces) == 1:
        return _enumerated(text) or _applicability(text)
    first = _applicability(pieces[0])
    shared = Applicability(excludes=first.excludes, sex=first.sex)
    return replace(first, either=(first, *(_applicability(p).merged(shared) for p in pieces[1:])))


def _enumerated(text: str) -> Applicability | None:
    """A sentence that gives populations that cannot overlap a value each (adults and children, under and over 80,
    pregnant and not) applies to each of them: its clauses become alternatives. None for any other sentence."""
    clauses = [c for c in _NEXT_POPULATION.split(text) if c.strip()]
    if len(clauses) < 2:
        return None
    alternatives = [(_applicability(c), bool(_BOTH_AGES.search(c))) for c in clauses]
    named = [a for a, both in alternatives if both or not a.general]
    aged = [a for a in named if a.age_min is not None or a.age_max is not None]
    enumerates = any(_disjoint(a, b) for i, a in enumerate(named) for b in named[i + 1 :]) or (
        len(aged) < len(named) and any(both for _, both in alternatives) and bool(aged)
    )
    return Applicability(either=tuple(named)) if enumerates else None


def _disjoint(a: Applicability, b: Applicability) -> bool:
    """Whether no patient can be in both populations (ages that do not overlap, pregnant and not, men and women)."""
    ages = (a.age_max is not None and b.age_min is not None and a.age_max <= b.age_min) or (
        b.age_max is not None and a.age_min is not None and b.age_max <= a.age_min
    )
    pregnancy = ("pregnancy" in a.requires and "pregnancy" in b.excludes) or (
        "pregnancy" in b.requires and "pregnancy" in a.excludes
    )
    return ages or pregnancy or (a.sex is not None and b.sex is not None and a.sex != b.sex)


def _applicability(text: str) -> Applicability:
    age_min = age_max = None
    m = _AGE_RANGE.search(text)
    if m:
        age_min, age_max = _years(m.group(1), m.group(3)), _years(str(int(m.group(2)) + 1), m.group(3))
    if (m := _AGE_MIN.search(text)) is not None and age_min is None:
        age_min = float(_first(m))
    if (m := _AGE_MAX.search(text)) is not None and age_max is None:
        age_max = float(_first(m))
    both = bool(_BOTH_AGES.search(text))
    if not both and age_min is None and age_max is None:
        if _CHILD.search(text) and not _ADULT.search(text):
            age_max = 18.0
        elif _OLDER.search(text):
            age_min = 65.0
        elif _ADULT.search(text) and not _CHILD.search(text):
            age_min = 16.0  # UK guidance counts adults from 16; US from 18: the wider reading, never a false conflict
    requires: set[str] = set()
    excludes: set[str] = set()
    if _NON_PREGNANT.search(text):
        excludes.add("pregnancy")
    elif _PREGNANT.search(text) and not _PREGNANCY_POSSIBLE.search(text):
        requires.add("pregnancy")
    for name, pattern in _CONDITION_CUES.items():
        for c in pattern.finditer(text):
            (excludes if _WITHOUT.search(text[max(0, c.start() - 40) : c.start()]) else requires).add(name)
    sex = None
    if not _SEX_BOTH.search(text):
        sex = "male" if _MEN.search(text) else "female" if _WOMEN.search(text) else None
    below, above = _EGFR_BELOW.search(text), _EGFR_ABOVE.search(text)
    # A condition named once as excluded ("not of Black African or African-Caribbean origin") is excluded throughout.
    return Applicability(
        age_min=age_min,
        age_max=age_max,
        requires=frozenset(requires - excludes),
        excludes=frozenset(excludes),
        sex=sex,
        egfr_below=float(below.group(1)) if below else None,
        egfr_above=float(above.group(1)) if above else None,
    )


class Fit(Enum):
    """How a sentence's population relates to the patient."""

    APPLIES = "applies"  # names this patient's population, or none
    OTHER = "other"  # about a population the question does not place the patient in (not known either way)
    CONFLICT = "conflict"  # about someone this patient is not


def fit(a: Applicability, p: Patient) -> Fit:
    """Compare a sentence's population with the patient (the best of its alternatives, when it has some)."""
    if a.either:
        fits = [_fit(alt, p) for alt in a.either]
        return next((f for f in (Fit.APPLIES, Fit.OTHER) if f in fits), Fit.CONFLICT)
    return _fit(a, p)


def _fit(a: Applicability, p: Patient) -> Fit:
    if p.age is not None and (
        (a.age_min is not None and p.age < a.age_min) or (a.age_max is not None and p.age >= a.age_max)
    ):
        return Fit.CONFLICT
    if a.sex is not None and p.sex is not None and a.sex != p.sex:
        return Fit.CONFLICT
    if p.egfr is not None and (
        (a.egfr_below is not None and p.egfr >= a.egfr_below) or (a.egfr_above is not None and p.egfr < a.egfr_above)
    ):
        return Fit.CONFLICT
    other = False
    for condition in a.requires:
        has = p.has(condition)
        if has is False:
            return Fit.CONFLICT
        # Unknown: for a described patient the question would have said so; a bare question ("What is X?") is
        # about the condition's usual patients, except for pregnancy, which changes most answers.
        other = other or (has is None and (condition == "pregnancy" or p.described))
    for condition in a.excludes:
        if p.has(condition):
            return Fit.CONFLICT
    if a.age_min is not None and a.age_min >= 60 and p.age is None:
        other = True  # "older adults": the question did not say the patient is one
    if a.age_max is not None and a.age_max <= 18 and p.age is None:
        other = True  # about children, and the question did not say it is about a child
    if (a.egfr_below is not None) and p.egfr is None and not p.has("renal impairment"):
        other = True
    return Fit.OTHER if other else Fit.APPLIES
