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
from collections.abc import Sequence
from dataclasses import replace

from bedside.answer.plain_language import CARE_LEAD, DOSE_LEAD, URGENT_CUE, Rewriter, wants_lead
from bedside.answer.readability import reading_grade
from bedside.errors import InvalidInput
from bedside.model import Answer, AnswerSection, Statement

AUDIENCES = ("clinician", "student", "patient")
# A bottom-line sentence for a yes/no question that the sources do not decide: the frame states no fact of its own.
INDIRECT_LEAD = "The sources in the knowledge base do not answer this directly; they state:"
URGENT_HEADING = "When to get help urgently"

PATIENT_STATEMENTS = 10  # statements a patient reads beyond the bottom line and the urgent ones
PATIENT_PER_SECTION = 4
PATIENT_MAX_GRADE = 14.0  # a statement still harder than this once rewritten stays in the clinician version

# Plain headings for patients, keyed by the lower-cased clinician heading.
_PLAIN_HEADINGS = {
    "critical warnings": "Important safety points",
    "warnings": "Important safety points",
    "monitoring": "Check-ups and tests",
    "monitoring and follow-up": "Check-ups and tests",
    "follow-up": "Check-ups and tests",
    "assessment before treatment": "Before treatment starts",
    "regimen": "Treatment options",
    "regimens": "Treatment options",
    "dosing": "Doses",
    "doses": "Doses",
    "duration": "How long treatment lasts",
    "when to escalate": "When treatment may need to change",
    "pitfalls": "Things that are easy to miss",
    "special populations": "People who need different care",
    "tests and thresholds": "Tests and results",
    "definitions and thresholds": "Tests and results",
    "investigations": "Tests",
    "interpretation": "What the results mean",
    "diagnosis": "How it is diagnosed",
    "evidence": "What the research shows",
    "clinical implications": "What this means for care",
    "referral": "Seeing a specialist",
    "prognosis": "Outlook",
    "key points": "Main points",
}

# What a patient needs first when statements must be few (plain headings, most needed first).
_PATIENT_NEED = {
    h: i
    for i, h in enumerate(
        (
            URGENT_HEADING,
            "Treatment options",
            "Doses",
            "How long treatment lasts",
            "Treatment",
            "Important safety points",
            "Check-ups and tests",
            "Monitoring",
            "Main points",
        )
    )
}
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
    writer = Rewriter(gloss=patient)
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
        writer = Rewriter(gloss=True)
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
    plain = tuple(s for s in bottom if reading_grade([s.text]) <= PATIENT_MAX_GRADE)
    return plain or tuple(sorted(bottom, key=lambda s: reading_grade([s.text]))[:1])


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
        grades = {id(s): reading_grade([s.text]) for s in sec.statements}
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
    if statement.kind == "indirect":
        return INDIRECT_LEAD
    if audience == "patient" and statement.kind == "dose" and wants_lead(statement.text, "dose"):
        return DOSE_LEAD
    if audience == "patient" and statement.kind == "care":
        return CARE_LEAD
    return ""


def answer_texts(answer: Answer) -> list[str]:
    """What a reader reads, statement by statement in reading order, each with its lead."""
    return [" ".join(filter(None, (lead_of(s, answer.audience), s.text))) for s in answer.statements()]


# -- sections for patients -------------------------------------------------------------------------


def _patient_sections(sections: Sequence[AnswerSection]) -> tuple[AnswerSection, ...]:
    """Red flags first, under one urgent heading; plain headings; empty sections dropped, nothing lost."""
    urgent: list[Statement] = []
    kept: list[AnswerSection] = []
    for sec in sections:
        whole = bool(_URGENT_SECTION.search(sec.heading))
        stay = [s for s in sec.statements if not (whole or URGENT_CUE.search(s.text))]
        urgent.extend(s for s in sec.statements if whole or URGENT_CUE.search(s.text))
        if stay:
            kept.append(AnswerSection(heading=_plain_heading(sec.heading), statements=tuple(stay)))
    if urgent:
        kept.insert(0, AnswerSection(heading=URGENT_HEADING, statements=tuple(urgent)))
    return tuple(kept)


def _plain_heading(heading: str) -> str:
    key = re.sub(r"\s+", " ", heading.strip().rstrip(":")).lower()
    return _PLAIN_HEADINGS.get(key, heading)
