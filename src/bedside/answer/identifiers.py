"""Patient identifiers in questions: found, named and removed before a question is stored or shown to anyone else.

A question becomes an article's title and key, a conversation turn and a follow-up's context, so a name or a
record number typed into it would be published. Recognised: personal names after a title ("Mr John Smith",
"Mrs. O'Neil"), NHS numbers (ten digits, 3-3-4), US social security numbers (3-2-4), medical record and hospital
numbers introduced as such, and dates of birth introduced as such ("DOB 12/03/1950", "born 3 March 1950"). Ages,
doses and lab values are kept: they are what the question is about. Pure code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Scrubbed", "identifier_notice", "scrub_identifiers"]

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = (
    rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?"
    rf"\s+\d{{4}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"
)
# (kind, pattern): the first kind that matches a span names it. Titles are matched case-sensitively ("MR" and "MS"
# are mitral regurgitation and multiple sclerosis), the name after a title must be capitalised.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a date of birth", re.compile(rf"\b(?:d\.?\s?o\.?\s?b\.?|date of birth|born(?:\s+on)?)\s*[:=-]?\s*{_DATE}", re.I)),
    (
        "a medical record number",
        re.compile(
            r"\b(?:mrn|medical record(?:\s+(?:number|no\.?|#))?|hospital\s+(?:number|no\.?|#|id)"
            r"|record\s+(?:number|no\.?)|patient\s+(?:id|number|no\.?)|unit\s+number|chi(?:\s+number)?)"
            r"\s*[:#=-]?\s*[a-z]{0,3}\d[\d -]{3,}\d",
            re.I,
        ),
    ),
    ("an NHS number", re.compile(r"\b(?:nhs\s*(?:number|no\.?|#)?\s*[:#=-]?\s*)?\d{3}[ -]?\d{3}[ -]?\d{4}\b", re.I)),
    (
        "a social security number",
        re.compile(
            r"\b(?:ssn|social security(?:\s+(?:number|no\.?|#))?)\s*[:#=-]?\s*\d{3}-?\d{2}-?\d{4}\b"
            r"|\b\d{3}-\d{2}-\d{4}\b",
            re.I,
        ),
    ),
    (
        "a name",
        re.compile(
            r"\b(?:Mr|Mrs|Ms|Miss|Mx|Master|Dr|Prof|Sir|Dame|Lady|Lord)\.?\s+"
            r"[A-Z][A-Za-z'\u2019-]+(?:\s+(?:[A-Z]\.|[A-Z][A-Za-z'\u2019-]+)){0,3}"
        ),
    ),
)
_REPLACEMENT = {"a name": "the patient"}
_TIDY = (
    (re.compile(r"\(\s*[,;:]*\s*\)"), ""),  # "()" left where an identifier stood in brackets
    (re.compile(r"\s+([,;:.?!])"), r"\1"),
    (re.compile(r"([,;:])(?:\s*[,;:])+"), r"\1"),
    (re.compile(r"[,;:]+([.?!])"), r"\1"),
    (re.compile(r"^[\s,;:.-]+"), ""),
    (re.compile(r"\s{2,}"), " "),
)


@dataclass(frozen=True, slots=True)
class Scrubbed:
    """The question without identifiers, and what kinds were removed (in order of first appearance)."""

    text: str
    removed: tuple[str, ...] = ()


def scrub_identifiers(text: str) -> Scrubbed:
    """Remove patient identifiers from `text`; a name becomes "the patient", anything else goes."""
    removed: list[str] = []
    for kind, pattern in _PATTERNS:
        text, count = pattern.subn(_REPLACEMENT.get(kind, " "), text)
        if count and kind not in removed:
            removed.append(kind)
    if not removed:
        return Scrubbed(text)
    for pattern, replacement in _TIDY:
        text = pattern.sub(replacement, text)
    text = text.strip()
    return Scrubbed(text[:1].upper() + text[1:], tuple(removed))


def identifier_notice(removed: tuple[str, ...]) -> str:
    """The warning shown with an answer whose question held identifiers."""
    kinds = removed[0] if len(removed) == 1 else ", ".join(removed[:-1]) + " and " + removed[-1]
    return (
        f"Your question contained patient identifiers ({kinds}); they were removed before anything was stored or "
        "published. Please ask without names, numbers or dates of birth."
    )
