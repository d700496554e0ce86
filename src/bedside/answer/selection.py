"""Choosing the sentences an answer may use, and the bottom line: the one sentence that answers each part.

Candidates are filtered before they compete: a sentence about someone this patient is not (another age group,
pregnancy for a man, "without heart failure" for a patient with it) is dropped; a sentence about a population the
question does not place the patient in is kept only as a special-population statement; a sentence from a document
outside the topic focus must name the question's problem itself and apply to this patient.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache

from bedside.answer.applicability import Fit, applicability, fit
from bedside.answer.candidates import Candidate, categorise, expanded_terms, terms_of
from bedside.answer.focus import Focus
from bedside.answer.parts import Part, decision_fit, decision_of
from bedside.answer.question import QueryPlan
from bedside.text.analysis import analyze, raw_tokens
from bedside.text.quantities import Quantity, quantities
from bedside.text.vocabulary import load_vocabulary

# Weights of the bottom-line choice for one part (tuned on the clinical_qa dev split with bench/clinical.py).
W_PART = 1.0  # share of the part's own terms the sentence states
W_DECISION = 0.6  # how directly it gives the kind of answer asked (a dose for "what dose", a threshold, ...)
W_SCORE = 0.5  # its overall relevance score, relative to the best sentence's
W_PART_FALLBACK, W_SCORE_FALLBACK = 0.5, 1.5  # the same for a part ranked on the whole question's words
W_SPECIFIC = 0.15  # it names the patient's own population (pregnancy for a pregnant patient): more specific
W_HEADING = 0.3  # its source section is where that kind of answer lives ("Dosing" for a dose)
W_VALUE = 0.8  # its range or threshold holds the patient's own measurement ("180-350 ng/L" for "B12 230 ng/L")
MAX_BOTTOM = 3
DECIDES_SHARE = 0.6  # a sentence decides a yes/no part only if it names at least this share of the part's terms


def applicable(cands: list[Candidate], plan: QueryPlan, focus: Focus | None) -> tuple[list[Candidate], set[int]]:
    """The candidates this patient may be given, and the indexes (in the returned list) of those that name the
    patient's own population. A kept candidate's `population` flag means "about another population"."""
    out: list[Candidate] = []
    specific: set[int] = set()
    for c in cands:
        a = applicability(c.text).merged(applicability(c.heading))
        if focus is not None and (default := focus.populations.get(c.passage.document_id)) is not None:
            a = a.merged(default)
        f = fit(a, plan.patient)
        if f is Fit.CONFLICT:
            continue
        if focus is not None and c.passage.document_id not in focus.documents:
            related = c.passage.document_id in focus.related
            if not related or f is not Fit.APPLIES or not focus.names_problem(c.terms):
                continue  # another document's sentence must be about this problem, for this patient
        category = c.category
        if f is Fit.APPLIES and not a.general and plan.patient.described:
            specific.add(len(out))
            if category == "population":
                # Under "Pregnancy" for a pregnant patient: what the sentence says for her (a referral, a test, a
                # dose) is her regimen, not a special population's aside; its own words say which.
                category = categorise(c.text, "")
        out.append(replace(c, population=f is Fit.OTHER, category=category))
    return out, specific


def _parts(plan: QueryPlan) -> tuple[Part, ...]:
    """The question's parts; a plan made without them is one part, the whole question."""
    return plan.parts or (Part(plan.question, frozenset(plan.concepts), decision_of(plan.question)),)


# Section headings that say what kind of answer their sentences give.
_HEADING_FOR = {
    "dose": re.compile(r"dos|regimen|prescri", re.I),
    "duration": re.compile(r"dos|regimen|duration|treat", re.I),
    "threshold": re.compile(r"threshold|target|definition|diagnos|blood pressure", re.I),
    "monitoring": re.compile(r"monitor|follow", re.I),
    "diagnosis": re.compile(r"diagnos|investig|test|assess|definition", re.I),
    "choice": re.compile(r"treat|manag|therap|first", re.I),
}


