"""`bedside check --deploy`: is this installation safe to expose? Every check reports, none stops the others.

The checks read the settings and the live databases exactly as the server would open them (the article database's
connections are made by `open_engine`, so its per-connection PRAGMAs are the ones checked).
"""

from __future__ import annotations

import math
import stat
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bedside.config import Settings
from bedside.errors import BedsideError
from bedside.store.article_db import open_engine, users

__all__ = ["DEFAULT_PASSWORDS", "MIN_SECRET", "PLACEHOLDER_SECRETS", "Finding", "check_deployment"]

MIN_SECRET = 32  # the web app's own floor (bedside.web.sessions.MIN_SECRET)
MIN_SECRET_BITS = 96.0  # estimated from the key's own character frequencies: repeated patterns score low
PLACEHOLDER_SECRETS = (
    "changeme",
    "change-me",
    "change_me",
    "replace-me",
    "replaceme",
    "secret",
    "secret-key",
    "secretkey",
    "your-secret-key",
    "insecure",
    "default",
    "password",
    "bedside",
    "example",
    "development",
    "test",
)
# Passwords that a default or bootstrap admin account tends to keep (all at least 12 characters: shorter ones are
# refused when an account is made). The account's own email address is tried as well.
DEFAULT_PASSWORDS = (
    "changeme1234",
    "changemechangeme",
    "password1234",
    "password12345",
    "passwordpassword",
    "administrator",
    "adminadmin12",
    "admin1234567",
    "adminpassword",
    "bedside-admin",
    "bedsideadmin",
    "bedside12345",
    "123456789012",
    "qwertyuiop12",
    "correct horse battery staple",
)
ADMIN_NAMES = ("admin", "administrator", "root", "bedside")


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's outcome: `ok`, or a problem described in `detail`."""

    name: str
    ok: bool
    detail: str


def check_deployment(settings: Settings) -> list[Finding]:
    """Run every deployment check; the installation is ready when all findings are ok."""
    checks: tuple[Callable[[Settings], Finding], ...] = (
        check_secret_key,
        check_environment,
        check_debug,
        check_cors,
        check_database,
        check_admin_accounts,
        check_audit_key,
    )
    return [check(settings) for check in checks]


def check_secret_key(settings: Settings) -> Finding:
    """A configured key, long, not a placeholder, and not a short repeated pattern."""
    key = settings.secret_key.strip()
    name = "secret key"
    if not key:
        return Finding(
            name,
            False,
            "BEDSIDE_SECRET_KEY is not set (the key generated in the data directory is for development only)",
        )
    lowered = key.lower()
    if any(word in lowered for word in PLACEHOLDER_SECRETS if len(word) >= 6) or lowered in PLACEHOLDER_SECRETS:
        return Finding(name, False, "BEDSIDE_SECRET_KEY is a known placeholder; make a random one")
    if len(key) < MIN_SECRET:
        return Finding(name, False, f"BEDSIDE_SECRET_KEY has {len(key)} characters; use at least {MIN_SECRET}")
    bits = entropy_bits(key)
    if bits < MIN_SECRET_BITS:
        return Finding(name, False, f"BEDSIDE_SECRET_KEY looks low-entropy (about {bits:.0f} bits); make a random one")
    return Finding(name, True, f"{len(key)} characters, about {bits:.0f} bits")


def entropy_bits(text: str) -> float:
    """An upper estimate of the text's randomness: the lower of its length times the Shannon entropy of its
    character frequencies (low for few distinct characters) and the bits left after zlib (low for repeats)."""
    counts = Counter(text)
    per_char = -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
    compressed = 8.0 * max(len(zlib.compress(text.encode(), 9)) - _ZLIB_OVERHEAD, 0)
    return min(per_char * len(text), compressed)


_ZLIB_OVERHEAD = 8  # header, end-of-block and checksum bytes of an empty stream


def check_environment(settings: Settings) -> Finding:
    """BEDSIDE_ENVIRONMENT must say production (cookies marked Secure, the key required)."""
    ok = settings.environment == "production"
    return Finding("environment", ok, "production" if ok else f"BEDSIDE_ENVIRONMENT is {settings.environment!r}")


def check_debug(settings: Settings) -> Finding:
    """Debug mode shows tracebacks to whoever triggers an error."""
    return Finding("debug mode", not settings.debug, "off" if not settings.debug else "BEDSIDE_DEBUG is on")


def check_cors(settings: Settings) -> Finding:
    """No wildcard origin: any site could then call the API from its visitors' browsers."""
    origins = settings.cors_origins
    bad = [o for o in origins if o.strip() in ("*", "null") or "*" in o]
    if bad:
        return Finding("CORS", False, f"BEDSIDE_CORS_ORIGINS allows {', '.join(map(repr, bad))}; list exact origins")
    return Finding("CORS", True, f"origins {', '.join(origins)}" if origins else "not enabled (same origin only)")


