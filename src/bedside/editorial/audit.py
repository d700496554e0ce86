"""The audit log: append-only records (the database refuses UPDATE and DELETE) linked in one keyed hash chain.

Each record stores the hash of the record before it, the content hash of the article version it concerns and the
article's state after it (status, claim, approval); its own hash is an HMAC-SHA256 over all of that under the audit
key, which lives outside the database (a setting, or a 0600 file in the data directory). So whoever can write to the
database, even with its guards switched off, can neither alter, append nor rewrite records without the key, and
`verify_chain` replays the records against the `articles` and `versions` tables (bedside.editorial.replay): a status
set directly, or an approved text rewritten, no longer matches what the chain recorded.

Records written before the chain was keyed carry the scheme "sha256" (an unkeyed chain); `rekey` checks them and
appends one keyed checkpoint per article, binding its versions and state, after which they are covered too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bedside.editorial.interface import AuditCheck, AuditEvent
from bedside.errors import InvalidInput
from bedside.store.article_db import articles, audit, versions

__all__ = [
    "GENESIS",
    "KEYED",
    "LEGACY",
    "REKEY",
    "AuditKey",
    "ChainRecord",
    "RekeyReport",
    "append_event",
    "article_state",
    "events_for",
    "legacy_hash",
    "rekey",
    "verify_chain",
    "version_hash",
]

GENESIS = ""  # the first record's `prev_hash`
CHAIN_LOCK = 0x61756469  # PostgreSQL advisory lock key serialising appends ("audi")
LEGACY = "sha256"  # records from before the chain was keyed
KEYED = "hmac-sha256"
REKEY = "rekey"  # the checkpoint action `rekey` appends
STATE_FIELDS = ("question", "status", "claimed_by", "approved_by", "approved_at", "approved_version", "sources_changed")
MIN_KEY_BYTES = 32


def _canonical(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True, slots=True)
class AuditKey:
    """The secret that keys the chain; `key_id` names it in records without revealing it."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_BYTES:
            raise InvalidInput(f"the audit key needs at least {MIN_KEY_BYTES} bytes (has {len(self.secret)})")

    @property
    def key_id(self) -> str:
        """A short public fingerprint of the key (a different key gives a different id)."""
        return hashlib.sha256(b"bedside audit key id\x00" + self.secret).hexdigest()[:16]

    def seal(self, fields: list[Any]) -> str:
        """The HMAC-SHA256 of the fields under the key."""
        return hmac.new(self.secret, _canonical(fields), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainRecord:
    """One stored record as the replay needs it."""

    id: int
    article_id: int
    event: AuditEvent
    content_hash: str
    state: str
    keyed: bool


def legacy_hash(prev_hash: str, slug: str, event: AuditEvent) -> str:
    """The unkeyed SHA-256 of a record written before the chain was keyed."""
    fields = [
        prev_hash,
        slug,
        event.at,
        event.actor,
        event.action,
        event.from_status,
        event.to_status,
        event.version,
        event.comment,
    ]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def keyed_hash(key: AuditKey, prev_hash: str, slug: str, event: AuditEvent, content_hash: str, state: str) -> str:
    """A keyed record's hash: every field, the link, the version's content hash and the resulting state."""
    return key.seal(
        [
            KEYED,
            key.key_id,
            prev_hash,
            slug,
            event.at,
            event.actor,
            event.action,
            event.from_status,
            event.to_status,
            event.version,
            event.comment,
            content_hash,
            state,
        ]
    )


def version_hash(row: sa.Row[Any]) -> str:
    """The SHA-256 of a stored version exactly as stored (answer and sources as their JSON text)."""
    fields = [
        row.number,
        row.answer,
        row.sources,
        row.created,
        row.created_by,
        row.composer,
        row.kb_snapshot,
        row.bedside_version,
    ]
    return hashlib.sha256(_canonical(fields)).hexdigest()


def versions_hash(hashes: Iterable[str]) -> str:
    """One hash over a run of version hashes (a checkpoint covers versions 1..N)."""
    return hashlib.sha256(_canonical(list(hashes))).hexdigest()


def article_state(row: sa.Row[Any]) -> str:
    """The article row's audited state as canonical JSON."""
    values = {name: getattr(row, name) for name in STATE_FIELDS}
    values["approved_version"] = int(values["approved_version"])
    values["sources_changed"] = bool(values["sources_changed"])
    return _canonical(values).decode()


def _lock_chain(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":  # SQLite writers are already serialised by BEGIN IMMEDIATE
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})


