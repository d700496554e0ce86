"""What readers see of an article, and articles written out as Markdown or JSON files."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from bedside.editorial.interface import Article, ArticleVersion, ReviewStatus
from bedside.errors import InvalidInput
from bedside.model import Answer, AnswerJSON

__all__ = ["ExportFormat", "answer_from_dict", "export_files", "public_answer", "shown_version"]

ExportFormat = Literal["markdown", "json"]


def shown_version(article: Article, status: ReviewStatus | None = None) -> ArticleVersion | None:
    """The version to show or export: the approved one when asking for approved articles (or the public view)."""
    if status is ReviewStatus.APPROVED or status is None:
        return article.public_version
    return article.latest


def public_answer(article: Article, version: ArticleVersion | None = None) -> dict[str, Any] | None:
    """The answer JSON of the version anonymous readers see, with its review status and "last updated" date.

    An approved version shows "approved" and its approval date, even while a newer version waits for review.
    """
    version = version or article.public_version
    if version is None:
        return None
    if article.approved_version and version.number == article.approved_version:
        status, updated = ReviewStatus.APPROVED.value, article.approved_at
    else:
        status, updated = article.status.value, version.created
    return {**version.answer, "slug": article.slug, "status": status, "updated": updated[:10]}


def export_files(
    items: list[Article], fmt: ExportFormat, status: ReviewStatus, markdown: Callable[[Answer], str] | None = None
) -> dict[str, str]:
    """File name -> content, one file per article: `SLUG.md` or `SLUG.json`, with the references.

    Markdown is written by `markdown` (the answer engine's `bedside.answer.render.to_markdown`, which frames each
    statement for its audience), given by the caller so that the editorial core does not depend on the answer engine.
    """
    if fmt not in ("markdown", "json"):
        raise InvalidInput(f"unknown export format {fmt!r} (expected markdown or json)")
    if fmt == "markdown" and markdown is None:
        raise TypeError("a Markdown export needs the Markdown renderer (markdown=bedside.answer.render.to_markdown)")
    files: dict[str, str] = {}
    for article in items:
        version = shown_version(article, status)
        answer = public_answer(article, version) if version else None
        if version is None or answer is None:
            continue
        if fmt == "markdown":
            assert markdown is not None
            files[f"{article.slug}.md"] = markdown(answer_from_dict(answer))
        else:
            files[f"{article.slug}.json"] = json.dumps(_record(article, version, answer), indent=2, ensure_ascii=False)
    return files


def _record(article: Article, version: ArticleVersion, answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "slug": article.slug,
        "question": article.question,
        "status": answer["status"],
        "version": version.number,
        "approved_by": article.approved_by if answer["status"] == "approved" else "",
        "approved_at": article.approved_at if answer["status"] == "approved" else "",
        "composer": version.composer,
        "kb_snapshot": version.kb_snapshot,
        "bedside_version": version.bedside_version,
        "sources": version.sources,
        "answer": AnswerJSON.model_validate(answer).model_dump(mode="json"),
    }


answer_from_dict = Answer.from_dict
