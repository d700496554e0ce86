"""The public forms of an answer: the JSON of interfaces.md and Markdown."""

from __future__ import annotations

import re

from bedside.model import Answer, Reference, Statement

__all__ = [
    "DISCLAIMER",
    "PATIENT_DISCLAIMER",
    "editor_label",
    "led_text",
    "reference_line",
    "review_line",
    "to_markdown",
]

DISCLAIMER = "For healthcare professionals. Not a substitute for clinical judgement; verify against primary sources."
PATIENT_DISCLAIMER = (
    "General information, not medical advice. Talk to your doctor, nurse or pharmacist about your own care."
)
STATUS_LABELS = {
    "submitted": "Submitted",
    "under_review": "Under Review",
    "changes_requested": "Changes requested",
    "approved": "Approved",
    "rejected": "Rejected",
}


def _cite(s: Statement) -> str:
    return s.text + " " + "".join(f"[{n}]" for n in s.citations)


def reference_line(r: Reference) -> str:
    """ "Guideline — Title. Source, Year. link", led by a collection's label ("Local protocol — ") and followed by
    the source's notes ("Expression of concern: ..."); for a digest, "Guideline — bedside digest of Title, Issuer Year
    (not yet reviewed by the Medical Advisory Board). link"."""
    lead = f"{r.label} — " if r.label else ""
    if r.digest:
        line = f"{lead}{r.type.label} — {r.shown_title} ({r.review_note})."
        parts = [f"{line} {r.url}" if r.url else line]
        return " ".join(parts + [f"[{note}]" for note in r.notes])
    parts = [f"{lead}{r.type.label} — {r.title.rstrip('.')}."]
    tail = ", ".join(x for x in (r.source, str(r.year) if r.year else "") if x)
    if tail:
        parts.append(tail + ".")
    if r.url:
        parts.append(r.url)
    parts += [f"[{note}]" for note in r.notes]
    return " ".join(parts)


def review_line(answer: Answer) -> str:
    """The review status line with the pending banner until approval."""
    label = STATUS_LABELS.get(answer.status, answer.status)
    pending = "" if answer.status == "approved" else " — pending human review"
    return f"Review status: {label}{pending}. Last updated {answer.updated}."


def _escape(text: str) -> str:
    """Source text is data: neutralise Markdown and HTML so it renders as written."""
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", text)


def to_markdown(answer: Answer) -> str:
    """The article as Markdown (answer-format.md), source text escaped."""
    lines = [f"# {_escape(answer.title)}", ""]
    if answer.insufficient_evidence:
        lines += [
            "**The knowledge base holds too little evidence to answer this question.**",
            "",
            "Searched for: " + "; ".join(_escape(q) for q in answer.searched),
            "",
        ]
        if answer.references:
            lines.append("Closest material found:")
    elif answer.bottom_line:
        shown = " ".join(_escape(led_text(s, answer)) + " " + _nums(s) for s in answer.bottom_line)
        lines += ["**" + shown.strip() + "**", ""]
    for sec in answer.sections:
        lines += [f"## {_escape(sec.heading)}"]
        lines += [f"- {_escape(led_text(s, answer))} {_nums(s)}".rstrip() for s in sec.statements]
        lines.append("")
    if answer.references:
        if not answer.insufficient_evidence:
            lines.append("## References")
        lines += [f"{r.number}. {_escape(reference_line(r))}" for r in answer.references]
        lines.append("")
    lines += [f"*{answer.disclaimer}*", f"*{review_line(answer)}*"]
    return "\n".join(lines) + "\n"


def led_text(s: Statement, answer: Answer) -> str:
    """The statement as a reader sees it: its framing lead (bedside's words, never the source's), then its text."""
    from bedside.answer.audience import lead_of

    lead = lead_of(s, answer.audience)
    text = f"{lead} {s.text}" if lead else s.text
    return f"{editor_label(s)}: {text}" if s.editor else text


def editor_label(s: Statement) -> str:
    """How an editor's statement is labelled for readers (never as a sentence taken from its source)."""
    if s.supported:
        return "Editor's statement"
    return "Editor's statement (not found in the cited source by bedside's check)"


def _nums(s: Statement) -> str:
    return "".join(f"\\[{n}\\]" for n in s.citations)
