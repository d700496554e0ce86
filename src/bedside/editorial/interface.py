"""The article service's public contract: what the web app and the CLI call.

One article per normalised question; each article has versions (the full answer JSON of interfaces.md, the
knowledge-base snapshot, the composer, the bedside version) and a review status:
submitted -> under_review -> approved, or changes_requested (back to the editor) or rejected (hidden).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class ReviewStatus(StrEnum):
    """Where an article stands in review."""

    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    REJECTED = "rejected"


class Role(StrEnum):
    """What a signed-in person may do."""

    REVIEWER = "reviewer"
    EDITOR = "editor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class User:
    """A reviewer, editor or admin (anonymous readers have no account)."""

    id: int
    email: str
    role: Role
    active: bool = True
    epoch: int = 0  # goes up when the password changes or the account is deactivated: older sessions are over
    display_name: str = ""  # how the Medical Advisory Board page and approved articles name them
    credentials: str = ""  # e.g. "MD, FRCP"
    affiliation: str = ""  # e.g. "Department of Haematology, St Elsewhere Hospital"

    @property
    def public_name(self) -> str:
        """The name the public sees ("Dr Ann Lee, MD, FRCP"), never the email address; "" without a profile."""
        return ", ".join(x for x in (self.display_name, self.credentials) if x) if self.display_name else ""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One append-only record of an action on an article."""

    at: str  # ISO 8601 UTC
    actor: str  # email, or "system"
    action: str
    from_status: str
    to_status: str
    version: int
    comment: str = ""


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """The result of re-computing the audit log's hash chain: `ok` only when every record links and matches."""

    ok: bool
    records: int
    problems: tuple[str, ...] = ()
    head: str = ""  # the newest record's hash: keep a copy elsewhere to detect a rewritten log
    first_broken: int | None = None  # the id of the oldest record that fails, when any does


@dataclass(frozen=True, slots=True)
class ArticleVersion:
    """One composed (or edited) answer, exactly as it was shown."""

    number: int
    answer: dict[str, Any]  # the answer JSON of interfaces.md
    created: str
    created_by: str  # "system" for composed versions, the editor's email for edits
    composer: str
    kb_snapshot: str
    bedside_version: str
    sources: dict[str, str] = field(default_factory=dict)  # document id -> content hash


@dataclass(frozen=True, slots=True)
class Article:
    """An article with its current state; `public_version` is what anonymous readers see."""

    slug: str
    question: str
    status: ReviewStatus
    versions: tuple[ArticleVersion, ...]
    created: str
    updated: str
    claimed_by: str = ""
    approved_by: str = ""
    approved_at: str = ""
    approved_version: int = 0
    sources_changed: bool = False
    # What changed, one line a source ("“Title” retracted: ..."); set with `sources_changed`.
    sources_changes: tuple[str, ...] = ()

    @property
    def latest(self) -> ArticleVersion:
        """The newest version."""
        return self.versions[-1]

    @property
    def public_version(self) -> ArticleVersion | None:
        """Latest approved version if any, else the latest version; None when rejected and never approved."""
        if self.approved_version:
            return self.versions[self.approved_version - 1]
        return None if self.status is ReviewStatus.REJECTED else self.latest


class ArticleService(Protocol):
    """Articles and review. Errors: NotFound, TransitionError (invalid step or role), InvalidInput."""

    def article_for(
        self, question: str, compose: Callable[[], dict[str, Any]], composer_sources: dict[str, str]
    ) -> Article:
        """The article for this question (after normalisation), composing version 1 only when it is new."""
        ...

    def get(self, slug: str) -> Article: ...

    def list(
        self, status: ReviewStatus | None = None, query: str = "", limit: int = 50, *, approved_only: bool = False
    ) -> list[Article]:
        """Newest first; `approved_only`: only articles with an approved version (what the public may browse)."""
        ...

    def review(
        self,
        slug: str,
        action: str,
        actor: User,
        comment: str = "",
        version: int | None = None,
        *,
        override: bool = False,
    ) -> Article:
        """action: claim | approve | request_changes | reject; `version`, the one reviewed, must be the latest;
        `override` approves editor statements the verifier did not find in their cited sources (with a reason in
        `comment`)."""
        ...

    def edit(self, slug: str, actor: User, answer: dict[str, Any]) -> Article:
        """A new version from an editor (statements must keep citations); back to submitted."""
        ...

    def history(self, slug: str) -> builtins.list[AuditEvent]: ...
