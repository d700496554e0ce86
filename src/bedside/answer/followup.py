"""A follow-up question restated so that it stands on its own ("What about in pregnancy?" after a question on
treating concurrent iron and vitamin B12 deficiency is "What is the treatment for concurrent iron and vitamin B12
deficiency in pregnancy?"), for the article's key, title and trail."""

from __future__ import annotations

import re

from bedside.answer.question import is_follow_up

__all__ = ["anchor_of", "resolved_question"]

# "what about in pregnancy?", "and for children?", "in renal failure?", "how about during breastfeeding?"
_QUALIFIER = re.compile(
    r"^\s*(?:(?:and|but|so)\s+)?(?:(?:what|how)\s+about\s+|what\s+if\s+)?"
    r"(?P<rest>(?:in|for|during|with|without|after|before|while|when|if|on)\b[^?]*?)\s*[?.!]*\s*$",
    re.I,
)
# "what about children?", "and the elderly?"
_ABOUT = re.compile(r"^\s*(?:(?:and|but|so)\s+)?(?:(?:what|how)\s+about\s+)?(?P<rest>[^?]*?)\s*[?.!]*\s*$", re.I)


def anchor_of(previous: list[str]) -> str:
    """The question a follow-up leans on: the latest earlier one that is not itself a follow-up."""
    return next((q for q in reversed(previous) if not is_follow_up(q)), previous[-1]) if previous else ""


def resolved_question(question: str, previous: list[str]) -> str:
    """The question as it reads on its own: a follow-up joined to the question it leans on; any other question,
    as asked (spaces normalised). Never adds words that neither question has."""
    question = " ".join(question.split())
    if not previous or not is_follow_up(question):
        return question
    anchor = " ".join(anchor_of(previous).split()).rstrip("?.! ")
    qualifier = _QUALIFIER.match(question)
    if qualifier and qualifier.group("rest"):
        return f"{anchor} {qualifier.group('rest').strip()}?"
    about = _ABOUT.match(question)
    rest = about.group("rest").strip() if about else question.rstrip("?.! ")
    return f"{anchor}: {rest}?" if rest else f"{anchor}?"
