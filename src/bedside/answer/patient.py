"""The patient a question describes: age, sex, pregnancy, breastfeeding, kidney function, weight and comorbidities.

Read from the question's own words ("72M, 80 kg", "28 weeks pregnant", "eGFR 35", "known heart failure"); what the
question does not say stays unknown (None), which is different from "no". Pure and cheap: one pass of patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Age in years, from the forms clinicians type: "72M", "74F", "72-year-old", "aged 68", "a 9 yo", "6 months old".
_AGE_YEARS = re.compile(
    r"\b(\d{1,3})[\s-]*(?:years?|yrs?)[\s-]*old\b|\b(\d{1,3})\s*(?:yo|y/o|y\.o\.)(?!\w)|\baged?\s+(\d{1,3})\b|"
    r"(?<![\w.])(\d{1,3})\s*-?\s*(?:M|F)(?![\w])",
    re.I,
)
_SEX_AGE = re.compile(r"(?<![\w.])\d{1,3}\s*-?\s*([MF])(?![\w])")
_AGE_MONTHS = re.compile(r"\b(\d{1,2})[\s-]*(?:months?|mo)[\s-]*old\b|\b(\d{1,2})[\s-]*week[\s-]*old\b", re.I)
_FEMALE = re.compile(r"\b(woman|women|female|she|her|girl|lady|mother|postmenopausal|menstruat\w*)\b", re.I)
_MALE = re.compile(r"\b(man|men|male|he|his|him|boy|gentleman)\b", re.I)
_NOT_PREGNANT = re.compile(r"\b(non-?pregnant|not pregnant|isn't pregnant|is not pregnant|postmenopausal)\b", re.I)
_PREGNANT = re.compile(
    r"\b(pregnan\w*|antenatal|gestation\w*|trimester|primigravida|multigravida|G\dP\d|"
    r"\d{1,2}\s*(?:\+\d\s*)?weeks?'?\s*(?:pregnant|gestation))\b",
    re.I,
)
_GESTATION_WEEKS = re.compile(
    r"\b(\d{1,2})\s*(?:\+\d\s*)?weeks?'?\s*(?:pregnant|gestation|of pregnancy)\b|"
    r"\b(?:at|by)\s+(\d{1,2})\s*weeks\b",
    re.I,
)
_TRIMESTER = re.compile(r"\b(first|second|third|1st|2nd|3rd)\s+trimester\b", re.I)
_POSTPARTUM = re.compile(r"\b(postpartum|post-partum|postnatal|after (?:giving )?birth|after delivery)\b", re.I)
_BREASTFEEDING = re.compile(r"\b(breast-?feeding|lactating|nursing mother)\b", re.I)
# "eGFR 35", "eGFR of 35", "eGFR now 27", "eGFR has fallen to 27", "creatinine clearance 85 mL/min".
_EGFR = re.compile(
    r"\b(?:e?GFR|CrCl|creatinine clearance)\s*(?:(?:of|is|was|now|today|has|had|fallen|dropped|down|to|=|:|~|<|>)\s*)"
    r"{0,3}(\d{1,3})(?!\d|\.\d)",
    re.I,
)
_WEIGHT = re.compile(r"\b(\d{1,3}(?:\.\d)?)\s*kg\b(?!\s*/)", re.I)

# Conditions that change what applies to a patient, named as clinicians write them. Each is a key that sentence
# applicability (bedside.answer.applicability) also uses.
CONDITIONS: dict[str, re.Pattern[str]] = {
    "heart failure": re.compile(
        r"\b(heart failure|HFrEF|HFmrEF|HFpEF|LVEF\s*\d|ejection fraction|cardiac failure|"
        r"LV (?:systolic )?dysfunction)\b",
        re.I,
    ),
    "renal impairment": re.compile(
        r"\b(CKD|chronic kidney disease|renal (?:impairment|failure|insufficiency)|"
        r"dialysis|haemodialysis|hemodialysis)\b",
        re.I,
    ),
    "hepatic impairment": re.compile(r"\b(cirrho\w*|hepatic impairment|liver (?:disease|failure|impairment))\b", re.I),
    "diabetes": re.compile(r"\b(diabet\w*|T[12]DM?|type [12] diabetes)\b", re.I),
    "neurological involvement": re.compile(
        r"\b(neurolog\w+ (?:involvement|symptoms?|signs?|features?)|"
        r"paraesthes\w*|paresthes\w*|neuropath\w*|unsteady gait|ataxi\w*|"
        r"subacute combined degeneration|tingling|numbness)\b",
        re.I,
    ),
    "black african or caribbean family origin": re.compile(
        r"\b(Black African|African-Caribbean|African Caribbean|"
        r"Black Caribbean|of African (?:family )?origin)\b",
        re.I,
    ),
    "cardiovascular disease": re.compile(
        r"\b(ischaemic heart disease|ischemic heart disease|IHD|coronary|angina|"
        r"myocardial infarction|MI|previous stroke|ASCVD|cardiovascular disease|"
        r"CVD)\b",
        re.I,
    ),
}
_NO_CONDITION = re.compile(r"\b(?:no|without|not known to have|no history of|no known)\s+(?:\w+\s+){0,2}$", re.I)


@dataclass(frozen=True, slots=True)
class Patient:
    """What a question says about its patient; None where it says nothing."""

    age: float | None = None  # years (months as a fraction)
    sex: str | None = None  # "female" | "male"
    pregnant: bool | None = None
    gestation_weeks: int | None = None
    postpartum: bool = False
    breastfeeding: bool = False
    egfr: float | None = None
    weight_kg: float | None = None
    conditions: frozenset[str] = field(default_factory=frozenset)
    absent: frozenset[str] = field(default_factory=frozenset)  # conditions the question rules out ("no HF")

    @property
    def age_group(self) -> str | None:
        """neonate (< 28 days), infant (< 1), child (< 12), adolescent (12-17), adult (18-64), older adult (65+)."""
        if self.age is None:
            return None
        if self.age < 28 / 365:
            return "neonate"
        if self.age < 1:
            return "infant"
        if self.age < 12:
            return "child"
        if self.age < 18:
            return "adolescent"
        return "adult" if self.age < 65 else "older adult"

    @property
    def described(self) -> bool:
        """Whether the question says anything about its patient."""
        return self != Patient()

    def has(self, condition: str) -> bool | None:
        """True, False (ruled out, or impossible: a man is never pregnant) or None (not said)."""
        if condition == "pregnancy":
            return self.pregnant
        if condition == "renal impairment" and self.egfr is not None:
            return self.egfr < 60 or condition in self.conditions
        if condition in self.conditions:
            return True
        return False if condition in self.absent else None


def _age(text: str) -> float | None:
    m = _AGE_MONTHS.search(text)
    if m:
        return int(m.group(1)) / 12 if m.group(1) else int(m.group(2)) / 52
    for m in _AGE_YEARS.finditer(text):
        value = next(g for g in m.groups() if g)
        years = int(value)
        if 0 < years < 120:
            return float(years)
    return None


def _sex(text: str) -> str | None:
    m = _SEX_AGE.search(text)
    if m:
        return "female" if m.group(1).upper() == "F" else "male"
    female, male = bool(_FEMALE.search(text)), bool(_MALE.search(text))
    if female != male:
        return "female" if female else "male"
    return None


def _conditions(text: str) -> tuple[frozenset[str], frozenset[str]]:
    present: set[str] = set()
    absent: set[str] = set()
    for name, pattern in CONDITIONS.items():
        for m in pattern.finditer(text):
            (absent if _NO_CONDITION.search(text[max(0, m.start() - 40) : m.start()]) else present).add(name)
    return frozenset(present), frozenset(absent - present)


def patient_of(text: str) -> Patient:
    """The patient the text describes."""
    age, sex = _age(text), _sex(text)
    if _NOT_PREGNANT.search(text):
        pregnant: bool | None = False
    elif _PREGNANT.search(text):
        pregnant = True
    else:
        pregnant = False if sex == "male" or (age is not None and (age < 10 or age > 60)) else None
    if pregnant:
        sex = "female"
    weeks = None
    if pregnant:
        m = _GESTATION_WEEKS.search(text)
        weeks = int(next(g for g in m.groups() if g)) if m else None
        t = _TRIMESTER.search(text)
        if weeks is None and t:
            weeks = {"first": 8, "1st": 8, "second": 20, "2nd": 20, "third": 32, "3rd": 32}[t.group(1).lower()]
    egfr = _EGFR.search(text)
    weight = _WEIGHT.search(text)
    conditions, absent = _conditions(text)
    return Patient(
        age=age,
        sex=sex,
        pregnant=pregnant,
        gestation_weeks=weeks,
        postpartum=bool(_POSTPARTUM.search(text)),
        breastfeeding=bool(_BREASTFEEDING.search(text)),
        egfr=float(egfr.group(1)) if egfr else None,
        weight_kg=float(weight.group(1)) if weight else None,
        conditions=conditions,
        absent=absent,
    )