def part_rankings(
    groups: list[list[Candidate]],
    values: dict[int, float],
    plan: QueryPlan,
    focus: Focus | None,
    leads: frozenset[str],
) -> list[list[tuple[float, list[Candidate]]]]:
    """For each part of the question, the groups that may answer it, best first, with their value: the share of the
    part's terms they state (counted double where the sentence opens on them: its subject), how directly they give
    the kind of answer asked, their section heading's fit, and their overall score. Only sentences from a document
    in focus, about this patient, in a category that may lead."""
    top = max(values.values(), default=0.0) or 1.0
    measured = measurements(plan.question)
    out: list[list[tuple[float, list[Candidate]]]] = []
    context = frozenset(plan.concepts)
    for part in _parts(plan):
        own = part.terms | expanded_terms(part.text) | resolved_terms(part.text, groups)
        ranked = _rank_for(part, own, groups, values, top, focus, leads, measured)
        if not ranked and context:
            # "What should he switch to?", "Can I give the first dose now?": the part names nothing itself, or
            # nothing any sentence says; the question's own words say what it is about.
            ranked = _rank_for(part, context, groups, values, top, focus, leads, measured, fallback=True)
        out.append(ranked)
    return out


def resolved_terms(text: str, groups: list[list[Candidate]]) -> frozenset[str]:
    """Terms of the abbreviations in the text that have several expansions ("CO": carbon monoxide or cardiac output),
    each read as the expansion the candidate sentences use most (none when they use none)."""
    vocab = load_vocabulary()
    out: set[str] = set()
    for token in raw_tokens(text):
        if len(token) < 2 or not (token.isupper() or any(c.isupper() for c in token[1:])):
            continue
        expansions = [frozenset(analyze(e)) for e in vocab.abbreviations.get(token, ())]
        if len(expansions) < 2:
            continue  # unambiguous ones are in expanded_terms already
        uses = [sum(1 for g in groups if e <= g[0].terms) for e in expansions]
        if max(uses) > 0:
            out |= expansions[uses.index(max(uses))]
    return frozenset(out)