def check_database(settings: Settings) -> Finding:
    """Commits reach the disk before they are acknowledged (an approval must survive a power cut)."""
    url = settings.resolved_database_url
    try:
        engine = open_engine(url)
    except BedsideError as exc:
        return Finding("database durability", False, str(exc))
    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                problems, summary = _sqlite_durability(connection)
            else:
                problems, summary = _postgres_durability(connection)
    except sa.exc.DBAPIError as exc:
        return Finding("database durability", False, f"cannot open {where}: {exc.orig}")
    finally:
        engine.dispose()
    if problems:
        return Finding("database durability", False, f"{where}: " + "; ".join(problems))
    return Finding("database durability", True, f"{where}: {summary}")


_SYNC_LEVELS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def _sqlite_durability(connection: sa.Connection) -> tuple[list[str], str]:
    journal = str(connection.exec_driver_sql("PRAGMA journal_mode").scalar()).lower()
    level = int(connection.exec_driver_sql("PRAGMA synchronous").scalar() or 0)
    sync = _SYNC_LEVELS.get(level, str(level))
    problems = []
    if journal in ("off", "memory"):
        problems.append(f"journal_mode is {journal}: a crash can corrupt the database")
    if level < 2:  # NORMAL in WAL mode: a power cut can undo the last acknowledged commits
        problems.append(f"synchronous is {sync}: acknowledged commits can be lost on power failure (use FULL)")
    return problems, f"journal_mode {journal}, synchronous {sync}"


def _postgres_durability(connection: sa.Connection) -> tuple[list[str], str]:
    values = {
        name: str(connection.exec_driver_sql(f"SHOW {name}").scalar()).lower()
        for name in ("fsync", "synchronous_commit", "full_page_writes")
    }
    problems = [f"{name} is off" for name, value in values.items() if value == "off"]
    return problems, ", ".join(f"{k} {v}" for k, v in values.items())


def check_admin_accounts(settings: Settings) -> Finding:
    """No admin (or admin-named) account whose password is a well-known default or its own email address."""
    engine = open_engine(settings.resolved_database_url)
    try:
        if not sa.inspect(engine).has_table("users"):
            return Finding("admin accounts", True, "no accounts yet")
        with engine.connect() as connection:
            rows = connection.execute(sa.select(users).where(users.c.active.is_(True))).all()
    except sa.exc.DBAPIError as exc:
        return Finding("admin accounts", False, f"cannot read the accounts: {exc.orig}")
    finally:
        engine.dispose()
    suspects = [r for r in rows if r.role == "admin" or r.email.split("@")[0] in ADMIN_NAMES]
    weak = [r.email for r in suspects if _default_password(r.password_hash, r.email)]
    if weak:
        return Finding("admin accounts", False, f"default password still set for: {', '.join(weak)}")
    admins = sum(1 for r in rows if r.role == "admin")
    return Finding("admin accounts", True, f"{admins} admin account(s), none with a default password")


def _default_password(password_hash: str, email: str) -> bool:
    hasher = PasswordHasher()
    for candidate in (*DEFAULT_PASSWORDS, email):
        try:
            if hasher.verify(password_hash, candidate):
                return True
        except (VerificationError, InvalidHashError):
            continue
    return False


def check_audit_key(settings: Settings) -> Finding:
    """The audit chain's key: configured, or a private key file in the data directory (never created here).

    A PostgreSQL article database shared by several servers needs the same key on each: set BEDSIDE_AUDIT_KEY.
    """
    from bedside.editorial.audit import MIN_KEY_BYTES
    from bedside.editorial.keys import KEY_FILE

    name = "audit key"
    if settings.audit_key.strip():
        n = len(settings.audit_key.strip())
        ok = n >= MIN_KEY_BYTES
        return Finding(
            name,
            ok,
            "BEDSIDE_AUDIT_KEY is set" if ok else f"BEDSIDE_AUDIT_KEY has {n} characters; use at least {MIN_KEY_BYTES}",
        )
    path = settings.data_dir / KEY_FILE
    if settings.database_url.startswith(("postgres", "postgresql")):
        return Finding(
            name,
            False,
            "the article database is PostgreSQL: set BEDSIDE_AUDIT_KEY (the same on every "
            f"server) rather than relying on {path}",
        )
    if not path.exists():
        return Finding(name, True, f"{path} will be made (0600) when the article database is first opened")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return Finding(name, False, f"{path} is open to other users (mode {mode:04o}): chmod 600 {path}")
    return Finding(name, True, f"{path} (mode {mode:04o}); keep a copy of it somewhere safe")
