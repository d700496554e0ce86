"""Signed-in browsers' sessions, kept in the article database so that every web host behind one database shares
them (a sign-out or a password change on one host ends the session on all).

A session cookie holds a random id and its HMAC under the secret key (`web.sessions.Signer`). The database keeps
only the id's SHA-256 with the account, a CSRF token, the account's credential epoch and an absolute expiry, so
signing out (or deactivating the account) ends the session for good, and a copy of the table holds nothing a
browser could present.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bedside.store.article_db import WRITE, sessions
from bedside.store.sqlite import open_as_is

__all__ = ["SESSION_TTL_S", "Session", "SessionStore"]

SESSION_TTL_S = 12 * 3600  # absolute lifetime: a clinician's shift, then sign in again


@dataclass(frozen=True, slots=True)
class Session:
    """One signed-in browser."""

    id: str  # the random id the cookie carries; only its hash is stored
    email: str
    csrf: str  # the token every form of this session must carry
    expires: float  # seconds since the epoch
    epoch: int = 0  # the account's credential epoch at sign-in: a newer one (password changed) ends the session


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


class SessionStore:
    """Sessions in the article database's `sessions` table (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, ttl_s: float = SESSION_TTL_S, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE: True})
        self.ttl_s = ttl_s
        self.clock = clock

    def create(self, email: str, epoch: int = 0) -> Session:
        """A new session for the account at its credential `epoch` (and expired ones are swept away)."""
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), email, secrets.token_urlsafe(32), now + self.ttl_s, epoch)
        with self._writer.begin() as connection:
            connection.execute(sa.delete(sessions).where(sessions.c.expires <= now))
            connection.execute(
                sa.insert(sessions).values(
                    id_hash=_digest(session.id),
                    email=email,
                    csrf=session.csrf,
                    created=now,
                    expires=session.expires,
                    epoch=epoch,
                )
            )
        return session

    def get(self, session_id: str) -> Session | None:
        """The session while it lasts, else None."""
        query = sa.select(sessions.c.email, sessions.c.csrf, sessions.c.expires, sessions.c.epoch).where(
            sessions.c.id_hash == _digest(session_id)
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None or row.expires <= self.clock():
            return None
        return Session(session_id, row.email, row.csrf, float(row.expires), int(row.epoch))

    def delete(self, session_id: str) -> None:
        """End one session."""
        with self._writer.begin() as connection:
            connection.execute(sa.delete(sessions).where(sessions.c.id_hash == _digest(session_id)))

    def delete_for(self, email: str) -> int:
        """End every session of an account; returns how many there were."""
        with self._writer.begin() as connection:
            return int(connection.execute(sa.delete(sessions).where(sessions.c.email == email)).rowcount)

    def adopt_file(self, path: Path) -> int:
        """Move the sessions an earlier release kept in its own SQLite file (`sessions.db` in the data directory)
        into this table, so nobody signed in is signed out by the upgrade; then delete the file. Returns how many
        live sessions moved."""
        if not path.exists():
            return 0
        now = self.clock()
        with closing(open_as_is(path, timeout=10)) as db:
            columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
            epoch = "epoch" if "epoch" in columns else "0"
            rows = (
                db.execute(
                    f"SELECT id_hash, email, csrf, created, expires, {epoch} FROM sessions WHERE expires > ?",  # nosec B608
                    (now,),
                ).fetchall()
                if columns
                else []
            )
        with self._writer.begin() as connection:
            held = set(connection.execute(sa.select(sessions.c.id_hash)).scalars())
            fresh = [row for row in rows if row[0] not in held]
            if fresh:
                keys = ("id_hash", "email", "csrf", "created", "expires", "epoch")
                connection.execute(sa.insert(sessions), [dict(zip(keys, row, strict=True)) for row in fresh])
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        return len(fresh)
