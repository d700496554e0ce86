"""Choosing the sentences an answer may use, and the bottom line: the one sentence that answers each part.

Candidates are filtered before they compete: a sentence about someone this patient is not (another age group,
pregnancy for a man, "without heart failure" for a patient with it) is dropped; a sentence about a population the
question does not place the patient in is kept only as a special-population statement; a sentence from a document
outside the topic focus must name the question's problem itself and apply to this patient.
"""

from __future__ import annotations

from dataclasses import replace

from bedside.answer.applicability import Fit, applicability, fit
from bedside.answer.focus import Focus
from bedside.answer.parts import Part, decision_fit, decision_of
from bedside.answer.question import QueryPlan
from bedside.answer.sentences import Candidate

# Weights of the bottom-line choice for one part (tuned on the clinical_qa dev split with bench/clinical.py).
W_PART = 1.0  # share of the part's own terms the sentence states
W_DECISION = 0.6  # how directly it gives the kind of answer asked (a dose for "what dose", a threshold, ...)
W_SCORE = 0.5  # its overall relevance score, relative to the best sentence's
W_SPECIFIC = 0.15  # it names the patient's own population (pregnancy for a pregnant patient): more specific
MAX_BOTTOM = 3


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
        outside = focus is not None and c.passage.document_id not in focus.documents
        if outside and (f is not Fit.APPLIES or not focus.names_problem(c.terms)):  # type: ignore[union-attr]
            continue  # another document's sentence must be about this problem, for this patient
        if f is Fit.APPLIES and not a.general and plan.patient.described:
            specific.add(len(out))
        out.append(replace(c, population=f is Fit.OTHER))
    return out, specific


def _default_part(plan: QueryPlan) -> Part:
    return Part(plan.question, frozenset(plan.concepts), decision_of(plan.question))


def bottom_line(
    groups: list[list[Candidate]], values: dict[int, float], plan: QueryPlan, focus: Focus | None,
    leads: frozenset[str],
) -> list[list[Candidate]]:  # fmt: skip
    """For each part of the question, the group whose sentence answers it most directly, from a document in focus
    and about this patient; one per part, never the same twice. `values` maps id(group) to its score; `leads` are
    the categories that may lead (not warnings about something else, not another population)."""
    top = max(values.values(), default=0.0) or 1.0
    chosen: list[list[Candidate]] = []
    for part in plan.parts or (_default_part(plan),):
        best, best_value = None, 0.0
        for g in groups[:60]:
            c = g[0]
            if any(g is h for h in chosen) or c.population or c.category not in leads:
                continue
            if focus is not None and c.passage.document_id not in focus.documents:
                continue
            overlap = len(part.terms & c.terms) / len(part.terms) if part.terms else 0.5
            if part.terms and overlap == 0.0:
                continue
            value = W_PART * overlap + W_DECISION * decision_fit(c, part.decision) + W_SCORE * values[id(g)] / top
            if value > best_value:
                best, best_value = g, value
        if best is not None:
            chosen.append(best)
        if len(chosen) >= MAX_BOTTOM:
            break
    return chosen
