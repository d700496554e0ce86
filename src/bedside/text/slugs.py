"""When two questions are the same question, and the slug of the article that answers it.

Asking the same question twice (after `normalise_question`) opens the same article; its slug is readable and
stable, and carries the full digest of the normalised question.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["legacy_slug_for", "normalise_question", "same_question", "slug_for"]


def slug_for(question: str) -> str:
    """A readable, stable slug from the normalised question: its first words and the full SHA-256 of all of it.

    The whole digest, so nobody can find a second question that takes a chosen question's slug (a short one could
    be collided in seconds, planting the article a later asker receives); the store still compares questions.
    """
    words = re.findall(r"[a-z0-9]+", normalise_question(question))
    base = "-".join(words)[:80].rstrip("-") or "question"
    digest = hashlib.sha256(normalise_question(question).encode()).hexdigest()
    return f"{base}-{digest}"


def legacy_slug_for(question: str) -> str:
    """The slug articles were given before slugs carried the full digest (six hex characters of it)."""
    full = slug_for(question)
    return full[: len(full) - 64 + 6]


def same_question(a: str, b: str) -> bool:
    """Whether two questions are the same after normalisation (what one article answers)."""
    return normalise_question(a) == normalise_question(b)


def normalise_question(question: str) -> str:
    """Case, spacing and trailing punctuation folded, so the same question asked twice matches."""
    return " ".join(re.sub(r"[^\w\s/+.-]", " ", question.lower()).split()).rstrip(".")
