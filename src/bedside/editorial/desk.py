"""The SQL-backed article service: articles, versions, review, users and the audit log in one database.

Every change is one transaction that locks the article first and ends with an audit record, so two people acting
on the same article at once are serialised: exactly one succeeds, the other gets Conflict, and nothing is lost.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from bedside import __version__
from bedside.config import Settings
from bedside.editorial import records
from bedside.editorial.audit import AuditKey, RekeyReport, append_event, events_for, rekey, verify_chain
from bedside.editorial.desk_rules import check_answer, is_text, review_effects, review_subject, stale_edit, stale_review
from bedside.editorial.edits import Check, apply_edit, prechecked
from bedside.editorial.export import ExportFormat, export_files
from bedside.editorial.interface import Article, ArticleVersion, AuditCheck, AuditEvent, ReviewStatus, User
from bedside.editorial.keys import audit_key_for, key_file_beside, stored_key
from bedside.editorial.session_store import SessionStore
from bedside.editorial.source_checks import SourceChecks
from bedside.editorial.states import SYSTEM, Action, Subject, Transition, advance
from bedside.editorial.user_admin import UserAdmin
from bedside.editorial.users import Accounts
from bedside.errors import BackendUnavailable, Conflict, InvalidInput, NotFound
from bedside.model import Answer
from bedside.store.article_db import WRITE, articles, migrate, open_engine
from bedside.text.slugs import legacy_slug_for, normalise_question, same_question, slug_for

__all__ = ["Recompose", "SqlArticleService", "open_article_service"]

# regenerate's composer: the question in, the answer JSON and its sources (document id -> content hash) out
Recompose = Callable[[str], tuple[dict[str, Any], dict[str, str]]]


def open_article_service(settings: Settings) -> SqlArticleService:
    """The article service for these settings (the web app's and the CLI's entry point)."""
    return SqlArticleService(settings.resolved_database_url, audit_key=audit_key_for(settings))


class SqlArticleService(SourceChecks, UserAdmin):
    """Articles and review over SQLAlchemy; SQLite by default, PostgreSQL by URL. Migrates to head on open.

    `audit_key` keys the audit chain; without it, a SQLite database uses the key file beside it, and any other
    database is refused (its key must come from the settings).
    """

    def __init__(
        self,
        database_url: str,
        clock: Callable[[], datetime] | None = None,
        *,
        hasher: PasswordHasher | None = None,
        audit_key: AuditKey | None = None,
    ) -> None:
        self._engine = open_engine(database_url)
        try:
            migrate(self._engine)
        except OperationalError as exc:
            self._engine.dispose()
            where = self._engine.url.render_as_string(hide_password=True)
            raise BackendUnavailable(f"cannot open the article database {where}: {exc.orig}") from None
        except BaseException:
            self._engine.dispose()
            raise
        try:
            self._audit_key = audit_key or stored_key(key_file_beside(database_url))
        except BaseException:
            self._engine.dispose()
            raise
        self._writer = self._engine.execution_options(**{WRITE: True})
        self._clock = clock or (lambda: datetime.now(UTC))
        self.users = Accounts(self._engine, self._writer, hasher or PasswordHasher(), self._now)
        self.sessions = SessionStore(self._engine)  # signed-in browsers, shared by every host of this database

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> SqlArticleService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> str:
        now = self._clock()
        now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
        return now.isoformat(timespec="seconds")

    # -- reading -----------------------------------------------------------------------------------------------

    def get(self, slug: str) -> Article:
        """The article with this slug (every version, newest last)."""
        if not is_text(slug):
            raise NotFound(f"no article {slug.encode('utf-8', 'backslashreplace').decode()!r}")
        with self._engine.connect() as connection:
            found = records.load_articles(connection, [articles.c.slug == slug])
        if not found:
            raise NotFound(f"no article {slug!r}")
        return found[0]

    def list(
        self, status: ReviewStatus | None = None, query: str = "", limit: int = 50, *, approved_only: bool = False
    ) -> list[Article]:
        """Articles, most recently updated first; `query` words must all occur in the question or title;
        `approved_only`: only those with an approved version."""
        where = [articles.c.search.contains(word, autoescape=True) for word in normalise_question(query).split()]
        if status is not None:
            where.append(articles.c.status == ReviewStatus(status).value)
        if approved_only:
            where.append(articles.c.approved_version > 0)
        with self._engine.connect() as connection:
            return records.load_articles(connection, where, max(0, limit))

    def queue(self, status: ReviewStatus, limit: int = 200) -> builtins.list[Article]:
        """Articles with this status, least recently updated first (a review queue: the longest waiting on top)."""
        oldest = (
            sa.select(articles.c.id)
            .where(articles.c.status == ReviewStatus(status).value)
            .order_by(articles.c.updated, articles.c.id)
            .limit(max(0, limit))
        )
        with self._engine.connect() as connection:
            ids = builtins.list(connection.execute(oldest).scalars())
            found = records.load_articles(connection, [articles.c.id.in_(ids)]) if ids else []
        return found[::-1]  # load_articles orders newest first

    def history(self, slug: str) -> builtins.list[AuditEvent]:
        """The article's audit records, oldest first."""
        with self._engine.connect() as connection:
            article_id = connection.execute(sa.select(articles.c.id).where(articles.c.slug == slug)).scalar()
            if article_id is None:
                raise NotFound(f"no article {slug!r}")
            return events_for(connection, article_id)

    def verify_audit(self, trusted_head: str | None = None) -> AuditCheck:
        """Recompute the audit log's hash chain (and, given a head kept elsewhere, check the log still holds it)."""
        with self._engine.connect() as connection:
            if connection.dialect.name == "postgresql":  # one snapshot for the chain and the tables it audits
                connection.execution_options(isolation_level="REPEATABLE READ")
            return verify_chain(connection, self._audit_key, trusted_head)

    def rekey_audit(self) -> RekeyReport:
        """Check the records written before the chain was keyed and attest them with keyed checkpoints."""
        with self._writer.begin() as connection:
            return rekey(connection, self._audit_key, self._now())

    def export(
        self,
        status: ReviewStatus = ReviewStatus.APPROVED,
        fmt: ExportFormat = "markdown",
        *,
        markdown: Callable[[Answer], str] | None = None,
    ) -> dict[str, str]:
        """File name -> content for every article with this status (for approved: the approved version); Markdown
        is written by `markdown` (see `export_files`)."""
        status = ReviewStatus(status)
        if status is ReviewStatus.APPROVED:
            where = [articles.c.approved_version > 0]  # as public: an approved version outlives a rejected rewrite
        else:
            where = [articles.c.status == status.value]
        with self._engine.connect() as connection:
            return export_files(records.load_articles(connection, where), fmt, status, markdown)

    # -- writing -----------------------------------------------------------------------------------------------

    def article_for(
        self, question: str, compose: Callable[[], dict[str, Any]], composer_sources: dict[str, str]
    ) -> Article:
        """The article for this question (after normalisation), composing version 1 only when it is new."""
        question = " ".join(question.split())
        if not question:
            raise InvalidInput("the question is empty")
        slug = slug_for(question)
        existing = self._article_asking(question, slug)
        if existing is not None and existing.status is ReviewStatus.REJECTED:
            return self._ask_again(existing, compose, composer_sources)
        if existing is not None:
            return existing
        answer = compose()  # outside any transaction: composing is slow; a lost race only wastes the work
        if not isinstance(answer, dict):
            raise InvalidInput("the composed answer must be a JSON object")
        try:
            with self._writer.begin() as connection:
                self._create(connection, slug, question, answer, composer_sources)
        except IntegrityError:  # someone else created it first (PostgreSQL); theirs stands
            pass
        made = self._article_asking(question, slug)
        if made is None:
            raise Conflict(f"the article key {slug!r} is taken by another question")
        return made

    def _ask_again(
        self, rejected: Article, compose: Callable[[], dict[str, Any]], composer_sources: dict[str, str]
    ) -> Article:
        """A rejected article asked about again: a version composed afresh (by "system") goes back to review."""
        answer = compose()
        if not isinstance(answer, dict):
            raise InvalidInput("the composed answer must be a JSON object")
        with self._writer.begin() as connection:
            row = records.lock_article(connection, rejected.slug)
            if row.status != ReviewStatus.REJECTED.value:  # someone asked or edited first: theirs stands
                return self.get(rejected.slug)
            latest = records.latest_version(connection, row.id)
            step = advance(
                review_subject(row, latest), Action.REGENERATE, SYSTEM, self._now(), "asked again after rejection"
            )
            answer = {**answer, "slug": rejected.slug}
            version = self._version(step.event.version, answer, step.event.at, SYSTEM.email, composer_sources)
            self._add_version(connection, row, version, step)
        return self.get(rejected.slug)

    def _article_asking(self, question: str, slug: str) -> Article | None:
        """The article that answers exactly this question (by its key, or the shorter key of older articles)."""
        for key in (slug, legacy_slug_for(question)):
            try:
                found = self.get(key)
            except NotFound:
                continue
            if same_question(found.question, question):
                return found
            if key == slug:  # the full digest of another question: refuse rather than answer the wrong one
                raise Conflict(f"the article key {slug!r} is taken by another question")
        return None

    def _create(
        self, connection: Connection, slug: str, question: str, answer: dict[str, Any], sources: dict[str, str]
    ) -> None:
        if connection.execute(sa.select(articles.c.id).where(articles.c.slug == slug)).first() is not None:
            return
        now = self._now()
        search = normalise_question(f"{question} {answer.get('title', '')}")
        article_id = records.insert_article(connection, slug, question, search, now)
        version = self._version(1, {**answer, "slug": slug}, now, SYSTEM.email, sources)
        records.insert_version(connection, article_id, version)
        event = AuditEvent(now, SYSTEM.email, "compose", "", ReviewStatus.SUBMITTED.value, 1)
        append_event(connection, self._audit_key, article_id, slug, event)

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
        """action: claim | release | approve | request_changes | reject (the last two need a comment; approving
        editor statements the verifier did not find in their sources needs `override` and a reason).

        `version` is the version the reviewer saw: when a newer one exists, Conflict and nothing changes.
        """
        with self._writer.begin() as connection:
            user = self.users.current(connection, actor)
            row = records.lock_article(connection, slug)
            latest = records.latest_version(connection, row.id)
            subject = review_subject(row, latest, records.authors_since(connection, row.id, row.approved_version))
            stale = version is not None and version != latest.number
            try:
                step = advance(subject, action, user, self._now(), comment, override=override)
            except InvalidInput:
                if stale and action in {a.value for a in Action}:  # e.g. an override the seen version never needed
                    raise stale_review(version or 0, latest.number, action) from None
                raise
            if stale:
                raise stale_review(version or 0, latest.number, step.event.action)
            values = review_effects(step, user, latest.number)
            records.update_article(connection, row, status=step.status.value, updated=step.event.at, **values)
            append_event(connection, self._audit_key, row.id, slug, step.event)
        return self.get(slug)

    def edit(
        self, slug: str, actor: User, answer: dict[str, Any], base: int | None = None, check: Check | None = None
    ) -> Article:
        """A new version from an editor (statements must keep citations); back to submitted.

        `base`, when given, is the version number the editor started from: if a newer one exists, Conflict.
        `check` verifies the editor's statements against their cited sources; without it they count as unchecked.
        """
        if check is not None:  # before the transaction: verifying is slow and must not hold the write lock
            check = prechecked(self.get(slug).latest.answer, answer, check)
        with self._writer.begin() as connection:
            user = self.users.current(connection, actor)
            row = records.lock_article(connection, slug)
            latest = records.latest_version(connection, row.id)
            step = advance(review_subject(row, latest), Action.EDIT, user, self._now())
            if base is not None and base != latest.number:
                raise stale_edit(base, latest.number)
            edited = apply_edit(latest.answer, answer, check)
            version = self._version(step.event.version, edited, step.event.at, user.email, latest.sources, latest)
            self._add_version(connection, row, version, step)
        return self.get(slug)

    def regenerate(self, slug: str, compose: Recompose, actor: User | None = None) -> Article:
        """Compose a new submitted version from the current knowledge base; the approved version stays public.

        `compose(question)` returns the answer JSON and its sources. `actor` (default "system") must be an editor
        or admin; the new version counts as composed by "system", so its trigger may still approve it.
        """
        user = self._acting(actor)
        article = self.get(slug)
        advance(Subject.of(article), Action.REGENERATE, user, self._now())  # refuse before the slow composing
        answer, sources = compose(article.question)
        if not isinstance(answer, dict):
            raise InvalidInput("the composed answer must be a JSON object")
        with self._writer.begin() as connection:
            row = records.lock_article(connection, slug)
            step = advance(
                review_subject(row, records.latest_version(connection, row.id)), Action.REGENERATE, user, self._now()
            )
            version = self._version(step.event.version, {**answer, "slug": slug}, step.event.at, SYSTEM.email, sources)
            self._add_version(connection, row, version, step)
        return self.get(slug)

    def _acting(self, actor: User | None) -> User:
        if actor is None:
            return SYSTEM
        with self._engine.connect() as connection:
            return self.users.current(connection, actor)

    def _add_version(
        self, connection: Connection, row: records.ArticleRow, version: ArticleVersion, step: Transition
    ) -> None:
        records.insert_version(connection, row.id, version)
        search = normalise_question(f"{row.question} {version.answer.get('title', '')}")
        values = {"status": step.status.value, "updated": step.event.at, "claimed_by": "", "search": search}
        records.update_article(connection, row, **values)
        append_event(connection, self._audit_key, row.id, row.slug, step.event)

    def _version(
        self,
        number: int,
        answer: dict[str, Any],
        at: str,
        by: str,
        sources: dict[str, str],
        base: ArticleVersion | None = None,
    ) -> ArticleVersion:
        check_answer(answer)
        meta = answer.get("meta")
        meta = meta if isinstance(meta, dict) else {}
        return ArticleVersion(
            number=number,
            answer=answer,
            created=at,
            created_by=by,
            composer=base.composer if base else str(meta.get("composer", "")),
            kb_snapshot=base.kb_snapshot if base else str(meta.get("kb_snapshot", "")),
            bedside_version=__version__,
            sources=dict(sources),
        )