def _stored_version_hashes(connection: Connection, article_id: int) -> dict[int, str]:
    query = sa.select(versions).where(versions.c.article_id == article_id).order_by(versions.c.number)
    return {int(row.number): version_hash(row) for row in connection.execute(query)}


def append_event(connection: Connection, key: AuditKey, article_id: int, slug: str, event: AuditEvent) -> str:
    """Append `event` inside the caller's write transaction, after the article and version rows are written.

    The record binds the stored content of version `event.version` (a checkpoint: of versions 1..N) and the
    article's row as it now stands. Returns the new record's hash.
    """
    _lock_chain(connection)
    last = sa.select(audit.c.hash).order_by(audit.c.id.desc()).limit(1)
    prev_hash = connection.execute(last).scalar_one_or_none() or GENESIS
    row = connection.execute(sa.select(articles).where(articles.c.id == article_id)).one()
    state = article_state(row)
    stored = _stored_version_hashes(connection, article_id)
    if event.action == REKEY:
        content_hash = versions_hash(stored[n] for n in range(1, event.version + 1))
    else:
        content_hash = stored.get(event.version, "")
    digest = keyed_hash(key, prev_hash, slug, event, content_hash, state)
    connection.execute(
        sa.insert(audit).values(
            article_id=article_id,
            at=event.at,
            actor=event.actor,
            action=event.action,
            from_status=event.from_status,
            to_status=event.to_status,
            version=event.version,
            comment=event.comment,
            prev_hash=prev_hash,
            hash=digest,
            content_hash=content_hash,
            state=state,
            scheme=KEYED,
            key_id=key.key_id,
        )
    )
    return digest


def events_for(connection: Connection, article_id: int) -> list[AuditEvent]:
    """The article's records, oldest first."""
    query = sa.select(audit).where(audit.c.article_id == article_id).order_by(audit.c.id)
    return [_event(row) for row in connection.execute(query)]


@dataclass
class _Walk:
    """What one pass over the chain found."""

    problems: list[str] = field(default_factory=list)
    broken: list[int] = field(default_factory=list)
    records: list[ChainRecord] = field(default_factory=list)
    head: str = GENESIS
    legacy: int = 0


def _walk(connection: Connection, key: AuditKey) -> _Walk:
    query = (
        sa.select(audit, articles.c.slug)
        .join(articles, articles.c.id == audit.c.article_id, isouter=True)
        .order_by(audit.c.id)
        .execution_options(yield_per=1000)
    )
    walk = _Walk()
    keyed_seen = False
    for row in connection.execute(query):
        found = _record_problems(row, walk.head, key, keyed_seen)
        keyed_seen = keyed_seen or row.scheme == KEYED
        walk.legacy += row.scheme == LEGACY
        if found:
            walk.problems.extend(found)
            walk.broken.append(int(row.id))
        walk.records.append(
            ChainRecord(int(row.id), int(row.article_id), _event(row), row.content_hash, row.state, row.scheme == KEYED)
        )
        walk.head = row.hash
    return walk


def verify_chain(connection: Connection, key: AuditKey, trusted_head: str | None = None) -> AuditCheck:
    """Recompute every record's hash and link, then replay the records against the articles and their versions.

    Fails (naming the oldest record at fault where there is one) on an altered, inserted or foreign-keyed record, a
    broken link, an article state or version text that differs from what the chain recorded, an article or version
    with no record, and an empty chain beside stored articles. With `trusted_head` (a head hash copied elsewhere
    earlier), also fail when no record has that hash any more.
    """
    from bedside.editorial.replay import replay

    walk = _walk(connection, key)
    mismatches, culprits = replay(connection, walk.records)
    problems = walk.problems + mismatches
    if walk.legacy and mismatches:
        problems.append(
            f"{walk.legacy} records predate the keyed chain; once checked, attest them with `bedside audit rekey`"
        )
    if trusted_head and not connection.execute(sa.select(audit.c.id).where(audit.c.hash == trusted_head)).first():
        problems.append(f"no record has the trusted head {trusted_head} (records were removed or rewritten)")
    broken = sorted(walk.broken + culprits)
    first = broken[0] if broken else None
    return AuditCheck(
        ok=not problems, records=len(walk.records), problems=tuple(problems), head=walk.head, first_broken=first
    )


