"""Question analysis: what kind of answer is wanted, about what, for whom, and what to search for."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bedside.answer.parts import Part, parts_of
from bedside.answer.patient import Patient, patient_of
from bedside.model import QuestionType
from bedside.text.analysis import STOP_WORDS, analyze, raw_tokens
from bedside.text.vocabulary import load_vocabulary

# Ordered: the first pattern that matches decides. Yes/no is decided by the question's first word.
_TYPE_PATTERNS: tuple[tuple[QuestionType, re.Pattern[str]], ...] = (
    (
        QuestionType.COMPARISON,
        re.compile(r"\b(vs\.?|versus|compared (with|to)|better than|difference between|or)\b.*\?", re.I),
    ),
    (QuestionType.DOSING, re.compile(r"\b(dose|doses|dosing|dosage|how much|mg|mcg|units?/kg|regimen|titrat)", re.I)),
    (
        QuestionType.MONITORING,
        re.compile(r"\b(monitor|follow[- ]?up|how often|recheck|surveillance|check(ed)? (after|every))", re.I),
    ),
    (
        QuestionType.DIAGNOSIS,
        re.compile(
            r"\b(diagnos|test(s|ing)?\b|investigat|threshold|cut-?off|criteria|screen|work-?up|confirm|interpret)", re.I
        ),
    ),
    (
        QuestionType.TREATMENT,
        re.compile(
            r"\b(treat|therap|manag|first[- ]line|drug of choice|medication|prescri|replace|supplement|give)", re.I
        ),
    ),
    (QuestionType.PROGNOSIS, re.compile(r"\b(prognos|outcome|survival|mortality|recurren|life expectancy)", re.I)),
    (
        QuestionType.CAUSE,
        re.compile(r"\b(cause|causes|why|mechanism|aetiolog|etiolog|risk factors?|pathophysiolog)", re.I),
    ),
    (QuestionType.DEFINITION, re.compile(r"^\s*(what (is|are)|define|definition of|meaning of)\b", re.I)),
)
_YES_NO_START = re.compile(
    r"^\s*(is|are|does|do|can|should|could|will|would|has|have|was|were|did|may|must|shall)\b", re.I
)

QUALIFIERS: dict[str, re.Pattern[str]] = {
    "pregnancy": re.compile(
        r"\b(pregnan\w*|antenatal|gestation\w*|trimester|postpartum|breast-?feeding|lactat\w*)", re.I
    ),
    "children": re.compile(r"\b(child\w*|paediatric|pediatric|infant\w*|neonat\w*|adolescen\w*|teen\w*)", re.I),
    "older adults": re.compile(r"\b(elderly|older (adults?|people|patients)|aged (65|70|75|80))", re.I),
    "renal impairment": re.compile(
        r"\b(renal (impairment|failure|insufficiency)|ckd|chronic kidney|dialysis|egfr)", re.I
    ),
    "hepatic impairment": re.compile(r"\b(hepatic impairment|liver (disease|failure|impairment)|cirrho\w*)", re.I),
}

# Words that say what kind of answer is wanted, not what it is about.
_GENERIC = frozenset(
    analyze(
        "what which how when why who treatment treat therapy management manage first line recommended recommendation "
        "best option options approach dose dosing dosage regimen patient patients adult adults people person "
        "diagnosis diagnose test tests testing monitor monitoring follow up should used use give given take "
        "concurrent combined coexisting both also about guideline guidelines evidence effective safe threshold "
        "thresholds confirm often check level levels cut off cutoff cutoffs value values way ways role roles effect "
        "effects "
        "associated association function functions involved relationship related list known main common type types"
        " need needs now straight away still start stop much long often next do does did can could would yes no "
        "suspected suspect new known s els else either go going get getting well end add quick one ones anything "
        "something ok okay just please first today duration length antibiotic antibiotics anticoagulant anticoagulants "
        "antihypertensive antihypertensives drug drugs medication medications medicine medicines agent agents"
    )
)


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """The analysed question."""

    question: str
    type: QuestionType
    concepts: tuple[str, ...]  # analysed terms the answer must be about
    qualifiers: tuple[str, ...]  # pregnancy, children, older adults, renal/hepatic impairment
    search_query: str  # what retrieval runs (the question, or a follow-up resolved against the conversation)
    expansions: tuple[str, ...] = ()  # vocabulary expansions of abbreviations in the question
    subqueries: tuple[str, ...] = ()  # one per coordinated condition ("iron and B12 deficiency")
    patient: Patient = field(default_factory=Patient)  # who the question is about, as far as it says
    parts: tuple[Part, ...] = ()  # what it asks, one part per coordinated question
    lead: frozenset[str] = frozenset()  # what the question opens on naming ("Lithium level ...": lithium)


def question_type(question: str) -> QuestionType:
    """Classify the question; yes/no by its opening word, otherwise by cue words."""
    if _YES_NO_START.match(question) and not re.search(r"\b(how|what|which)\b", question, re.I):
        return QuestionType.YES_NO
    for qtype, pattern in _TYPE_PATTERNS:
        if pattern.search(question):
            return qtype
    return QuestionType.GENERAL


def concepts_of(text: str) -> tuple[str, ...]:
    """Analysed content terms of a question, without generic question words."""
    return tuple(dict.fromkeys(t for t in analyze(text) if t not in _GENERIC and not t.isdigit()))


def qualifiers_of(text: str) -> tuple[str, ...]:
    """Population qualifiers named in the text."""
    return tuple(name for name, pattern in QUALIFIERS.items() if pattern.search(text))


def expansions_of(text: str) -> tuple[str, ...]:
    """Expansions of abbreviations written in the text ("IDA" -> "iron deficiency anaemia")."""
    vocab = load_vocabulary()
    out: list[str] = []
    for token in raw_tokens(text):
        if token.lower() in STOP_WORDS:
            continue
        if any(c.isupper() for c in token[1:]) or token.isupper() or any(c.isdigit() for c in token):
            out.extend(vocab.expansions(token))
    return tuple(dict.fromkeys(out))


# A vignette that opens on a name states its problem there ("Lithium level 2.4 mmol/L in a 68-year-old ...",
# "Gestational diabetes at 30 weeks, ..."): the words before the first preposition, number or punctuation, after a
# speaker's label ("GP:", "Nursing home:").
_SPEAKER = re.compile(r"^\s*[A-Za-z][\w' ]{0,18}:\s+")
_LEAD_WORD = re.compile(r"[A-Za-z][\w'’+-]*")
LEAD_WORDS = 4
# Words that say how or in whom a problem presents, not which problem it is.
_QUALIFIER_WORDS = frozenset(
    analyze(
        "acute chronic new newly known suspected confirmed positive negative lower upper left right unilateral "
        "bilateral mild moderate severe recurrent early late first second primary secondary persistent possible "
        "probable one two three four five six man woman men women boy girl baby patient resident"
    )
)


def lead_of(question: str) -> str:
    """The words a question opens on before its first preposition, number or punctuation ("" when it opens on a
    question word, a preposition or a number: "On oxycodone ...", "72M, ...", "Why do ...")."""
    text = _SPEAKER.sub("", question, count=1)
    words: list[str] = []
    for m in re.finditer(r"\S+", text):
        token = m.group()
        word = _LEAD_WORD.fullmatch(token.rstrip(",.;:?!"))
        if word is None or word.group().lower() in STOP_WORDS or _YES_NO_START.match(word.group()):
            break
        words.append(word.group())
        if token != word.group() or len(words) >= LEAD_WORDS:
            break  # punctuation ends the phrase
    return " ".join(words)


def lead_terms(question: str) -> frozenset[str]:
    """The analysed terms of what a question opens on naming, without generic words, qualifiers ("acute",
    "positive") and abbreviation-length terms."""
    return frozenset(
        t
        for t in analyze(lead_of(question))
        if t not in _GENERIC and t not in _QUALIFIER_WORDS and len(t) > 2 and not t.isdigit()
    )


_FOLLOW_UP = re.compile(
    r"^\s*(and|what about|how about|what if|and if|in|for|during|with|but)\b|^\s*\w+(\s+\w+){0,3}\s*\?\s*$", re.I
)


def is_follow_up(question: str) -> bool:
    """True for elliptical follow-ups ("what about in pregnancy?") that need the earlier question's topic."""
    return bool(_FOLLOW_UP.match(question)) or len(concepts_of(question)) <= 1


