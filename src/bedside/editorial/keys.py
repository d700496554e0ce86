"""Where the audit key comes from: BEDSIDE_AUDIT_KEY, else a file `audit_key` readable by its owner only.

The key must live outside the article database, so that whoever can write to the database cannot forge records.
Keep a copy somewhere safe: without it the chain cannot be verified, and a new key means a new chain (`bedside
audit rekey`).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from bedside.config import Settings
from bedside.editorial.audit import MIN_KEY_BYTES, AuditKey
from bedside.errors import InvalidInput

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
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)  # atomic, and never replaces a key another process wrote first
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InvalidInput(f"{path} is open to other users (mode {mode:04o}); make it private: chmod 600 {path}")
    key = path.read_text(encoding="ascii", errors="replace").strip()
    if len(key) < MIN_KEY_BYTES:
        raise InvalidInput(f"{path} does not hold a usable audit key (at least {MIN_KEY_BYTES} characters)")
    return AuditKey(key.encode())
