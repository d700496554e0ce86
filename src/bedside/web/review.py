"""The review desk: the queue, an article with its sources side by side, its history and changes, and edits.

The edit form and change requests are read in `review_edits`, the changes between versions in `review_diff`.

One service for the review pages and the review API. Whether a person may act is decided by the state machine
(`bedside.editorial.states`), both for showing buttons and when the action is taken; the article service checks
again inside its transaction, so a lost race is a Conflict, never a half-done step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bedside.answer.render import STATUS_LABELS
from bedside.editorial.edits import unsupported_statements
from bedside.editorial.interface import Article, AuditEvent, ReviewStatus, User
from bedside.editorial.states import REVIEW_ACTIONS, Action, Subject, advance, allowed_actions
from bedside.errors import InvalidInput
from bedside.web.article_backend import EditorialService
from bedside.web.asked import is_article
from bedside.web.review_diff import Diff, diff_lines, statement_lines
from bedside.web.review_edits import (
    ChangeRequest,
    EditPage,
    Fields,
    change_comment,
    citation_numbers,
    edit_group,
    edited_answer,
    form_value,
    group_keys,
    latest_change_request,
    statement_notes,
    whole_number,
)
from bedside.web.site import WebService
from bedside.web.views import ArticleView, answer_from_dict

__all__ = ["QUEUE_ORDER", "Fields", "ReviewDesk", "ReviewPage", "diff_lines", "edited_answer", "statement_lines"]

QUEUE_ORDER = (
    ReviewStatus.SUBMITTED,
    ReviewStatus.UNDER_REVIEW,
    ReviewStatus.CHANGES_REQUESTED,
    ReviewStatus.APPROVED,
    ReviewStatus.REJECTED,
)
QUEUE_LIMIT = 200
VERSION_BOUND = (Action.CLAIM.value, Action.APPROVE.value)  # actions that must name the version reviewed


@dataclass(frozen=True, slots=True)
class QueueItem:
    slug: str
    title: str
    question: str
    status: str
    waiting_since: str  # when the article last changed (ISO 8601)
    versions: int
    author: str  # who made the latest version
    claimed_by: str
    sources_changed: bool
    actions: tuple[str, ...]  # review actions the viewer may take now
    sources_changes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QueueGroup:
    status: str
    label: str
    items: tuple[QueueItem, ...]
    more: bool  # the group holds more than QUEUE_LIMIT articles


@dataclass(frozen=True, slots=True)
class VersionInfo:
    number: int
    created: str
    created_by: str


@dataclass(frozen=True, slots=True)
class ReviewPage:
    """Everything a reviewer sees of one article."""

    article: Article
    title: str
    status_label: str
    shown: int  # the version shown side by side with its sources
    versions: tuple[VersionInfo, ...]
    view: ArticleView
    actions: tuple[str, ...]
    can_edit: bool
    history: tuple[AuditEvent, ...]
    diff: Diff | None
    public_url: str  # "" while the public cannot see it
    unsupported: tuple[str, ...] = ()  # the latest version's editor statements the verifier did not find
    change_request: ChangeRequest | None = None  # the latest request for changes, while it is the last word


class ReviewDesk:
    """Review and editing over the editorial service, with source passages from the knowledge base."""

    def __init__(self, service: WebService, editorial: EditorialService) -> None:
        self.service = service
        self.editorial = editorial

    # -- acting ----------------------------------------------------------------------------------------------------

    def review_from_form(self, slug: str, user: User, fields: Fields) -> Article:
        """A review step from the review page, on the version the page showed (its hidden `version`): approving
        needs the confirmation box ticked (`confirm=1`); a change request joins the per-statement notes to its
        comment."""
        action, comment = form_value(fields, "action"), form_value(fields, "comment")
        version = self.seen_version(form_value(fields, "version"))
        if action == Action.APPROVE.value and form_value(fields, "confirm") != "1":
            raise InvalidInput(
                "to approve, tick the box confirming that you checked every statement against its source"
            )
        if action == Action.REQUEST_CHANGES.value:
            article = self.editorial.get(slug)
            comment = change_comment(comment, statement_notes(fields), article.latest.answer)
        return self.review(slug, action, user, comment, version, override=form_value(fields, "override") == "1")

    def review(
        self,
        slug: str,
        action: str,
        user: User,
        comment: str = "",
        version: int | None = None,
        *,
        override: bool = False,
    ) -> Article:
        """Take a review action (claim, release, approve, request_changes, reject) on `version`, the version the
        reviewer saw: claim and approve need it, and any action refuses (Conflict) when a newer version exists.
        `override` approves editor statements the verifier did not find in their cited sources."""
        if action not in {a.value for a in REVIEW_ACTIONS}:
            raise InvalidInput(f"unknown review action {action!r}")
        if version is None and action in VERSION_BOUND:
            raise InvalidInput(f"{action} needs the version you reviewed (version: its number)")
        return self.editorial.review(slug, action, user, comment, version, override=override)

    def latest(self, slug: str) -> tuple[Article, dict[str, Any]]:
        """The article and its latest version's answer JSON (with the article's slug and status)."""
        article = self.editorial.get(slug)
        answer = answer_from_dict(article.latest.answer)
        return article, replace(answer, slug=article.slug, status=article.status.value).to_dict()

    @staticmethod
    def seen_version(value: str) -> int | None:
        """The version number a review form names ('' when it names none)."""
        return whole_number(value, "the version reviewed") if value.strip() else None

    def edit(self, slug: str, user: User, answer: dict[str, Any], base: int | None = None) -> Article:
        """A new version from an editor (every statement cited); the article goes back to submitted. Statements the
        editor changed or added are checked against their cited sources."""
        return self.editorial.edit(slug, user, answer, base=base, check=self.service.check_statement)

    def edit_from_form(self, slug: str, user: User, fields: Fields) -> Article:
        """The edit form's version: its statements over the version it was opened on (`base`)."""
        article = self.editorial.get(slug)
        base = whole_number(form_value(fields, "base"), "base version")
        if not 1 <= base <= len(article.versions):
            raise InvalidInput(f"no version {base} of this article")
        answer = edited_answer(article.versions[base - 1].answer, fields)
        return self.edit(slug, user, answer, base=base)

    # -- reading ---------------------------------------------------------------------------------------------------

    def queue(self, user: User) -> tuple[QueueGroup, ...]:
        """Articles by status (submitted first), the longest waiting first in each."""
        groups = []
        found = self.editorial.stale()  # articles whose sources changed come first, whatever their status
        if found:
            items = tuple(self._item(a, user) for a in found[:QUEUE_LIMIT])
            groups.append(QueueGroup("sources_changed", "Sources changed", items, len(found) > QUEUE_LIMIT))
        for status in QUEUE_ORDER:
            found = [a for a in self.editorial.queue(status, QUEUE_LIMIT + 1) if is_article(a.latest.answer)]
            items = tuple(self._item(a, user) for a in found[:QUEUE_LIMIT])
            groups.append(QueueGroup(status.value, STATUS_LABELS[status.value], items, len(found) > QUEUE_LIMIT))
        return tuple(groups)

    def _item(self, article: Article, user: User) -> QueueItem:
        return QueueItem(
            slug=article.slug,
            title=_title(article),
            question=article.question,
            status=article.status.value,
            waiting_since=article.updated,
            versions=len(article.versions),
            author=article.latest.created_by,
            claimed_by=article.claimed_by,
            sources_changed=article.sources_changed,
            actions=_review_actions(article, user),
            sources_changes=article.sources_changes,
        )

    def page(self, slug: str, user: User, version: int | None = None, old: int | None = None) -> ReviewPage:
        """The article as a reviewer sees it: version `version` (default latest) with its sources, the changes
        from `old` (default: the version before) to it, the actions open to `user`, and the audit history."""
        article = self.editorial.get(slug)
        latest = article.latest.number
        shown = _in_range(version or latest, latest, "version")
        old = _in_range(old, latest, "version to compare") if old else shown - 1
        diff = None
        if old >= 1 and old != shown:
            before, after = article.versions[old - 1].answer, article.versions[shown - 1].answer
            diff = Diff(old, shown, diff_lines(statement_lines(before), statement_lines(after)))
        answer = answer_from_dict(article.versions[shown - 1].answer)
        allowed = allowed_actions(Subject.of(article), user)
        history = tuple(self.editorial.history(slug))
        return ReviewPage(
            article=article,
            title=answer.title or article.question,
            status_label=STATUS_LABELS.get(article.status.value, article.status.value),
            shown=shown,
            versions=tuple(VersionInfo(v.number, v.created, v.created_by) for v in article.versions),
            view=self.service.article_view(answer, desk=True),
            actions=_review_actions(article, user),
            can_edit=Action.EDIT in allowed,
            history=history,
            diff=diff,
            public_url=f"/articles/{slug}" if article.public_version is not None else "",
            unsupported=tuple(unsupported_statements(article.latest.answer)),
            change_request=latest_change_request(history),
        )

    def edit_page(self, slug: str, user: User, fields: Fields | None = None) -> EditPage:
        """The edit form for the latest version (or as submitted, to show it again with a message).

        Raises what the state machine says when `user` may not edit the article now.
        """
        article = self.editorial.get(slug)
        advance(Subject.of(article), Action.EDIT, user, "")  # PermissionDenied or Conflict, with the reason
        base = whole_number(form_value(fields, "base"), "base version") if fields else article.latest.number
        answer = article.versions[_in_range(base, len(article.versions), "version") - 1].answer
        shown = edited_answer(answer, fields, drop_empty=False) if fields else answer
        given = fields or {}
        new = {
            key: (form_value(given, f"new:{key}"), citation_numbers(given.get(f"cite:{key}", ())))
            for key in group_keys(answer)
        }
        groups = [edit_group("bl", "Bottom line", answer.get("bottom_line", []), shown["bottom_line"], new)]
        for i, sec in enumerate(answer.get("sections", [])):
            texts = shown["sections"][i]["statements"]
            groups.append(edit_group(str(i), str(sec.get("heading", "")), sec.get("statements", []), texts, new))
        refs = tuple((int(r["number"]), str(r.get("title", ""))) for r in answer.get("references", []))
        request = latest_change_request(self.editorial.history(slug))
        if request is not None and request.version == base:  # its notes name this version's statements
            groups = [
                replace(
                    g, statements=tuple(replace(st, note=request.notes.get(st.name[5:], "")) for st in g.statements)
                )
                for g in groups
            ]
        return EditPage(slug, article.question, str(shown.get("title", "")), base, tuple(groups), refs, request)


# -- the queue -----------------------------------------------------------------------------------------------


def _title(article: Article) -> str:
    return str(article.latest.answer.get("title") or article.question)


def _review_actions(article: Article, user: User) -> tuple[str, ...]:
    return tuple(a.value for a in allowed_actions(Subject.of(article), user) if a in REVIEW_ACTIONS)


def _in_range(number: int, latest: int, what: str) -> int:
    if not 1 <= number <= latest:
        raise InvalidInput(f"no {what} {number}: this article has versions 1 to {latest}")
    return number
