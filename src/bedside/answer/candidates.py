"""Candidate evidence sentences: each source sentence with its span, heading, category and features."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from bedside.answer.evidence import EvidencePassage
from bedside.answer.injection import addresses_model
from bedside.text.analysis import analyze, raw_tokens
from bedside.text.quantities import has_measure
from bedside.text.sentences import append_trimmed, split_spans
from bedside.text.vocabulary import load_vocabulary

_BULLET = re.compile(r"^(?:[-*•▪◦‣]|\d{1,2}[.)])\s+")
# Punctuation left at the start when markup split a label from its text ("<b>CONCLUSIONS</b>: In this study").
_ORPHAN = re.compile(r"^[:;,]\s*(?=\S)")
# Structured-abstract labels ("CONCLUSIONS:", "Relevance:") name a part of the source, not a finding.
_LABEL = re.compile(
    r"^(?:(?:BACKGROUND|INTRODUCTION|OBJECTIVES?|AIMS?|PURPOSE|METHODS?|RESULTS?|FINDINGS|CONCLUSIONS?|"
    r"INTERPRETATION|SIGNIFICANCE|UNLABELLED|CONTEXT|IMPORTANCE)(?:\s+AND\s+[A-Z]+)?\s*[:.]?|"
    r"(?:Background|Objectives?|Aims?|Purpose|Methods?|Results?|Findings|Conclusions?(?: and [Rr]elevance)?|"
    r"Relevance|Interpretation|Significance)\s*:)\s+(?=\S)"
)
_CONNECTIVE = re.compile(
    r"^(?:however|moreover|furthermore|in addition|additionally|also|therefore|thus|overall|finally),\s+", re.I
)
_META = re.compile(
    r"^this (digest|document|summary|page|article|review|guideline)\b.*\b(summari[sz]es|covers|describes)\b", re.I
)
# A signpost says which guideline covers what ("the BSG 2021 guideline applies", "NICE NG209 covers ..."): a pointer
# to a source, not a clinical statement.
SIGNPOST = re.compile(
    r"\b(?:guideline|guidance|update|report|consensus|standards|statement|NG\d+|CG\d+)\s+(?:[\w/-]+\s+){0,6}?"
    r"(?:also\s+)?(?:covers|addresses|applies(?!\s+to\b)|discusses|deals with|sets out)\b",
    re.I,
)
# A period run into the next sentence's capital ("motors.Omecamtiv"), or a markup tag left in the source.
_JOIN = re.compile(r"(?<=[a-z][a-z)][.!?])(?=[A-Z])|<[A-Za-z/][^<>\n]{0,200}>")
_HYPHENATED = re.compile(r"\b[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+\b")
# A sentence that opens with a pronoun leans on the one before it and cannot stand alone as a bullet.
_ANAPHORIC = re.compile(r"^(it|this|these|they|those|such|he|she|its|their)\b", re.I)
# Category cues, checked in order: the first that fires decides.
CATEGORY_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "warning",
        re.compile(
            r"\b(do not|don't|never|avoid|contraindicated|must not|should not|not be (used|given)|"
            r"is not recommended|are not recommended|caution|unsafe|dangerous|fatal|"
            r"life-threatening)\b",
            re.I,
        ),
    ),
    (
        "pitfall",
        re.compile(
            r"\b(falsely|misleading|mask(s|ed|ing)?\b|pitfall|may be normal|can be normal|unreliable|"
            r"interfer(e|es|ed|ing|ence)\b|overestimat|underestimat)\w*",
            re.I,
        ),
    ),  # not "interferon"
    # "refer", "referral", "referred to cardiology"; not the naming in "refers to", "(is also) referred to as".
    (
        "escalation",
        re.compile(
            r"\b(refer\b|referral|referred(?!\s+(?:to\s+)?as\b)|specialist|escalat|admit|admission|"
            r"if .{0,40}(fails|not tolerated|"
            r"ineffective|no response|inadequate))",
            re.I,
        ),
    ),
    (
        "monitoring",
        re.compile(
            r"\b(monitor\w*|recheck|re-check|follow-up|follow up|review(ed)? (at|after|every)|"
            r"every \d+|after \d+ (weeks?|months?)|repeat(ed)? (test|measure))",
            re.I,
        ),
    ),
    (
        "diagnosis",
        re.compile(
            r"\b(diagnos\w*|test(s|ing)?|threshold|cut-?off|below \d|above \d|confirm\w*|screen\w*|"
            r"investigat\w*|indicates?|defined as|serolog\w*|biopsy|measure\w*)\b",
            re.I,
        ),
    ),
    (
        "treatment",
        re.compile(
            r"\b(treat\w*|give|given|offer\w*|start\w*|prescrib\w*|replace\w*|replacement|therapy|"
            r"supplement\w*|administer\w*|regimen|first-line|recommend\w*|intramuscular\w*|"
            r"intravenous\w*|oral\w*|daily|injection)\b",
            re.I,
        ),
    ),
)

_HEADING_CATEGORY = (
    ("warning", re.compile(r"warning|contraindicat|safety|red flag|caution", re.I)),
    (
        "population",
        re.compile(r"special population|pregnan|child|paediatric|pediatric|older|elderly|renal|hepatic", re.I),
    ),
    ("pitfall", re.compile(r"pitfall", re.I)),
    ("monitoring", re.compile(r"monitor|follow", re.I)),
    ("escalation", re.compile(r"referr|escalat", re.I)),
    ("diagnosis", re.compile(r"diagnos|investigat|definition|threshold|assessment|test", re.I)),
    ("treatment", re.compile(r"treat|management|dosing|dose|regimen|therap|prevent", re.I)),
)
POPULATION = re.compile(
    r"\b(pregnan\w*|antenatal|trimester|postpartum|gestation\w*|labou?r|obstetric\w*|breast-?feeding|lactat\w*|"
    r"child(?!-?bearing)\w*|paediatric|pediatric|"
    r"infant\w*|older adults|elderly|aged 65|renal impairment|dialysis|hepatic impairment)\b",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One source sentence that might become a statement."""

    passage: EvidencePassage
    rank: int  # the passage's rank in retrieval
    a: int  # span inside passage.text
    b: int
    text: str  # as shown: bullet markers and a leading connective removed
    heading: str
    terms: frozenset[str]
    category: str
    quantitative: bool
    population: bool


