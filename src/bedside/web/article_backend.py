"""Where the web app gets its `ArticleService`: the one place that binds the editorial core.

`open_articles` returns `bedside.editorial.desk.SqlArticleService` (SQLite or PostgreSQL), the one
implementation. Sign-in and review need `EditorialService`: articles plus accounts, as the SQL service provides them.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from bedside.config import Settings
from bedside.editorial.edits import Check
from bedside.editorial.interface import (
    Article,
    ArticleService,
    ReviewStatus,
    Role,
    User,
)
from bedside.editorial.session_store import SessionStore
from bedside.model import SourceState


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
