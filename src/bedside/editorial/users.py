"""People who review and edit: accounts with argon2-hashed passwords and hashed API tokens."""

from __future__ import annotations

import builtins
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bedside.editorial.interface import Role, User
from bedside.errors import InvalidInput, NotFound, PermissionDenied
from bedside.store.article_db import tokens, users

__all__ = ["MIN_PASSWORD", "TOKEN_PREFIX", "Accounts", "TokenInfo", "generate_password", "hash_token"]

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
TOKEN_DAYS = 90  # an API token's default lifetime
MAX_TOKEN_DAYS = 3650
TOKEN_PREFIX = "bst_"
# The HTML living standard's "valid e-mail address": no spaces, quotes, angle brackets or control characters, so an
# address is safe to show anywhere; the domain is dot-separated labels of letters, digits and inner hyphens.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def _later(now: str, days: int) -> str:
    """`now` (ISO 8601 UTC) plus `days`, in the same form (so the two compare as strings)."""
    return (datetime.fromisoformat(now) + timedelta(days=days)).isoformat(timespec="seconds")


def generate_password() -> str:
    """A strong random password (about 144 bits)."""
    return secrets.token_urlsafe(18)


def hash_token(token: str) -> str:
    """Tokens are 256 random bits, so a fast hash is enough to make a stolen table useless."""
    return hashlib.sha256(token.encode()).hexdigest()


def _email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email) or len(email) > 320:
        shown = email.encode("ascii", "backslashreplace").decode()[:100]
        raise InvalidInput(
            f"not an email address: {shown!r} (letters, digits and .!#$%&'*+/=?^_`{{|}}~- before the"
            " @, a domain name after it)"
        )
    return email


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {role!r} (expected one of: {allowed})") from None


def _user(row: sa.Row[Any]) -> User:
    return User(
        id=row.id,
        email=row.email,
        role=Role(row.role),
        active=bool(row.active),
        epoch=int(row.auth_epoch),
        display_name=row.display_name,
        credentials=row.credentials,
        affiliation=row.affiliation,
    )


def _check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in password):
        raise InvalidInput("a password may not hold control characters")
    return password


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token as listed: never its value (only its hash is stored)."""

    id: int
    created: str
    expires: str  # "" for never


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
        if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
            raise InvalidInput(f"{label} holds a control character or a lone surrogate")
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
        password = _check_password(generate_password() if password is None else password)
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
        """Enable or disable an account. Disabling ends its sessions and deletes its API tokens, so re-enabling it
        revives neither: the person signs in again and is given new tokens."""
        if active:
            return self._set(email, active=True)
        user = self.get(email)
        with self._writer.begin() as connection:
            connection.execute(sa.delete(tokens).where(tokens.c.user_id == user.id))
            query = sa.update(users).where(users.c.id == user.id)
            connection.execute(query.values(active=False, auth_epoch=users.c.auth_epoch + 1))
        return self.get(email)

    def set_password(self, email: str, password: str | None = None, current: str | None = None) -> tuple[User, str]:
        """A new password (generated when None; returned, to show once), ending every session of the account.

        With `current` (a person changing their own password), it must be the account's password now."""
        user = self.get(email)
        if current is not None and self.authenticate(user.email, current) is None:
            raise PermissionDenied("the current password is wrong")
        password = _check_password(generate_password() if password is None else password)
        with self._writer.begin() as connection:
            query = sa.update(users).where(users.c.id == user.id)
            values = {"password_hash": self._hasher.hash(password), "auth_epoch": users.c.auth_epoch + 1}
            connection.execute(query.values(**values))
        return self.get(email), password

    def set_profile(
        self,
        email: str,
        display_name: str | None = None,
        credentials: str | None = None,
        affiliation: str | None = None,
    ) -> User:
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

    def issue_token(self, email: str, days: int | None = TOKEN_DAYS) -> str:
        """A new API token for the account, valid for `days` (None: until revoked); only its hash is stored, so it
        is shown once."""
        user = self.get(email)
        if not user.active:
            raise InvalidInput(f"{user.email} is deactivated; re-activate the account first")
        if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
            raise InvalidInput(f"a token lasts 1 to {MAX_TOKEN_DAYS} days")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self._now()
        expires = "" if days is None else _later(now, days)
        with self._writer.begin() as connection:
            values = {"user_id": user.id, "token_hash": hash_token(token), "created": now, "expires": expires}
            connection.execute(sa.insert(tokens).values(**values))
        return token

    def tokens_of(self, email: str) -> builtins.list[TokenInfo]:
        """The account's API tokens, oldest first."""
        user = self.get(email)
        query = sa.select(tokens).where(tokens.c.user_id == user.id).order_by(tokens.c.id)
        with self._engine.connect() as connection:
            return [TokenInfo(int(r.id), r.created, r.expires) for r in connection.execute(query)]

    def revoke_token(self, email: str, token_id: int) -> None:
        """Remove one of the account's API tokens (NotFound when it has no token with that id)."""
        user = self.get(email)
        with self._writer.begin() as connection:
            query = sa.delete(tokens).where(tokens.c.user_id == user.id, tokens.c.id == token_id)
            if connection.execute(query).rowcount != 1:
                raise NotFound(f"{user.email} has no token {token_id}")

    def revoke_token_value(self, token: str) -> bool:
        """Remove the token with this value (its holder giving it up); whether there was one."""
        with self._writer.begin() as connection:
            return bool(connection.execute(sa.delete(tokens).where(tokens.c.token_hash == hash_token(token))).rowcount)

    def revoke_tokens(self, email: str) -> int:
        """Remove every API token of the account; returns how many there were."""
        user = self.get(email)
        with self._writer.begin() as connection:
            return connection.execute(sa.delete(tokens).where(tokens.c.user_id == user.id)).rowcount

    def by_token(self, token: str) -> User | None:
        """The active account this token belongs to, or None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        query = sa.select(users, tokens.c.expires).join(tokens, tokens.c.user_id == users.c.id)
        with self._engine.connect() as connection:
            row = connection.execute(query.where(tokens.c.token_hash == hash_token(token))).one_or_none()
        if row is None or not row.active or (row.expires and row.expires <= self._now()):
            return None
        return _user(row)

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
