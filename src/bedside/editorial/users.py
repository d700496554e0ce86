"""People who review and edit: accounts with argon2-hashed passwords and hashed API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bedside.editorial.interface import Role, User
from bedside.errors import InvalidInput, NotFound, PermissionDenied
from bedside.store.articles import tokens, users

__all__ = ["MIN_PASSWORD", "TOKEN_PREFIX", "Accounts", "generate_password", "hash_token"]

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
TOKEN_PREFIX = "bst_"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def generate_password() -> str:
    """A strong random password (about 144 bits)."""
    return secrets.token_urlsafe(18)


def hash_token(token: str) -> str:
    """Tokens are 256 random bits, so a fast hash is enough to make a stolen table useless."""
    return hashlib.sha256(token.encode()).hexdigest()


def _email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise InvalidInput(f"not an email address: {email!r}")
    return email


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {role!r} (expected one of: {allowed})") from None


def _user(row: sa.Row[Any]) -> User:
    return User(
        id=row.id, email=row.email, role=Role(row.role), active=bool(row.active), display_name=row.display_name,
        credentials=row.credentials, affiliation=row.affiliation,
    )  # fmt: skip


PROFILE_LIMITS = {"display_name": 200, "credentials": 200, "affiliation": 300}
_PROFILE_LABELS = {"display_name": "display name", "credentials": "credentials", "affiliation": "affiliation"}


def _profile(values: dict[str, str | None]) -> dict[str, str]:
    """The profile fields given (None: unchanged), trimmed; InvalidInput naming a field that is too long, holds a
    control character or looks like an email address (the public never sees one)."""
    out = {}
    for field, value in values.items():
        if value is None:
            continue
        value = " ".join(value.split())
        label = _PROFILE_LABELS[field]
        if len(value) > PROFILE_LIMITS[field]:
            raise InvalidInput(f"{label} is too long ({len(value)} characters; at most {PROFILE_LIMITS[field]})")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise InvalidInput(f"{label} holds a control character")
        if "@" in value:
            raise InvalidInput(f"{label} may not hold an email address: it is shown to the public")
        out[field] = value
    return out


class Accounts:
    """User accounts and API tokens in the article database."""

    def __init__(self, engine: Engine, writer: Engine, hasher: PasswordHasher, now: Callable[[], str]) -> None:
        self._engine = engine
        self._writer = writer
        self._hasher = hasher
        self._now = now
        self._dummy_hash = ""

    def add(self, email: str, role: Role | str, password: str | None = None) -> tuple[User, str]:
        """Create an account; returns it with its password (a generated one when `password` is None)."""
        email, role = _email(email), _role(role)
        password = generate_password() if password is None else password
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise InvalidInput(f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        row = {"email": email, "role": role.value, "password_hash": self._hasher.hash(password), "active": True}
        try:
            with self._writer.begin() as connection:
                connection.execute(sa.insert(users).values(**row, created=self._now()))
        except IntegrityError:
            raise InvalidInput(f"a user {email!r} already exists") from None
        return self.get(email), password

    def get(self, email: str) -> User:
        """The account with this email address."""
        with self._engine.connect() as connection:
            row = connection.execute(sa.select(users).where(users.c.email == email.strip().lower())).one_or_none()
        if row is None:
            raise NotFound(f"no user {email!r}")
        return _user(row)

    def list(self) -> list[User]:
        """Every account, by email."""
        with self._engine.connect() as connection:
            return [_user(row) for row in connection.execute(sa.select(users).order_by(users.c.email))]

    def set_active(self, email: str, active: bool) -> User:
        """Enable or disable an account; a disabled account's password and tokens stop working."""
        return self._set(email, active=active)

    def set_profile(
        self, email: str, display_name: str | None = None, credentials: str | None = None,
        affiliation: str | None = None,
    ) -> User:  # fmt: skip
        """Set how the Medical Advisory Board names a person (fields left None stay as they are)."""
        values = _profile({"display_name": display_name, "credentials": credentials, "affiliation": affiliation})
        return self._set(email, **values) if values else self.get(email)

    def set_role(self, email: str, role: Role | str) -> User:
        """Give an account another role."""
        return self._set(email, role=_role(role).value)

    def _set(self, email: str, **values: object) -> User:
        with self._writer.begin() as connection:
            result = connection.execute(sa.update(users).where(users.c.email == email.strip().lower()).values(values))
        if result.rowcount != 1:
            raise NotFound(f"no user {email!r}")
        return self.get(email)

    def issue_token(self, email: str) -> str:
        """A new API token for the account; only its hash is stored, so it is shown once."""
        user = self.get(email)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._writer.begin() as connection:
            values = {"user_id": user.id, "token_hash": hash_token(token), "created": self._now()}
            connection.execute(sa.insert(tokens).values(**values))
        return token

    def revoke_tokens(self, email: str) -> int:
        """Remove every API token of the account; returns how many there were."""
        user = self.get(email)
        with self._writer.begin() as connection:
            return connection.execute(sa.delete(tokens).where(tokens.c.user_id == user.id)).rowcount

    def by_token(self, token: str) -> User | None:
        """The active account this token belongs to, or None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        query = sa.select(users).join(tokens, tokens.c.user_id == users.c.id)
        with self._engine.connect() as connection:
            row = connection.execute(query.where(tokens.c.token_hash == hash_token(token))).one_or_none()
        return _user(row) if row is not None and row.active else None

    def authenticate(self, email: str, password: str) -> User | None:
        """The active account if the password matches, else None (the same work either way)."""
        with self._engine.connect() as connection:
            row = connection.execute(sa.select(users).where(users.c.email == email.strip().lower())).one_or_none()
        stored = row.password_hash if row is not None else self._dummy()
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.active:
            return None
        if self._hasher.check_needs_rehash(stored):
            self._set(row.email, password_hash=self._hasher.hash(password))
        return _user(row)

    def current(self, connection: Connection, actor: User) -> User:
        """`actor` as the database knows them now (role and active flag may have changed since sign-in)."""
        row = connection.execute(sa.select(users).where(users.c.email == actor.email)).one_or_none()
        if row is None:
            raise PermissionDenied(f"{actor.email} is not a known user")
        return _user(row)

    def _dummy(self) -> str:
        if not self._dummy_hash:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash
