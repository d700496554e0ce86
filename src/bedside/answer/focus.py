"""Topic focus: which of the retrieved documents are about the question's clinical problem and fit its patient.

An answer draws on the documents whose subject the question names (bedside.answer.topics); another document may
contribute only sentences that name that subject themselves. A document whose title restricts it to a population
the patient is not in ("... in adults" for a 9-year-old) is not about this question, however well its words match.
When no retrieved document is about the question, the knowledge base does not cover it: the composer abstains.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bedside.answer.applicability import Applicability, Fit, fit
from bedside.answer.candidates import expanded_terms, terms_of
from bedside.answer.parts import Part
from bedside.answer.patient import Patient
from bedside.answer.topics import Aboutness, Subject, aboutness, subject_of, term_weights
from bedside.model import Document
from bedside.text.analysis import raw_tokens
from bedside.text.sentences import split

# A document is in focus when its aboutness reaches this share of the best document's (two conditions asked about
# together, "iron and B12 deficiency", keep both of their documents) ...
RELATIVE = 0.5
# ... and at least this much on its own: the weight of one subject term that not every retrieved document shares.
MINIMUM = 0.75
NAMED_LENGTH = 8  # a lower-case word this long is taken to name a thing ("dexamethasone"), not to ask ("anything")
# The lead document by retrieval and subject together: its retrieval support (relative to the best document's) plus
# this share of its aboutness (relative to the best). A vignette often names its problem only through findings and
# drugs ("glucose 52, osmolality 380", "on denosumab ... stop?") while naming comorbidities outright; the passages
# retrieval ranks first know better which document answers it (clinical_qa dev: lead document right in 60 of 64
# covered questions of dev and extra together, against 55 by aboutness alone).
LEAD_ABOUTNESS = 0.4


@dataclass(frozen=True, slots=True)
class Focus:
    """The documents an answer may lead from, best first, and what the question names of their subjects."""

    documents: tuple[str, ...]
    problem: tuple[frozenset[str], ...]  # the subject phrases the question names (analysed terms)
    populations: Mapping[str, Applicability] = field(default_factory=dict)  # each document's title population
    related: tuple[str, ...] = ()  # about the problem too, less than those in focus: may add sentences naming it

    @property
    def covered(self) -> bool:
        """Whether any document is about the question (else the answer abstains)."""
        return bool(self.documents)

    def names_problem(self, terms: frozenset[str]) -> bool:
        """Whether a sentence's terms name the problem itself (one whole subject phrase)."""
        return any(p <= terms for p in self.problem)


def _document_terms(d: Document) -> frozenset[str]:
    """Every analysed term of a document: title, topics and text (cached per document version)."""
    return _text_terms(d.id, d.content_hash, f"{d.title} {' '.join(d.topics)} {d.text}")


@lru_cache(maxsize=4096)
def _text_terms(doc_id: str, content_hash: str, text: str) -> frozenset[str]:
    return terms_of(text)


def unknown_parts(
    parts: Sequence[Part], docs: Mapping[str, Document], known: Callable[[frozenset[str]], frozenset[str]] | None = None
) -> tuple[Part, ...]:
    """The parts of the question none of whose own terms the knowledge base has (`known`, its vocabulary; without
    it, the retrieved documents'): the question asks about something bedside has never read of ("Suspected HIT",
    "Dexamethasone dose" for croup)."""
    expanded = {p: p.terms | expanded_terms(p.text) for p in parts}
    asked = frozenset(t for terms in expanded.values() for t in terms)
    if known is not None:
        have = known(asked)
    else:
        have = frozenset().union(*(_document_terms(d) for d in docs.values()))
    return tuple(p for p, terms in expanded.items() if terms and not terms & have and (_named(p.text) & terms) - have)


def _named(text: str) -> frozenset[str]:
    """Terms of the words that name something (an abbreviation in capitals, a long word such as a drug) rather than
    talk about it: only those make a part of a question unknown when the knowledge base lacks them."""
    out: set[str] = set()
    for token in raw_tokens(text):
        if (token.isupper() and len(token) >= 2) or len(token) >= NAMED_LENGTH:
            out |= terms_of(token)
    return frozenset(out)


DISCUSSED = 2  # sentences that must name a disease for the documents in focus to discuss it, not just mention it


def _mentioned(terms: frozenset[str], docs: Sequence[Document]) -> frozenset[str]:
    """The terms the documents discuss: in a subject, or in at least DISCUSSED of their sentences ("refer if
    pyelonephritis is suspected", said once, does not make a cystitis guideline about pyelonephritis)."""
    if not terms:
        return frozenset()
    seen: set[str] = set()
    sentences = dict.fromkeys(terms, 0)
    for d in docs:
        seen |= terms & _subject_terms(subject_of(d))
        counts = _sentence_counts(d.id, d.content_hash, d.text)
        for t in terms:
            sentences[t] += counts.get(t, 0)
    return frozenset(seen | {t for t, n in sentences.items() if n >= DISCUSSED})


