"""The article service's "sources changed" check: which articles cite documents that changed, were retracted,
replaced by a newer version or removed since the article's version was composed.

A mixin of `SqlArticleService` (it uses the service's engines, clock and audit key).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bedside.editorial import records
from bedside.editorial.audit import AuditKey, append_event
from bedside.editorial.interface import Article, ArticleVersion, AuditEvent, ReviewStatus
from bedside.editorial.states import SYSTEM
from bedside.model import SourceState
from bedside.store.article_db import articles

__all__ = ["SourceChecks"]


class SourceChecks(ABC):
    """Flag and list articles whose sources changed."""

    _engine: Engine
    _writer: Engine
    _audit_key: AuditKey

    @abstractmethod
    def _now(self) -> str:
        """The service's clock (ISO 8601, UTC)."""

    def flag_changed_sources(self, current: dict[str, str]) -> list[str]:
        """Flag articles whose current version's sources changed or left the knowledge base.

        `current` maps every document id in the knowledge base to its content hash (see `check_sources` for the
        full check, with retractions and newer versions). Returns the slugs flagged after this run.
        """
        return self.check_sources(lambda ids: {i: SourceState(current[i]) for i in ids if i in current})

    def check_sources(self, states: Callable[[list[str]], Mapping[str, SourceState]]) -> list[str]:
        """Flag "sources changed", with what changed, on every article whose current version cites a document that
        was re-ingested with different content, retracted, replaced by a newer version or removed; clear the flag
        where its sources are current again. The current versions are the approved one and the latest (a rejected
        article's latest only while an approved version is public). Nothing else of an article changes: a flagged
        article is re-composed (`regenerate`) and reviewed like any other. `states(ids)` describes the documents
        the knowledge base holds among `ids`. Returns the slugs flagged after this run.
        """
        query = sa.select(articles).with_for_update()
        flagged: list[str] = []
        with self._writer.begin() as connection:
            rows = connection.execute(query).all()
            current = {row.id: _current_versions(connection, row) for row in rows}
            cited = sorted({doc_id for vs in current.values() for v in vs for doc_id in v.sources})
            known = states(cited) if cited else {}
            for row in rows:
                changes = list(dict.fromkeys(c for v in current[row.id] for c in _source_changes(v, known)))
                if changes != json.loads(row.sources_changes or "[]") or bool(changes) != row.sources_changed:
                    self._set_flag(connection, row, changes)
                if changes:
                    flagged.append(row.slug)
        return sorted(flagged)

    def stale(self) -> list[Article]:
        """Articles flagged "sources changed", least recently updated first (as last checked)."""
        with self._engine.connect() as connection:
            found = records.load_articles(connection, [articles.c.sources_changed.is_(True)])
        return found[::-1]

    def _set_flag(self, connection: Connection, row: records.ArticleRow, changes: list[str]) -> None:
        records.update_article(
            connection, row, sources_changed=bool(changes), sources_changes=json.dumps(changes, ensure_ascii=False)
        )
        action = "sources_changed" if changes else "sources_current"
        shown = "; ".join(changes[:20]) + (f"; and {len(changes) - 20} more" if len(changes) > 20 else "")
        event = AuditEvent(self._now(), SYSTEM.email, action, row.status, row.status, row.approved_version, shown)
        append_event(connection, self._audit_key, row.id, row.slug, event)


def _current_versions(connection: Connection, row: records.ArticleRow) -> list[ArticleVersion]:
    """The versions a "sources changed" check looks at: the approved one (public) and the latest (under review)."""
    if row.status == ReviewStatus.REJECTED.value and not row.approved_version:
        return []
    latest = records.latest_version(connection, row.id)
    shown = [records.version(connection, row.id, row.approved_version)] if row.approved_version else []
    if row.status != ReviewStatus.REJECTED.value and latest.number != row.approved_version:
        shown.append(latest)
    return shown


def _source_changes(version: ArticleVersion, known: Mapping[str, SourceState]) -> list[str]:
    """One line for each source of this version that changed since it was composed, in reference order."""
    refs = {str(r.get("document_id", "")): r for r in version.answer.get("references", []) if isinstance(r, dict)}
    order = [d for d in refs if d in version.sources] + sorted(set(version.sources) - set(refs))
    changes = []
    for doc_id in order:
        ref = refs.get(doc_id, {})
        state = known.get(doc_id)
        name = f"“{(state.title if state else '') or ref.get('title') or doc_id}” ({doc_id})"
        if state is None:
            changes.append(f"{name} removed from the knowledge base")
            continue
        if state.retracted:
            changes.append(f"{name} retracted" + (f" ({state.retraction})" if state.retraction else ""))
        elif state.notice:
            changes.append(f"{name} is a {state.notice}, not evidence")
        elif state.content_hash != version.sources[doc_id]:
            changes.append(f"{name} changed: re-ingested with different content")
        shown = set(ref.get("notes") or ())
        for newer in state.newer:
            if newer.pmid and not newer.document_id and any(f"PMID {newer.pmid})" in note for note in shown):
                continue  # the update was already shown with the reference when this version was composed
            what = f"“{newer.title}”" if newer.title else "a newer version"
            year = f", {newer.year}" if newer.year else ""
            where = newer.document_id or (f"PMID {newer.pmid}" if newer.pmid else "")
            changes.append(f"{name} replaced by a newer version: {what} ({where}{year})".replace(" ()", ""))
        changes += [f"{name}: new {note[0].lower()}{note[1:]}" for note in state.notes if note not in shown]
    return changes
