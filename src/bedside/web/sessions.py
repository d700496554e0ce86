"""Signed-in people: the secret key, and server-side sessions kept in SQLite in the data directory.

A session cookie holds a random id signed under the secret key (`bedside.web.signing`). The server keeps only the
id's SHA-256 with the account, a CSRF token and an absolute expiry, so signing out (or deactivating the account) ends
the session for good, and a copy of the sessions file holds nothing a browser could present.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bedside.config import Settings
from bedside.errors import InvalidInput
from bedside.store.private import private_file, secret_file

__all__ = ["MIN_SECRET", "SESSION_TTL_S", "Session", "SessionStore", "secret_key"]

SESSION_TTL_S = 12 * 3600  # absolute lifetime: a clinician's shift, then sign in again
MIN_SECRET = 32
KEY_FILE = "secret_key"
_GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def secret_key(settings: Settings) -> bytes:
    """The key that signs cookies: BEDSIDE_SECRET_KEY; in development only, else a random key kept in the data dir.

    Production refuses to start without a configured key of at least MIN_SECRET characters.
    """
    configured = settings.secret_key.strip()
    if settings.environment == "production" and len(configured) < MIN_SECRET:
        problem = "is not set" if not configured else f"is shorter than {MIN_SECRET} characters"
        raise InvalidInput(
            f"BEDSIDE_SECRET_KEY {problem}; production needs a long random key (make one with: {_GENERATE})"
        )
    if configured:
        return configured.encode()
    return _stored_key(settings.data_dir / KEY_FILE)


def _stored_key(path: Path) -> bytes:
    """The key in `path`, created (readable by the owner only) when missing; safe when two processes race."""
    secret_file(path, lambda: secrets.token_urlsafe(48))
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_SECRET:
        raise InvalidInput(f"{path} does not hold a usable secret key; delete it and a new one is made")
    return key.encode()


@dataclass(frozen=True, slots=True)
class Session:
    """One signed-in browser."""

    id: str  # the random id the cookie carries; only its hash is stored
    email: str
    csrf: str  # the token every form of this session must carry
    expires: float  # seconds since the epoch
    epoch: int = 0  # the account's credential epoch at sign-in: a newer one (password changed) ends the session


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Sessions in a small SQLite file (shared by the server's worker processes, kept across restarts)."""

    def __init__(self, path: Path, ttl_s: float = SESSION_TTL_S, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.ttl_s = ttl_s
        self.clock = clock
        private_file(path)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS sessions (id_hash TEXT PRIMARY KEY, email TEXT NOT NULL, "
                "csrf TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS sessions_email ON sessions (email)")
            columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
            if "epoch" not in columns:  # made before sessions knew their account's credential epoch
                try:
                    db.execute("ALTER TABLE sessions ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0")
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            yield db

    def create(self, email: str, epoch: int = 0) -> Session:
        """A new session for the account at its credential `epoch` (and expired ones are swept away)."""
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), email, secrets.token_urlsafe(32), now + self.ttl_s, epoch)
        with self._connect() as db:
            db.execute("DELETE FROM sessions WHERE expires <= ?", (now,))
            db.execute(
                "INSERT INTO sessions (id_hash, email, csrf, created, expires, epoch) VALUES (?, ?, ?, ?, ?, ?)",
                (_digest(session.id), email, session.csrf, now, session.expires, epoch),
            )
        return session

    def get(self, session_id: str) -> Session | None:
        """The session while it lasts, else None."""
        with self._connect() as db:
            row = db.execute(
                "SELECT email, csrf, expires, epoch FROM sessions WHERE id_hash = ?", (_digest(session_id),)
            ).fetchone()
        if row is None or row[2] <= self.clock():
            return None
        return Session(session_id, row[0], row[1], row[2], int(row[3]))

    def delete(self, session_id: str) -> None:
        """End one session."""
        with self._connect() as db:
            db.execute("DELETE FROM sessions WHERE id_hash = ?", (_digest(session_id),))

    def delete_for(self, email: str) -> int:
        """End every session of an account; returns how many there were."""
        with self._connect() as db:
            return db.execute("DELETE FROM sessions WHERE email = ?", (email,)).rowcount
