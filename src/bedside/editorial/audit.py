"""The audit log: append-only records (the database refuses UPDATE and DELETE) linked in one hash chain.

Each record stores the hash of the record before it, and its own hash covers that link and every field, so editing,
removing or reordering a record breaks the chain from that point on. The chain proves integrity only relative to a
trusted copy of its head (`AuditCheck.head`): whoever can rewrite the whole table can also recompute every hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bedside.editorial.interface import AuditCheck, AuditEvent
from bedside.store.articles import articles, audit

__all__ = ["GENESIS", "append_event", "events_for", "record_hash", "verify_chain"]

GENESIS = ""  # the first record's `prev_hash`
CHAIN_LOCK = 0x61756469  # PostgreSQL advisory lock key serialising appends ("audi")


def record_hash(prev_hash: str, slug: str, event: AuditEvent) -> str:
    """The SHA-256 of one record's fields and the hash of the record before it."""
    fields = [
        prev_hash, slug, event.at, event.actor, event.action, event.from_status, event.to_status, event.version,
        event.comment,
    ]  # fmt: skip
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def append_event(connection: Connection, article_id: int, slug: str, event: AuditEvent) -> str:
    """Append `event` to the chain inside the caller's write transaction; returns the new record's hash."""
    if connection.dialect.name == "postgresql":  # SQLite writers are already serialised by BEGIN IMMEDIATE
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    last = sa.select(audit.c.hash).order_by(audit.c.id.desc()).limit(1)
    prev_hash = connection.execute(last).scalar_one_or_none() or GENESIS
    digest = record_hash(prev_hash, slug, event)
    connection.execute(
        sa.insert(audit).values(
            article_id=article_id, at=event.at, actor=event.actor, action=event.action,
            from_status=event.from_status, to_status=event.to_status, version=event.version,
            comment=event.comment, prev_hash=prev_hash, hash=digest,
        )
    )  # fmt: skip
    return digest


def events_for(connection: Connection, article_id: int) -> list[AuditEvent]:
    """The article's records, oldest first."""
    query = sa.select(audit).where(audit.c.article_id == article_id).order_by(audit.c.id)
    return [_event(row) for row in connection.execute(query)]


def verify_chain(connection: Connection, trusted_head: str | None = None) -> AuditCheck:
    """Recompute every record's hash and link, oldest first; name the oldest record that fails.

    With `trusted_head` (a head hash copied elsewhere earlier), also fail when no record has that hash any more:
    the chain alone cannot show that its newest records were cut off, or that the whole log was rewritten.
    """
    query = (
        sa.select(audit, articles.c.slug)
        .join(articles, articles.c.id == audit.c.article_id, isouter=True)
        .order_by(audit.c.id)
        .execution_options(yield_per=1000)
    )
    problems: list[str] = []
    broken: list[int] = []
    expected = GENESIS
    count = 0
    for row in connection.execute(query):
        count += 1
        found = _record_problems(row, expected)
        if found:
            problems.extend(found)
            broken.append(int(row.id))
        expected = row.hash
    if trusted_head and not connection.execute(sa.select(audit.c.id).where(audit.c.hash == trusted_head)).first():
        problems.append(f"no record has the trusted head {trusted_head} (records were removed or rewritten)")
    first = broken[0] if broken else None
    return AuditCheck(ok=not problems, records=count, problems=tuple(problems), head=expected, first_broken=first)


def _record_problems(row: sa.Row[Any], expected_prev: str) -> list[str]:
    problems: list[str] = []
    if row.slug is None:
        problems.append(f"record {row.id}: names article {row.article_id}, which does not exist")
    if row.prev_hash != expected_prev:
        problems.append(f"record {row.id}: does not follow the record before it (chain broken)")
    if record_hash(row.prev_hash, row.slug or "", _event(row)) != row.hash:
        problems.append(f"record {row.id}: its content does not match its hash (altered)")
    return problems


def _event(row: sa.Row[Any]) -> AuditEvent:
    return AuditEvent(
        at=row.at, actor=row.actor, action=row.action, from_status=row.from_status, to_status=row.to_status,
        version=row.version, comment=row.comment,
    )  # fmt: skip
