"""Signed-in people: the secret key and signed values. The server-side sessions a session cookie names live in the
article database (`editorial.session_store`), shared by every web host.

A session cookie holds a random id signed under the secret key (`bedside.web.signing`); the server keeps only the
id's SHA-256.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from bedside.config import Settings
from bedside.editorial.session_store import SESSION_TTL_S, Session, SessionStore
from bedside.errors import InvalidInput
from bedside.store.private import secret_file

__all__ = ["MIN_SECRET", "SESSION_TTL_S", "Session", "SessionStore", "secret_key"]

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
