"""The desk's rules for what it stores and when a step is stale: answers must read back as the answer JSON, a
review or edit must be of the latest version, and what each review step records on the article.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from bedside.editorial import records
from bedside.editorial.edits import unsupported_statements
from bedside.editorial.interface import ArticleVersion, ReviewStatus, User
from bedside.editorial.states import Subject, Transition
from bedside.errors import Conflict, InvalidInput
from bedside.model import AnswerJSON

__all__ = ["check_answer", "is_text", "review_effects", "review_subject", "stale_edit", "stale_review"]


def is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_answer(answer: dict[str, Any]) -> None:
    """Refuse to store what could not be read back as the answer JSON (`AnswerJSON`), naming the field."""
    try:
        AnswerJSON.model_validate(answer)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the answer"
        raise InvalidInput(f"not a valid answer: {where}: {first['msg']}") from None


def review_subject(row: records.ArticleRow, latest: ArticleVersion, authors: frozenset[str] = frozenset()) -> Subject:
    unsupported = len(unsupported_statements(latest.answer))
    return Subject(ReviewStatus(row.status), latest.number, latest.created_by, row.claimed_by, authors, unsupported)


def stale_review(seen: int, latest: int, action: str) -> Conflict:
    return Conflict(
        f"you reviewed version {seen} but the latest is version {latest}; reload and review it before you "
        f"{action.replace('_', ' ')}"
    )


def review_effects(step: Transition, user: User, version: int) -> dict[str, Any]:
    if step.status is ReviewStatus.UNDER_REVIEW:
        return {"claimed_by": user.email}
    if step.status is ReviewStatus.APPROVED:
        return {
            "claimed_by": "",
            "approved_by": user.email,
            "approved_at": step.event.at,
            "approved_version": version,
            "sources_changed": False,
            "sources_changes": "[]",
        }
    return {"claimed_by": ""}


def stale_edit(base: int, latest: int) -> Conflict:
    return Conflict(f"version {base} is no longer the latest (now version {latest}); reload and edit again")
