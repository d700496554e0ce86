"""The heading an answer carries: the question restated ("Treatment of Concurrent Iron and Vitamin B12 Deficiency")."""

from __future__ import annotations

from bedside.answer.question import QueryPlan

_SMALL_WORDS = frozenset("a an and as at but by for in nor of on or the to vs with without".split())
_LEADS = ("what is the", "what are the", "what is", "what are", "describe the", "tell me about the", "tell me about")
_NOUNS = {
    "treatment": "Treatment",
    "management": "Management",
    "first-line treatment": "First-Line Treatment",
    "dose": "Dosing",
    "dosing": "Dosing",
    "dosage": "Dosing",
    "diagnosis": "Diagnosis",
    "monitoring": "Monitoring",
    "prognosis": "Prognosis",
    "cause": "Causes",
    "causes": "Causes",
}


def title_for(plan: QueryPlan) -> str:
    """The question restated as a heading ("Treatment of Concurrent Iron and Vitamin B12 Deficiency"); a question
    that is not restated keeps its question mark ("Is Metformin Safe in Pregnancy?")."""
    asked = plan.question.strip()
    text = asked.rstrip("?.! ")
    restated = _restated(text)
    if restated != text:
        return _title_case(restated)
    return _title_case(text) + ("?" if asked.endswith("?") else "")


def _restated(text: str) -> str:
    """Restate "What is the treatment for X" as "Treatment of X"; any other text stays as it is."""
    low = text.lower()
    for lead in _LEADS:
        if not low.startswith(lead + " "):
            continue
        rest, rest_low = text[len(lead) + 1 :], low[len(lead) + 1 :]
        for noun, label in sorted(_NOUNS.items(), key=lambda kv: -len(kv[0])):
            for joiner in (" for ", " of ", " in "):
                if rest_low.startswith(noun + joiner):
                    text = f"{label} of {rest[len(noun) + len(joiner) :]}"
                    break
            else:
                continue
            break
        break
    return text


def _title_case(text: str) -> str:
    out = []
    for i, w in enumerate(text.split()):
        if any(c.isupper() for c in w[1:]) or any(c.isdigit() for c in w) or w.isupper():
            out.append(w)  # B12, IDA, HbA1c: keep as written
        elif i > 0 and w.lower() in _SMALL_WORDS:
            out.append(w.lower())
        else:
            out.append(w[:1].upper() + w[1:])
    return " ".join(out)