@lru_cache(maxsize=1024)
def _sentence_counts(doc_id: str, content_hash: str, text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sentence in split(text):
        for t in terms_of(sentence):
            counts[t] = counts.get(t, 0) + 1
    return counts


def focus_of(
    question_terms: frozenset[str],
    docs: Mapping[str, Document],
    patient: Patient,
    ask_terms: frozenset[str] = frozenset(),
    parts: Sequence[Part] = (),
    known: Callable[[frozenset[str]], frozenset[str]] | None = None,
    problems: Sequence[frozenset[str]] = (),
    background: frozenset[str] = frozenset(),
    shares: Mapping[str, float] | None = None,
    conditions: frozenset[str] = frozenset(),
    support: Mapping[str, float] | None = None,
    opening: frozenset[str] = frozenset(),
) -> Focus:
    """Rank the documents by how much the question is about their subject; keep those about it that fit the patient.
    A document narrowed to a population or condition the question does not place the patient in (a pregnancy
    guideline for a question that does not mention pregnancy) joins only when no document without that narrowing is
    about the question. A question about several problems at once (`problems`: "iron and vitamin B12 deficiency")
    keeps the documents about each. Nothing is in focus when a part of the question names only what no document
    mentions, or when no document in focus discusses the disease the question opens on (`conditions`) or what it
    opens on naming (`opening`: "Lithium level 2.4 mmol/L ...", "Gestational diabetes at 30 weeks ...")."""
    unknown = unknown_parts(parts, docs, known)
    subjects: dict[str, Subject] = {d: subject_of(doc) for d, doc in docs.items()}
    weights = term_weights(subjects.values())
    about = {d: aboutness(question_terms, s, weights, ask_terms, background, shares) for d, s in subjects.items()}
    if background and max((a.score for a in about.values()), default=0.0) < MINIMUM:
        # Nothing but the background names a subject ("sertraline in a student with moderate depression"): then the
        # background is what the question is about.
        about = {d: aboutness(question_terms, s, weights, ask_terms, frozenset(), shares) for d, s in subjects.items()}
    kept: list[str] = []
    excluded: list[str] = []
    for terms in [question_terms, *problems]:
        scores = about if terms is question_terms else {d: aboutness(terms, s, weights) for d, s in subjects.items()}
        keep, drop = _choose(scores, subjects, patient)
        kept += [d for d in keep if d not in kept]
        excluded += [d for d in drop if d not in excluded]
    if kept and support and not any(about[d].asked for d in kept):
        # The documents in focus were named only in the vignette (a comorbidity, a drug, a shared word): the one
        # retrieval and subject together put first answers the question, unless it leaves out the disease the
        # question opens on.
        lead = _lead(about, support, subjects, patient)
        if lead is not None and lead not in kept and conditions <= _subject_terms(subjects[lead]):
            kept = [lead]
    named = conditions | opening
    unnamed = named - _mentioned(named, [docs[d] for d in kept])  # a problem no document in focus discusses
    if unnamed & opening:
        # What the question opens on naming ("Allopurinol starting dose in ... CKD", "Varenicline in pregnancy?") is
        # the subject of another retrieved document: that one is about the question.
        named_by = [d for d in sorted(about, key=lambda d: -about[d].score) if opening <= _subject_terms(subjects[d])]
        fitting = [d for d in named_by if fit(subjects[d].population, patient) is not Fit.CONFLICT]
        if fitting:
            kept = fitting[:1]
            unnamed = named - _mentioned(named, [docs[d] for d in kept])
    kept = [] if unknown or unnamed else kept
    problem = tuple(dict.fromkeys(p for d in kept for p in about[d].matched))
    # Below the focus but still about the problem, for this patient: their sentences that name it may join.
    related = tuple(
        d
        for d, a in sorted(about.items(), key=lambda kv: -kv[1].score)
        if kept
        and d not in kept
        and d not in excluded
        and a.score >= MINIMUM
        and a.in_context
        and fit(subjects[d].population, patient) is Fit.APPLIES
    )
    return Focus(tuple(kept), problem, {d: s.population for d, s in subjects.items()}, related)


def _subject_terms(subject: Subject) -> frozenset[str]:
    return frozenset(t for p in subject.phrases for t in p.expanded)


def _lead(
    about: Mapping[str, Aboutness], support: Mapping[str, float], subjects: Mapping[str, Subject], patient: Patient
) -> str | None:
    """The document retrieval and subject together put first, among those that fit the patient."""
    top_support = max(support.values(), default=0.0)
    top_about = max((a.score for a in about.values()), default=0.0) or 1.0
    if top_support <= 0.0:
        return None
    value = {
        d: support.get(d, 0.0) / top_support + LEAD_ABOUTNESS * a.score / top_about
        for d, a in about.items()
        if fit(subjects[d].population, patient) is not Fit.CONFLICT
    }
    return max(value, key=lambda d: value[d]) if value else None


def _choose(
    about: Mapping[str, Aboutness], subjects: Mapping[str, Subject], patient: Patient
) -> tuple[list[str], list[str]]:
    """The documents about this (best first) that fit the patient, and those about it that do not."""
    best = max((a.score for a in about.values()), default=0.0)
    ranked = sorted(
        (d for d, a in about.items() if a.score >= max(MINIMUM, RELATIVE * best)), key=lambda d: -about[d].score
    )
    fits = {d: fit(subjects[d].population, patient) for d in ranked}
    apply = [d for d in ranked if fits[d] is Fit.APPLIES and about[d].in_context]
    other = [d for d in ranked if fits[d] is Fit.OTHER or (fits[d] is Fit.APPLIES and not about[d].in_context)]
    kept = apply or other
    # A document narrowed to this patient's own population or condition ("... in pregnancy" for a pregnant woman)
    # says what applies to them; the general documents on the same subject then only repeat or contradict it.
    narrowed = [d for d in kept if subjects[d].population.requires or subjects[d].context]
    if narrowed and len(narrowed) < len(kept) and apply:
        kept = narrowed
    return kept, [d for d in ranked if d not in kept]
