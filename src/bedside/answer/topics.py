"""What a document is about, and whether it is about the clinical problem a question asks after.

A document's subject is read from its own metadata, so it grows with the knowledge base: the title, split where it
narrows ("... in adults", "... in heart failure"), and its leading topics, the names and abbreviations of that
subject that digests list first and MEDLINE gives as MeSH headings and keywords. A question is about a document's
subject when it names one of those subject phrases (abbreviations expanded); rarer phrases, and phrases named in the
question's ask rather than its vignette, count more. The narrowing clause becomes the document's default
applicability (a population) or a condition the question must name for the document to be about it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from bedside.answer.applicability import Applicability, applicability
from bedside.answer.candidates import terms_of
from bedside.model import Document
from bedside.text.analysis import analyze
from bedside.text.vocabulary import load_vocabulary

# Title words that say what the document does with its subject, not what the subject is.
_TASK_WORDS = frozenset(
    analyze(
        "management treatment treating diagnosis testing investigation prevention prescribing guideline guidelines "
        "early acute emergency update focused recommendations practice clinical care assessment and of the for with "
        "its their standards statement review overview approach definition define cutoffs cutoff thresholds"
    )
)
# Words that say what kind of condition a name is ("Crohn's disease"): "Crohn's" alone names it.
_KIND_WORDS = frozenset(analyze("disease diseases disorder disorders syndrome condition"))
_POPULATION_WORDS = frozenset(
    analyze("people person patients adults adult children child women men those aged over under older s")
)
# A clause that narrows a title: "in adults", "in people aged 16 and over", "in pregnancy", "in heart failure".
_NARROWING = re.compile(r"\s+(?:in|for|among|after)\s+(.+)$", re.I)
_PARENTHESES = re.compile(r"\(([^)]*)\)")
# Check tags and very broad MeSH headings say whom a study was on, not what it was about.
_BROAD = frozenset(
    t.lower()
    for t in (
        "Humans",
        "Animals",
        "Male",
        "Female",
        "Adult",
        "Aged",
        "Aged, 80 and over",
        "Middle Aged",
        "Young Adult",
        "Child",
        "Child, Preschool",
        "Infant",
        "Infant, Newborn",
        "Adolescent",
        "Pregnancy",
        "Risk Factors",
        "Treatment Outcome",
        "Retrospective Studies",
        "Prospective Studies",
        "Cohort Studies",
        "Time Factors",
    )
)
LONG_TITLE = 4  # content words past which a title chunk is also read as its runs of two and three words
LEADING_TOPICS = 6  # a digest lists its subject's names and kinds first; MEDLINE its main headings
ASSOCIATED = 0.5  # credit for naming what a document discusses (a drug, a test) rather than its subject
PARTIAL = 0.6  # credit for a subject phrase the question names in part ("the withdrawal" for "alcohol withdrawal")
ASK_FACTOR = 2.0  # a subject the question asks about outweighs one its vignette mentions ("admitted with cellulitis")
BACKGROUND = 0.4  # a comorbidity or current drug ("with COPD and type 2 diabetes", "on warfarin") is not the problem


@dataclass(frozen=True, slots=True)
class Phrase:
    """One name of a document's subject: its analysed terms as written, those with abbreviations expanded, and
    whether it names the subject itself (the title, or a topic sharing the title's words) or something the
    document discusses (a drug, a test, a score)."""

    surface: frozenset[str]
    expanded: frozenset[str]
    core: bool


@dataclass(frozen=True, slots=True)
class Subject:
    """A document's subject: its phrases, the population its title names, and the condition its title narrows it
    to ("Iron deficiency in inflammatory bowel disease": the IBD terms)."""

    phrases: tuple[Phrase, ...]
    population: Applicability
    context: frozenset[str] = frozenset()
    # The leading topics that name what the title narrows to, not its subject ("Roux-en-Y gastric bypass" for
    # "Micronutrients after bariatric surgery"): naming one puts a question in the document's context.
    context_names: tuple[frozenset[str], ...] = ()


def _split_title(title: str) -> tuple[list[str], str]:
    """Subject phrases of a title, and the clause that narrows it ("" if none)."""
    inner = _PARENTHESES.findall(title)
    bare = _PARENTHESES.sub(" ", title)
    narrowing = ""
    m = _NARROWING.search(bare)
    if m:
        narrowing, bare = m.group(0), bare[: m.start()]
    parts = [p for chunk in [bare, *inner] for p in re.split(r"\s*(?:[,;:/]| - | – | and | or )\s*", chunk)]
    return [p.strip() for p in parts if p.strip()], narrowing


def _phrase(text: str, core: bool) -> Phrase | None:
    # Single letters and digits stay: they tell hepatitis B from C, vitamin D from B12, type 1 from type 2.
    surface = frozenset(analyze(text)) - _TASK_WORDS
    expanded = terms_of(text) - _TASK_WORDS
    return Phrase(surface, expanded, core) if surface else None


@lru_cache(maxsize=8192)
def _subject(title: str, guideline: str, topics: tuple[str, ...], medline: bool = False) -> Subject:
    names, narrowing = _split_title(title)
    title_terms = frozenset(t for p in names for t in terms_of(p)) - _TASK_WORDS
    phrases = [_phrase(p, True) for p in names]
    for name in names:  # a long title (an article's) names its subject in a few of its words: its short runs count
        words = [w for w in analyze(name) if len(w) > 1 and w not in _TASK_WORDS]
        if len(words) > LONG_TITLE:
            runs = {" ".join(words[i : i + n]) for n in (2, 3) for i in range(len(words) - n + 1)}
            phrases += [_phrase(run, True) for run in sorted(runs)]
    for topic in (t for t in topics if t.lower() not in _BROAD):
        phrases.append(_phrase(topic, bool(terms_of(topic) & title_terms)))
    population = applicability(narrowing) if narrowing else Applicability()
    if population.general and guideline:
        population = applicability(guideline)
    if population.general and medline:  # MeSH check tags; a digest's topic "pregnancy" is a special population
        population = check_tag_population(topics)
    # A narrowing clause that names no population the patient model knows is a condition the question must name.
    context = (terms_of(narrowing) - _TASK_WORDS - _POPULATION_WORDS) if narrowing and population.general else set()
    kept = tuple(dict.fromkeys(p for p in phrases if p is not None))
    leading = [
        frozenset(w for w in analyze(t) if len(w) > 1) - _TASK_WORDS - _KIND_WORDS
        for t in topics
        if t.lower() not in _BROAD
    ][:LEADING_TOPICS]
    names_of_context = tuple(t for t in leading if t and not t & title_terms) if context else ()
    return Subject(kept, population, frozenset(context), names_of_context)


_CHILD_TAGS = frozenset(("infant", "infant, newborn", "child", "child, preschool", "adolescent"))
_ADULT_TAGS = frozenset(("adult", "young adult", "middle aged", "aged", "aged, 80 and over"))
_OLDER_TAGS = frozenset(("aged", "aged, 80 and over"))


def check_tag_population(topics: Iterable[str]) -> Applicability:
    """Whom a MEDLINE record's study was on, from its MeSH check tags: children only, older adults only, adults
    only, or pregnancy. Nothing when the tags are absent (digests, JATS) or mixed."""
    tags = {t.lower() for t in topics}
    requires = frozenset({"pregnancy"}) if "pregnancy" in tags else frozenset()
    child, adult = bool(tags & _CHILD_TAGS), bool(tags & _ADULT_TAGS)
    if child and not adult:
        return Applicability(age_max=18.0, requires=requires)
    if adult and not child:
        older = tags & _ADULT_TAGS <= _OLDER_TAGS
        return Applicability(age_min=65.0 if older else 18.0, requires=requires)
    return Applicability(requires=requires)


def subject_of(doc: Document) -> Subject:
    """The document's subject (cached per title and topics)."""
    return _subject(doc.title, doc.guideline, doc.topics, doc.format == "medline")


@dataclass(frozen=True, slots=True)
class Aboutness:
    """How much a question is about a document's subject, and which subject phrases it names in full."""

    score: float
    matched: tuple[frozenset[str], ...]  # the expanded terms of each phrase named in full
    in_context: bool = True  # the question names the condition the document is narrowed to (or there is none)
    asked: bool = False  # the question's ask (not only its vignette) names the subject itself in full


def aboutness(
    question_terms: frozenset[str],
    subject: Subject,
    weight: dict[str, float],
    ask_terms: frozenset[str] = frozenset(),
    background: frozenset[str] = frozenset(),
    shares: Mapping[str, float] | None = None,
) -> Aboutness:
    """Sum over the subject phrases the question names of their terms' weights. A phrase counts whole when the
    question has all its terms (as written, or its abbreviation's expansion), at PARTIAL when it has the phrase's
    weightiest term and half its terms; a term counts once, at its best credit; a phrase that is not a name of the
    subject itself counts ASSOCIATED; terms in the question's ask count ASK_FACTOR times, terms only in its
    `background` (comorbidities, current drugs) BACKGROUND times; a term the question has only through an
    abbreviation's expansion counts its `shares` of that concept."""
    credit: dict[str, float] = {}
    matched: list[frozenset[str]] = []
    partial_core = named_in_ask = False
    for p in subject.phrases:
        hit = p.surface & question_terms
        expansion = p.expanded - p.surface
        if hit == p.surface or (expansion and expansion <= question_terms):
            factor, hit = 1.0, p.surface
            matched.append(p.expanded)
            named_in_ask = named_in_ask or (
                p.core and (p.surface <= ask_terms or bool(expansion and expansion <= ask_terms))
            )
        elif (
            len(p.surface) > 1
            and 2 * len(hit) >= len(p.surface)
            and _outweighs(hit, p.surface - hit, weight)
            and not any(len(t) == 1 for t in p.surface - hit)  # "hepatitis C" is not named by "hepatitis B virus"
        ):
            factor = PARTIAL
            partial_core = partial_core or p.core
        else:
            continue
        factor *= 1.0 if p.core else ASSOCIATED
        for t in hit:
            asked = ASK_FACTOR if t in ask_terms or p.expanded & ask_terms else BACKGROUND if t in background else 1.0
            share = shares.get(t, 1.0) if shares else 1.0
            credit[t] = max(credit.get(t, 0.0), factor * weight.get(t, 1.0) * asked * share)
    in_context = (
        not subject.context
        or 2 * len(subject.context & question_terms) >= len(subject.context)
        or any(p <= question_terms for p in subject.context_names)
    )  # "Crohn's" names the IBD a document is narrowed to through its topic "Crohn's disease"
    # Only a whole name, or part of a name of the subject itself, makes a question about a document: a word shared
    # with something it discusses ("replace" in "potassium replacement") is not enough on its own.
    score = sum(credit.values()) if matched or partial_core else 0.0
    return Aboutness(score, tuple(matched), in_context, named_in_ask and bool(score))


def _names(phrase: frozenset[str], question_terms: frozenset[str], weight: dict[str, float]) -> bool:
    hit = phrase & question_terms
    return hit == phrase or (bool(hit) and _outweighs(hit, phrase - hit, weight))


def _outweighs(hit: frozenset[str], missing: frozenset[str], weight: dict[str, float]) -> bool:
    """Whether the named terms include one at least as weighty as every term left out (a distinctive word)."""
    return max(weight.get(t, 1.0) for t in hit) >= max(weight.get(t, 1.0) for t in missing)


def term_weights(subjects: Iterable[Subject]) -> dict[str, float]:
    """Inverse document frequency of each subject term over the given documents' subjects: "anaemia" in many
    subjects weighs less than "ketoacidosis" in one."""
    subjects = list(subjects)
    df: dict[str, int] = {}
    for s in subjects:
        for t in {t for p in s.phrases for t in p.surface}:
            df[t] = df.get(t, 0) + 1
    n = max(len(subjects), 1)
    return {t: math.log(1 + n / d) for t, d in df.items()}


@lru_cache(maxsize=1)
def vocabulary_terms() -> frozenset[str]:
    """The analysed terms of the curated vocabulary's concepts (abbreviation expansions and synonym groups): words
    that name a condition, drug or test ("gestational" through GDM), whether or not a document's subject does."""
    vocab = load_vocabulary()
    phrases = [e for expansions in vocab.abbreviations.values() for e in expansions]
    phrases += [t for group in vocab.synonym_groups for t in group]
    return frozenset(t for p in phrases for t in analyze(p))


def named_terms(
    terms: frozenset[str], docs: Iterable[Document], subjects: Callable[[frozenset[str]], frozenset[str]] | None = None
) -> frozenset[str]:
    """The terms that name something clinical: a concept of the vocabulary, or a word some document's title, topics
    or section headings use (`subjects`, the knowledge base's; without it, the subjects of `docs`)."""
    if subjects is not None:
        known = subjects(terms)
    else:
        known = frozenset(t for d in docs for p in subject_of(d).phrases for t in p.expanded)
    return terms & (vocabulary_terms() | known)
