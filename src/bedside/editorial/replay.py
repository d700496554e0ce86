"""Replaying the audit chain against the `articles` and `versions` tables.

The chain's hashes prove the records were written with the key; the replay proves the tables still say what the
records say: each article's row state is the state its newest record sealed, each stored version's text is the text
its records sealed, every version was recorded when it was made, every article has records, and each record starts
from the status the one before it left. A status set in the database, an approved text rewritten with the guards
switched off, or a version slipped in directly is found here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bedside.editorial.audit import REKEY, STATE_FIELDS, ChainRecord, article_state, version_hash, versions_hash
from bedside.store.article_db import articles, versions

__all__ = ["legacy_status_problems", "replay"]

CREATES = ("compose", "edit", "regenerate")  # actions that add the version they name


def _version_hashes(connection: Connection) -> dict[int, dict[int, str]]:
    query = sa.select(versions).order_by(versions.c.article_id, versions.c.number).execution_options(yield_per=500)
    found: dict[int, dict[int, str]] = defaultdict(dict)
    for row in connection.execute(query):
        found[int(row.article_id)][int(row.number)] = version_hash(row)
    return found


def _by_article(records: Iterable[ChainRecord]) -> dict[int, list[ChainRecord]]:
    grouped: dict[int, list[ChainRecord]] = defaultdict(list)
    for record in records:
        grouped[record.article_id].append(record)
    return grouped


def replay(connection: Connection, records: list[ChainRecord]) -> tuple[list[str], list[int]]:
    """Problems where the tables and the chain disagree, and the ids of the records they concern."""
    stored = _version_hashes(connection)
    grouped = _by_article(records)
    rows = connection.execute(sa.select(articles).order_by(articles.c.id)).all()
    problems: list[str] = []
    culprits: list[int] = []
    if not records and rows:
        problems.append(f"the audit log is empty but {len(rows)} articles exist (its records were removed)")
        return problems, culprits
    for row in rows:
        history = grouped.get(int(row.id), [])
        if not history:
            problems.append(f"{row.slug}: no audit record (the article was added outside bedside)")
            continue
        found, ids = _replay_article(row, history, stored.get(int(row.id), {}))
        problems += found
        culprits += ids
    return problems, culprits


def _replay_article(
    row: sa.Row[Any], history: list[ChainRecord], stored: dict[int, str]
) -> tuple[list[str], list[int]]:
    slug = row.slug
    problems: list[str] = []
    culprits: list[int] = []
    status, sealed, attested, legacy = "", "", set[int](), False
    for record in history:
        event = record.event
        if event.from_status != status:
            problems.append(
                f"record {record.id}: {slug} goes from {event.from_status or 'nothing'} but the record "
                f"before left it {status or 'nothing'}"
            )
            culprits.append(record.id)
        status = event.to_status
        if not record.keyed:
            legacy = True
            continue
        found = _check_record(slug, record, stored, attested)
        if found:
            problems += found
            culprits.append(record.id)
        legacy = legacy and event.action != REKEY
        sealed = record.state
    if legacy or not sealed:
        problems.append(f"{slug}: its records are unkeyed (written before the chain was keyed) and not attested")
        return problems, culprits
    problems += _state_problems(slug, history[-1].id, sealed, article_state(row))
    if problems and not culprits:
        culprits.append(history[-1].id)
    missing = sorted(set(stored) - attested)
    if missing:
        shown = ", ".join(str(n) for n in missing)
        problems.append(f"{slug}: version {shown} has no audit record (added outside bedside)")
    return problems, culprits


def _check_record(slug: str, record: ChainRecord, stored: dict[int, str], attested: set[int]) -> list[str]:
    event = record.event
    problems: list[str] = []
    state = _parse_state(record.state)
    if state is None or state.get("status") != event.to_status:
        problems.append(f"record {record.id}: its sealed state does not agree with its status {event.to_status}")
    if event.action == REKEY:
        numbers = range(1, event.version + 1)
        if any(n not in stored for n in numbers) or versions_hash(stored[n] for n in numbers) != record.content_hash:
            problems.append(
                f"record {record.id}: versions 1 to {event.version} of {slug} changed since this checkpoint"
            )
        attested.update(numbers)
        return problems
    if event.action in CREATES and event.version != max(attested, default=0) + 1:
        problems.append(f"record {record.id}: makes version {event.version} of {slug} out of sequence")
    if event.version not in stored:
        problems.append(f"record {record.id}: names version {event.version} of {slug}, which is not stored")
    elif stored[event.version] != record.content_hash:
        problems.append(
            f"record {record.id}: version {event.version} of {slug} is not the text this record sealed (rewritten)"
        )
    attested.add(event.version)
    return problems


def _parse_state(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _state_problems(slug: str, record_id: int, sealed: str, actual: str) -> list[str]:
    if sealed == actual:
        return []
    want, have = _parse_state(sealed) or {}, _parse_state(actual) or {}
    differing = [name for name in STATE_FIELDS if want.get(name) != have.get(name)]
    return [
        f"{slug}: the database says {name} {have.get(name)!r} but audit record {record_id} sealed {want.get(name)!r}"
        for name in differing or ["its state"]
    ]


def legacy_status_problems(connection: Connection, records: list[ChainRecord]) -> list[str]:
    """Before re-keying: every article has records, and its status is the one its records end with."""
    grouped = _by_article(records)
    problems = []
    for row in connection.execute(sa.select(articles).order_by(articles.c.id)):
        history = grouped.get(int(row.id))
        if not history:
            problems.append(f"{row.slug}: no audit record")
        elif history[-1].event.to_status != row.status:
            problems.append(
                f"{row.slug}: the database says {row.status!r} but its last record left it "
                f"{history[-1].event.to_status!r}"
            )
    return problems
