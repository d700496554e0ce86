"""The article service's account methods: the people who review and edit, delegated to `Accounts`.

A mixin of `SqlArticleService`, so the service keeps one face for the web app and the CLI while its modules stay
by concern (articles and review there, "sources changed" in `source_checks`, accounts here).
"""

from __future__ import annotations

from bedside.editorial.interface import Role, User
from bedside.editorial.users import TOKEN_DAYS, Accounts, TokenInfo

__all__ = ["UserAdmin"]


class UserAdmin:
    """Accounts, roles, passwords, profiles and API tokens."""

    users: Accounts

    def add_user(self, email: str, role: Role | str, password: str | None = None) -> tuple[User, str]:
        """A new account; returns it with its password (generated when not given: show it once)."""
        return self.users.add(email, role, password)

    def get_user(self, email: str) -> User:
        """The account with this email address (NotFound otherwise)."""
        return self.users.get(email)

    def issue_token(self, email: str, days: int | None = TOKEN_DAYS) -> str:
        """A new API token for the account, valid for `days` (None: until revoked; stored hashed: shown once)."""
        return self.users.issue_token(email, days)

    def tokens_of(self, email: str) -> list[TokenInfo]:
        """The account's API tokens (ids and dates, never values)."""
        return self.users.tokens_of(email)

    def revoke_token(self, email: str, token_id: int) -> None:
        """Remove one API token of the account."""
        self.users.revoke_token(email, token_id)

    def revoke_token_value(self, token: str) -> bool:
        """Remove the API token with this value; whether there was one."""
        return self.users.revoke_token_value(token)

    def set_password(self, email: str, password: str | None = None, current: str | None = None) -> tuple[User, str]:
        """A new password (generated when None, returned to show once); every session of the account ends."""
        return self.users.set_password(email, password, current)

    def set_role(self, email: str, role: Role | str) -> User:
        """Give an account another role (checked on every action, so it applies at once)."""
        return self.users.set_role(email, role)

    def user_by_token(self, token: str) -> User | None:
        """The active account for this API token, or None."""
        return self.users.by_token(token)

    def authenticate(self, email: str, password: str) -> User | None:
        """The active account if the password matches, or None."""
        return self.users.authenticate(email, password)

    def list_users(self) -> list[User]:
        """Every account, by email."""
        return self.users.list()

    def set_profile(
        self,
        email: str,
        display_name: str | None = None,
        credentials: str | None = None,
        affiliation: str | None = None,
    ) -> User:
        """Set a person's display name, credentials and affiliation (None: unchanged), as the public sees them."""
        return self.users.set_profile(email, display_name, credentials, affiliation)

    def set_active(self, email: str, active: bool) -> User:
        """Enable or disable an account (a disabled one can neither sign in nor use its tokens)."""
        return self.users.set_active(email, active)