def _rank_for(
    part: Part,
    terms: frozenset[str],
    groups: list[list[Candidate]],
    values: dict[int, float],
    top: float,
    focus: Focus | None,
    leads: frozenset[str],
    measured: Sequence[Measurement] = (),
    fallback: bool = False,
) -> list[tuple[float, list[Candidate]]]:
    # A part that names nothing itself ("What do I give?") is ranked on the whole question's words, which a
    # sentence can share without answering it (the vignette's "asthma" in a step-down sentence for an acute attack):
    # its overall relevance, retrieval rank included, then counts more than those shared words.
    wp, ws = (W_PART_FALLBACK, W_SCORE_FALLBACK) if fallback else (W_PART, W_SCORE)
    ranked: list[tuple[float, list[Candidate]]] = []
    for g in groups[:80]:
        c = g[0]
        if c.population or c.category not in leads:
            continue
        if focus is not None and c.passage.document_id not in focus.documents:
            continue
        overlap = 0.5
        if terms:
            opening = terms_of(" ".join(c.text.split()[: max(6, len(c.text.split()) // 2)]))
            overlap = (len(terms & c.terms) + len(terms & opening)) / (2 * len(terms))
            if overlap == 0.0:
                continue
        heading = _HEADING_FOR.get(part.decision)
        fits = max(decision_fit(c, d) for d in (part.decision, *part.also))
        value = (
            wp * overlap
            + W_DECISION * fits
            + ws * values[id(g)] / top
            + (W_HEADING if heading is not None and heading.search(c.heading) else 0.0)
            + (W_VALUE if holds(c, measured) else 0.0)
        )
        ranked.append((value, g))
    ranked.sort(key=lambda t: -t[0])
    return ranked


@dataclass(frozen=True, slots=True)
class Measurement:
    """A value the question gives for the patient ("B12 230 ng/L"): what was measured (analysed terms, abbreviations
    expanded) and the quantity."""

    analyte: frozenset[str]
    quantity: Quantity


# "B12 230 ng/L", "ferritin 380 µg/L", "TSAT 22%", "Hb of 94 g/L": a name, then a number with its unit.
_MEASURED = re.compile(
    r"\b(?P<name>[A-Za-z][A-Za-z0-9+-]*)\s+(?:(?:is|was|of|now|at|level)\s+){0,2}(?P<value>\d+(?:\.\d+)?\s*[^\s,;()]+)"
)


def measurements(question: str) -> tuple[Measurement, ...]:
    """The patient's measurements the question states, each with its unit (a bare number says too little)."""
    out: list[Measurement] = []
    for m in _MEASURED.finditer(question):
        found = quantities(m.group("value"))
        name = m.group("name")
        analyte = terms_of(" ".join((name, *load_vocabulary().expansions(name))))  # "Hb": haemoglobin too
        if found and found[0].unit and len(found[0].values) == 1 and found[0].unit not in _AGES and analyte:
            out.append(Measurement(analyte, found[0]))
    return tuple(out)


_AGES = frozenset(("years", "months", "weeks", "days", "hours", "minutes"))


def holds(c: Candidate, measured: Sequence[Measurement]) -> bool:
    """Whether the sentence gives a range or threshold, for something the patient had measured, that the patient's
    value falls in ("total B12 of 180-350 ng/L is indeterminate" for B12 230 ng/L)."""
    if not measured:
        return False
    stated = [q for q in _quantities(c.text) if len(q.values) == 2 or q.comparator]
    for m in measured:
        if not m.analyte & c.terms:
            continue
        unit, (value,) = m.quantity.key()
        for q in stated:
            qunit, bounds = q.key()
            if qunit == unit and _within(value, bounds, q.comparator):
                return True
    return False


@lru_cache(maxsize=8192)
def _quantities(text: str) -> tuple[Quantity, ...]:
    return tuple(quantities(text))


def _within(value: Decimal, bounds: tuple[Decimal, ...], comparator: str) -> bool:
    if len(bounds) == 2:
        return bounds[0] <= value <= bounds[1]
    limit = bounds[0]
    return {"<": value < limit, "<=": value <= limit, ">": value > limit, ">=": value >= limit}.get(comparator, False)


def undecided(part: Part, group: list[Candidate]) -> bool:
    """A yes/no part whose chosen sentence does not decide it: it says nothing decisive (no recommendation, no "do
    not", no "not needed"), or not about most of what the part asks."""
    if part.decision != "yes-no":
        return False
    c = group[0]
    about = len(part.terms & c.terms) / len(part.terms) if part.terms else 1.0
    return decision_fit(c, "yes-no") < 1.0 or about < DECIDES_SHARE


def bottom_line(
    plan: QueryPlan, rankings: list[list[tuple[float, list[Candidate]]]]
) -> list[tuple[Part, list[Candidate]]]:
    """For each part (as `part_rankings` ranked them), its best group; one per part, never the same twice, at most
    MAX_BOTTOM."""
    chosen: list[tuple[Part, list[Candidate]]] = []
    for part, ranked in zip(_parts(plan), rankings, strict=True):
        best = next((g for _, g in ranked if not any(g is h for _, h in chosen)), None)
        if best is not None:
            chosen.append((part, best))
        if len(chosen) >= MAX_BOTTOM:
            break
    return chosen


def answering(rankings: list[list[tuple[float, list[Candidate]]]], per_part: int = 3) -> list[list[Candidate]]:
    """The few groups that answer each part best, parts interleaved: they go into the sections first."""
    out: list[list[Candidate]] = []
    for rank in range(per_part):
        for ranked in rankings:
            if rank < len(ranked) and not any(ranked[rank][1] is h for h in out):
                out.append(ranked[rank][1])
    return out