_COORDINATED = re.compile(
    r"\b((?:[\w-]+\s+){0,2}?[\w-]+)\s+(?:and|&|plus|with)\s+((?:[\w-]+\s+){0,3}?)"
    r"(deficienc\w*|anaemia|anemia|disease|infection|failure|injury|disorders?)\b",
    re.I,
)
_INTENT = {
    QuestionType.TREATMENT: "treatment",
    QuestionType.DOSING: "dose",
    QuestionType.DIAGNOSIS: "diagnosis",
    QuestionType.MONITORING: "monitoring",
}
_LEAD_WORDS = frozenset(
    "concurrent combined coexisting coexistent both mixed simultaneous for of in with to the a an".split()
)


def subqueries(question: str, qtype: QuestionType) -> tuple[str, ...]:
    """One query per condition when a question coordinates two ("concurrent iron and vitamin B12 deficiency")."""
    m = _COORDINATED.search(question)
    if not m:
        return ()
    first = " ".join(w for w in m.group(1).split() if w.lower() not in _LEAD_WORDS)
    second, head = m.group(2).strip(), m.group(3)
    if not first or not second:
        return ()
    intent = _INTENT.get(qtype, "")
    return tuple(f"{intent} {x} {head}".strip() for x in (first, second))


def plan(question: str, previous: list[str] | None = None) -> QueryPlan:
    """Analyse a question; a follow-up is resolved against the conversation's earlier questions."""
    question = " ".join(question.split())
    search = question
    text_for_type = question
    if previous and is_follow_up(question):
        # "What about in pregnancy?" after "Treatment of IDA?" searches both, and keeps the earlier intent.
        # A chain of follow-ups ("…in pregnancy?", "and in children?") stays anchored on the topic question.
        anchor = next((q for q in reversed(previous) if not is_follow_up(q)), previous[-1])
        search = f"{anchor} {question}"
        if question_type(question) in (QuestionType.GENERAL, QuestionType.DEFINITION):
            text_for_type = anchor
    concepts = concepts_of(search)
    qtype = question_type(text_for_type)
    return QueryPlan(
        question=question,
        type=qtype,
        subqueries=subqueries(search, qtype),
        concepts=concepts,
        qualifiers=qualifiers_of(question) or (qualifiers_of(search) if previous else ()),
        search_query=search,
        expansions=expansions_of(search),
        patient=patient_of(search),
        parts=parts_of(question, _GENERIC),
        lead=lead_terms(question),
    )
