"""Where the web app gets its `ArticleService`: the one place that binds the editorial core.

`open_articles` returns `bedside.editorial.desk.SqlArticleService`. `MemoryArticles` is an in-process
implementation of the same protocol for tests of the public pages (no accounts, so no sign-in and no review).
Sign-in and review need `EditorialService`: articles plus accounts, as the SQL service provides them.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from bedside import __version__
from bedside.config import Settings
from bedside.editorial.edits import Check
from bedside.editorial.interface import (
    Article,
    ArticleService,
    ArticleVersion,
    AuditEvent,
    ReviewStatus,
    Role,
    User,
)
from bedside.editorial.session_store import SessionStore
from bedside.errors import Conflict, InvalidInput, NotFound, TransitionError
from bedside.model import SourceState
from bedside.text.slugs import normalise_question, same_question, slug_for


@runtime_checkable
class EditorialService(ArticleService, Protocol):
    """Articles with accounts and review queues: what sign-in, the review pages and the review API need."""

    sessions: SessionStore  # signed-in browsers, in the same database as the accounts

    def edit(
        self, slug: str, actor: User, answer: dict[str, Any], base: int | None = None, check: Check | None = None
    ) -> Article:
        """A new version from an editor; `base` (the version edited) must still be the latest, else Conflict;
        `check` verifies the editor's statements against their cited sources."""
        ...

    def queue(self, status: ReviewStatus, limit: int = 200) -> builtins.list[Article]:
        """Articles with this status, least recently updated first."""
        ...

    def check_sources(self, states: Callable[[builtins.list[str]], Mapping[str, SourceState]]) -> builtins.list[str]:
        """Flag "sources changed" on articles whose cited documents changed, were retracted or left; the slugs."""
        ...

    def stale(self) -> builtins.list[Article]:
        """Articles flagged "sources changed", least recently updated first."""
        ...

    def authenticate(self, email: str, password: str) -> User | None: ...

    def user_by_token(self, token: str) -> User | None: ...

    def get_user(self, email: str) -> User: ...

    def list_users(self) -> builtins.list[User]: ...

    def add_user(self, email: str, role: Role | str, password: str | None = None) -> tuple[User, str]: ...

    def set_active(self, email: str, active: bool) -> User: ...

    def set_role(self, email: str, role: Role | str) -> User: ...

    def set_password(self, email: str, password: str | None = None, current: str | None = None) -> tuple[User, str]: ...

    def set_profile(
        self,
        email: str,
        display_name: str | None = None,
        credentials: str | None = None,
        affiliation: str | None = None,
    ) -> User: ...


def open_articles(settings: Settings) -> ArticleService:
    """The article service for these settings."""
    from bedside.editorial.desk import open_article_service

    return open_article_service(settings)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class MemoryArticles:
    """Articles in a dict, keyed by the normalised question: the interim stand-in for the SQL service."""

    def __init__(self, clock: Callable[[], str] = _now) -> None:
        self._lock = threading.Lock()
        self._by_slug: dict[str, Article] = {}
        self._events: dict[str, list[AuditEvent]] = {}
        self._clock = clock

    def article_for(
        self, question: str, compose: Callable[[], dict[str, Any]], composer_sources: dict[str, str]
    ) -> Article:
        """The article for this question (after normalisation), composing version 1 only when it is new."""
        slug = slug_for(question)
        with self._lock:
            found = self._by_slug.get(slug)
            if found is not None and same_question(found.question, question):
                return found
            if found is not None:
                raise Conflict(f"the article key {slug!r} is taken by another question")
        answer = compose()  # outside the lock: composing is slow, and a duplicate race only wastes work
        now = self._clock()
        meta = answer.get("meta", {})
        version = ArticleVersion(
            number=1, answer={**answer, "slug": slug}, created=now, created_by="system",
            composer=str(meta.get("composer", "")), kb_snapshot=str(meta.get("kb_snapshot", "")),
            bedside_version=__version__, sources=dict(composer_sources),
        )  # fmt: skip
        article = Article(
            slug=slug, question=normalise_question(question), status=ReviewStatus.SUBMITTED, versions=(version,),
            created=now, updated=now,
        )  # fmt: skip
        with self._lock:
            existing = self._by_slug.setdefault(slug, article)
            if existing is article:
                self._events[slug] = [AuditEvent(now, "system", "compose", "", article.status.value, 1)]
            return existing

    def get(self, slug: str) -> Article:
        with self._lock:
            found = self._by_slug.get(slug)
        if found is None:
            raise NotFound(f"no article {slug!r}")
        return found

    def list(
        self, status: ReviewStatus | None = None, query: str = "", limit: int = 50, *, approved_only: bool = False
    ) -> list[Article]:
        words = normalise_question(query).split()
        with self._lock:
            found = [
                a for a in self._by_slug.values()
                if (status is None or a.status is status) and (a.approved_version or not approved_only)
                and all(w in f"{a.question} {a.latest.answer.get('title', '')}".lower() for w in words)
            ]  # fmt: skip
        return sorted(found, key=lambda a: a.updated, reverse=True)[:limit]

    def review(
        self, slug: str, action: str, actor: User, comment: str = "", version: int | None = None, *,
        override: bool = False,
    ) -> Article:  # fmt: skip
        raise TransitionError("review actions need the editorial service")

    def edit(self, slug: str, actor: User, answer: dict[str, Any]) -> Article:
        raise TransitionError("editing needs the editorial service")

    def history(self, slug: str) -> builtins.list[AuditEvent]:
        self.get(slug)
        with self._lock:
            return list(self._events.get(slug, []))

    def set_status(self, slug: str, status: ReviewStatus) -> Article:
        """Test hook: move an article to `status` (approving pins the latest version; any other status, as if it
        had never been approved)."""
        article = self.get(slug)
        if status not in ReviewStatus:
            raise InvalidInput(f"unknown status {status!r}")
        now = self._clock()
        if status is ReviewStatus.APPROVED:
            number, by, at = len(article.versions), "tester@example.org", now
        else:
            number, by, at = 0, "", ""
        changed = replace(article, status=status, updated=now, approved_version=number, approved_by=by, approved_at=at)
        with self._lock:
            self._by_slug[slug] = changed
        return changed