def _record_problems(row: sa.Row[Any], expected_prev: str, key: AuditKey, keyed_seen: bool) -> list[str]:
    problems: list[str] = []
    if row.slug is None:
        problems.append(f"record {row.id}: names article {row.article_id}, which does not exist")
    if row.prev_hash != expected_prev:
        problems.append(f"record {row.id}: does not follow the record before it (chain broken)")
    event, slug = _event(row), row.slug or ""
    if row.scheme == LEGACY:
        if keyed_seen:
            problems.append(f"record {row.id}: an unkeyed record after keyed ones (inserted without the audit key)")
        elif legacy_hash(row.prev_hash, slug, event) != row.hash:
            problems.append(f"record {row.id}: its content does not match its hash (altered)")
    elif row.scheme != KEYED:
        problems.append(f"record {row.id}: unknown hash scheme {row.scheme!r}")
    elif row.key_id != key.key_id:
        problems.append(
            f"record {row.id}: sealed with another audit key ({row.key_id}; this installation's key is {key.key_id})"
        )
    elif keyed_hash(key, row.prev_hash, slug, event, row.content_hash, row.state) != row.hash:
        problems.append(f"record {row.id}: its content does not match its hash (altered)")
    return problems


@dataclass(frozen=True, slots=True)
class RekeyReport:
    """What `rekey` checked and appended."""

    legacy_records: int
    legacy_head: str
    checkpoints: tuple[str, ...]  # the slugs given a keyed checkpoint
    head: str


def rekey(connection: Connection, key: AuditKey, at: str) -> RekeyReport:
    """Check the unkeyed records written before the chain was keyed and attest them with keyed checkpoints.

    Inside the caller's write transaction. Refuses (InvalidInput, nothing written) unless the whole chain verifies
    under its own schemes and every article's status is the one its records end with: a checkpoint then binds each
    article's versions and state as they stand, under the key, so later changes to either are found.
    """
    from bedside.editorial.replay import legacy_status_problems

    _lock_chain(connection)
    walk = _walk(connection, key)
    problems = walk.problems + legacy_status_problems(connection, walk.records)
    if problems:
        shown = "; ".join(problems[:20]) + (f"; and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise InvalidInput(f"the audit log does not verify, so it cannot be re-keyed: {shown}")
    pending = sorted({r.article_id for r in walk.records if not r.keyed} - _checkpointed(walk.records))
    slugs = []
    for article_id in pending:
        row = connection.execute(sa.select(articles).where(articles.c.id == article_id)).one()
        latest = max(_stored_version_hashes(connection, article_id), default=0)
        comment = f"keyed checkpoint of the unkeyed records up to {walk.head}"
        event = AuditEvent(at, "system", REKEY, row.status, row.status, latest, comment)
        append_event(connection, key, article_id, row.slug, event)
        slugs.append(row.slug)
    head = connection.execute(sa.select(audit.c.hash).order_by(audit.c.id.desc()).limit(1)).scalar_one_or_none()
    return RekeyReport(walk.legacy, walk.head if walk.legacy else "", tuple(slugs), head or GENESIS)


def _checkpointed(records: list[ChainRecord]) -> set[int]:
    """Articles whose unkeyed records are followed by a keyed checkpoint."""
    done: set[int] = set()
    for record in records:
        if record.keyed and record.event.action == REKEY:
            done.add(record.article_id)
        elif not record.keyed:
            done.discard(record.article_id)
    return done


def _event(row: sa.Row[Any]) -> AuditEvent:
    return AuditEvent(
        at=row.at,
        actor=row.actor,
        action=row.action,
        from_status=row.from_status,
        to_status=row.to_status,
        version=row.version,
        comment=row.comment,
    )