def _is_heading(text: str) -> bool:
    return len(text.split()) <= 10 and not text.rstrip().endswith((".", "!", "?", ":", ";"))


def _tidy(text: str) -> tuple[str, int]:
    """Drop a bullet marker, a structured-abstract label and a leading connective; return the shown text and how
    many characters were cut."""
    cut = 0
    for pattern in (_ORPHAN, _BULLET, _LABEL):
        m = pattern.match(text[cut:])
        if m:
            cut += m.end()
    rest = text[cut:]
    m = _CONNECTIVE.match(rest)
    if m:
        rest = rest[m.end() :]
        rest = rest[:1].upper() + rest[1:]
        cut += m.end()
    return rest, cut


def categorise(text: str, heading: str) -> str:
    """The answer section a sentence fits best, from its words first and its source heading second."""
    for name, pattern in CATEGORY_CUES[:1]:
        if pattern.search(text):
            return name
    for name, pattern in _HEADING_CATEGORY:
        if pattern.search(heading) and (name != "population" or POPULATION.search(text)):
            return name
    for name, pattern in CATEGORY_CUES[1:]:
        if pattern.search(text):
            return name
    return "key"


def expanded_terms(text: str) -> frozenset[str]:
    """Terms of the expansions of abbreviations written in the text ("CAP" adds community, acquired, ...)."""
    return frozenset(t for terms in expansions_in(text) for t in terms)


def expansions_in(text: str) -> list[list[str]]:
    """The analysed terms of each abbreviation's expansion in the text (unambiguous abbreviations only)."""
    vocab = load_vocabulary()
    out: list[list[str]] = []
    for token in raw_tokens(text):
        if len(token) >= 2 and (token.isupper() or any(c.isupper() for c in token[1:])):
            expansions = vocab.abbreviations.get(token, ())
            if len(expansions) == 1:  # ambiguous abbreviations add nothing
                out.append(analyze(expansions[0]))
    return out


def spans_of(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a passage, also cut where a period runs into the next sentence ("motors.Omecamtiv") and
    around markup tags left in the source ("<AbstractText ...>"), which are never part of a statement."""
    out: list[tuple[int, int]] = []
    for a, b in split_spans(text):
        pos = a
        for m in _JOIN.finditer(text, a, b):
            append_trimmed(text, pos, m.start(), out)
            pos = m.end()
        append_trimmed(text, pos, b, out)
    return out


@lru_cache(maxsize=65536)
def terms_of(text: str) -> frozenset[str]:
    """Analysed terms, with hyphenated names also joined ("CPX-351" matches "CPX351") and abbreviations expanded."""
    joined = " ".join(m.group().replace("-", "") for m in _HYPHENATED.finditer(text))
    return frozenset(analyze(text)) | frozenset(analyze(joined)) | expanded_terms(text)


def candidates(passages: list[EvidencePassage]) -> list[Candidate]:
    """Every usable sentence of the passages, in retrieval order; none from a passage that instructs a model."""
    out: list[Candidate] = []
    for rank, p in enumerate(passages):
        if addresses_model(f"{p.title}\n{p.text}"):
            continue  # instructions to a model are never quoted, nor the sentences planted around them
        heading = p.section.rsplit(" > ", 1)[-1]
        spans = spans_of(p.text)
        alone = len(spans) == 1  # a one-line passage is a statement fragment, not a heading over nothing
        for a, b in spans:
            raw = p.text[a:b]
            if _is_heading(raw) and not alone:
                heading = _BULLET.sub("", raw)
                continue
            text, cut = _tidy(raw)
            if (
                len(text.split()) < (3 if alone else 5)
                or _META.match(text)
                or _ANAPHORIC.match(text)
                or SIGNPOST.search(text)
            ):
                continue
            category = categorise(text, heading)
            population = bool(POPULATION.search(text)) or category == "population"
            out.append(
                Candidate(
                    passage=p,
                    rank=rank,
                    a=a + cut,
                    b=b,
                    text=text,
                    heading=heading,
                    terms=terms_of(text),
                    category=category,
                    quantitative=has_measure(text),
                    population=population,
                )
            )
    return out


def continued(c: Candidate, max_words: int = 70) -> Candidate:
    """The candidate extended over the next sentence of its passage when that sentence leans on it ("They ...",
    "These ...", "It ...") and so cannot stand alone: kept together, the two are the source's own contiguous words
    and read as the source wrote them. Unchanged when there is no such follower or the two would run too long."""
    text = c.passage.text
    follower = next(((a, b) for a, b in spans_of(text) if a >= c.b), None)
    if follower is None or text[c.b : follower[0]].strip():
        return c  # nothing follows, or something other than whitespace lies between (a tag, a cut)
    shown, _ = _tidy(text[follower[0] : follower[1]])
    if not _ANAPHORIC.match(shown) or _is_heading(shown) or _META.match(shown):
        return c
    joined = f"{c.text}{text[c.b : follower[1]]}"
    if len(joined.split()) > max_words:
        return c
    return replace(c, b=follower[1], text=joined, terms=c.terms | terms_of(shown))
