"""Where the audit key comes from: BEDSIDE_AUDIT_KEY, else a file `audit_key` readable by its owner only.

The key must live outside the article database, so that whoever can write to the database cannot forge records.
Keep a copy somewhere safe: without it the chain cannot be verified, and a new key means a new chain (`bedside
audit rekey`).
"""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from bedside.config import Settings
from bedside.editorial.audit import MIN_KEY_BYTES, AuditKey
from bedside.errors import InvalidInput
from bedside.store.private import secret_file

__all__ = ["KEY_FILE", "audit_key_for", "key_file_beside", "stored_key"]

KEY_FILE = "audit_key"


def audit_key_for(settings: Settings) -> AuditKey:
    """The installation's audit key: the setting when given, else the key file in the data directory."""
    configured = settings.audit_key.strip()
    if configured:
        if len(configured) < MIN_KEY_BYTES:
            raise InvalidInput(f"BEDSIDE_AUDIT_KEY has {len(configured)} characters; use at least {MIN_KEY_BYTES}")
        return AuditKey(configured.encode())
    return stored_key(settings.data_dir / KEY_FILE)


def key_file_beside(database_url: str) -> Path:
    """The key file next to a SQLite article database file (InvalidInput for any other database)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise InvalidInput(
            "this article database needs an audit key kept outside it: set BEDSIDE_AUDIT_KEY (or open it through the "
            "settings, which keep one in the data directory)"
        )
    return Path(url.database).expanduser().parent / KEY_FILE


def stored_key(path: Path) -> AuditKey:
    """The key in `path`, created (mode 0600) when missing; refused when others may read or write it."""
    secret_file(path, lambda: secrets.token_hex(32))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InvalidInput(f"{path} is open to other users (mode {mode:04o}); make it private: chmod 600 {path}")
    key = path.read_text(encoding="ascii", errors="replace").strip()
    if len(key) < MIN_KEY_BYTES:
        raise InvalidInput(f"{path} does not hold a usable audit key (at least {MIN_KEY_BYTES} characters)")
    return AuditKey(key.encode())
