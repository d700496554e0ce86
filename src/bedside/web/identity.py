"""Who is signed in: session cookies for people, bearer tokens for programs, CSRF tokens on every form.

Cookies are HttpOnly and SameSite=Lax, and Secure in production (in development, whenever the request came over
HTTPS, so trying bedside on http://localhost still works). A sign-in always starts a new session (the id a browser
had before is deleted), signing out deletes the session on the server, and sessions end after SESSION_TTL_S.
The sign-in form, which has no session yet, carries a token bound to a signed nonce cookie instead; the server refuses
a nonce older than LOGIN_NONCE_S, as it refuses any signed cookie older than the age the browser was told.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bedside.config import Settings
from bedside.editorial.interface import User
from bedside.errors import BackendUnavailable, BedsideError, NotFound
from bedside.web.article_backend import EditorialService
from bedside.web.sessions import Session, SessionStore, secret_key
from bedside.web.signin_throttle import LoginThrottle
from bedside.web.signing import Signer

__all__ = ["LOGIN_COOKIE", "SESSION_COOKIE", "Auth", "SignInNeeded", "SignInRefused", "SignedIn", "safe_next"]

SESSION_COOKIE = "bedside_session"
LOGIN_COOKIE = "bedside_login"
DEVICE_COOKIE = "bedside_device"  # this browser has signed in to an account before (see LoginThrottle)
DEVICE_AGE_S = 365 * 24 * 3600
LOGIN_NONCE_S = 3600
_UNSET: Any = object()


class SignInNeeded(Exception):
    """A page needs a signed-in person; the web answers with a redirect to /login (carrying `next`)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class SignInRefused(BedsideError):
    """Wrong email or password (or a deactivated account), or too many failed attempts: `retry_after` > 0."""

    def __init__(self, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A person signed in through a session."""

    user: User
    session: Session

    @property
    def csrf(self) -> str:
        return self.session.csrf


def safe_next(value: str | None, default: str = "/review") -> str:
    """A path on this site to go to after signing in; anything else (another site, odd schemes) gives `default`."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or any(c in value for c in "\r\n"):
        return default
    return value


_REFUSALS = {
    "address": "Too many failed sign-ins from your address.",
    "account": "Too many failed sign-ins for this account; it is slowed down for browsers that have not signed in "
    "to it before.",
    "device": "Too many failed sign-ins for this account from this browser.",
    "password": "Too many failed sign-ins with this password across accounts.",
}


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"


def _account_tag(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:16]


def client_address(request: Request) -> str:
    """The client's address (behind a proxy, as uvicorn's --forwarded-allow-ips reports it)."""
    return request.client.host if request.client else "unknown"


class Auth:
    """Sessions, sign-in with rate limiting, CSRF checks and API tokens over the editorial accounts."""

    def __init__(self, settings: Settings, accounts: EditorialService | None, limiter: LoginThrottle | None = None):
        self.signer = Signer(secret_key(settings))
        self.limiter = limiter or LoginThrottle()
        self.accounts = accounts
        self.production = settings.environment == "production"

    def editorial(self) -> EditorialService:
        """The accounts behind sign-in; BackendUnavailable when the articles have none (an in-memory test store)."""
        if self.accounts is None:
            raise BackendUnavailable("sign-in and review need the editorial service (an SQL article database)")
        return self.accounts

    @property
    def sessions(self) -> SessionStore:
        """The sessions, kept beside the accounts (BackendUnavailable without them)."""
        return self.editorial().sessions

    def secure(self, request: Request) -> bool:
        """Whether cookies get the Secure flag."""
        return self.production or request.url.scheme == "https"

    # -- sessions --------------------------------------------------------------------------------------------------

    def current(self, request: Request) -> SignedIn | None:
        """The person signed in on this request (looked up once per request), or None."""
        found: SignedIn | None = getattr(request.state, "signed_in", _UNSET)
        if found is _UNSET:
            found = self._lookup(request)
            request.state.signed_in = found
        return found

    def _lookup(self, request: Request) -> SignedIn | None:
        session_id = self._session_id(request)
        if self.accounts is None or session_id is None:
            return None
        session = self.sessions.get(session_id)
        if session is None:
            return None
        try:
            user = self.accounts.get_user(session.email)
        except NotFound:
            user = None
        if user is None or not user.active or user.epoch != session.epoch:  # deactivated, removed or the password
            self.sessions.delete(session.id)  # changed since signing in: this session is over
            return None
        return SignedIn(user, session)

    def _session_id(self, request: Request) -> str | None:
        raw = request.cookies.get(SESSION_COOKIE, "")
        return self.signer.unsign("session", raw, int(self.sessions.ttl_s)) if raw else None

    def sign_in(self, request: Request, email: str, password: str) -> SignedIn:
        """Check the password (throttled by address, account, device and password: LoginThrottle) and start a new
        session; SignInRefused."""
        accounts = self.editorial()
        address, device = client_address(request), self.device(request, email)
        password_key = self.signer.mac("sign-in password", password.encode("utf-8", "surrogatepass").hex())
        wait, why = self.limiter.retry_after(email, address, device, password_key)
        if wait:
            raise SignInRefused(f"{_REFUSALS[why]} Try again in {_duration(wait)}.", wait)
        user = accounts.authenticate(email, password)
        if user is None:
            self.limiter.failed(email, address, device, password_key)
            raise SignInRefused("Wrong email or password (or the account is deactivated).")
        self.limiter.succeeded(email, address, device)
        self.end(request)  # a new id at every sign-in: a session id planted before sign-in is worthless
        signed = SignedIn(user, self.sessions.create(user.email, user.epoch))
        request.state.signed_in = signed
        return signed

    def device(self, request: Request, email: str) -> str:
        """This browser's device id for the account when it has signed in to it before, else ""."""
        raw = request.cookies.get(DEVICE_COOKIE, "")
        value = self.signer.unsign("device", raw, DEVICE_AGE_S) if raw else None
        device, _, account = (value or "").partition(":")
        return device if device and account == _account_tag(email) else ""

    def set_session_cookie(self, request: Request, response: Response, signed: SignedIn) -> None:
        """Give the browser its session and its device cookie for the account (and drop the sign-in form's
        nonce)."""
        device = self.device(request, signed.user.email) or secrets.token_urlsafe(16)
        response.set_cookie(
            DEVICE_COOKIE,
            self.signer.sign("device", f"{device}:{_account_tag(signed.user.email)}"),
            max_age=DEVICE_AGE_S,
            path="/login",
            secure=self.secure(request),
            httponly=True,
            samesite="lax",
        )
        response.set_cookie(
            SESSION_COOKIE,
            self.signer.sign("session", signed.session.id),
            max_age=int(self.sessions.ttl_s),
            path="/",
            secure=self.secure(request),
            httponly=True,
            samesite="lax",
        )
        response.delete_cookie(LOGIN_COOKIE, path="/login", secure=self.secure(request), httponly=True, samesite="lax")

    def end(self, request: Request) -> None:
        """End the request's session on the server, if it has one."""
        session_id = self._session_id(request)
        if session_id is not None and self.accounts is not None:
            self.sessions.delete(session_id)
        request.state.signed_in = None

    def sign_out(self, request: Request, response: Response) -> None:
        """End the session and clear the cookie."""
        self.end(request)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=self.secure(request), httponly=True, samesite="lax")

    # -- CSRF --------------------------------------------------------------------------------------------------

    def csrf_ok(self, signed: SignedIn, token: str) -> bool:
        """Whether a form's token is this session's."""
        return bool(token) and secrets.compare_digest(token.encode(), signed.csrf.encode())

    def login_token(self, request: Request) -> tuple[str, str]:
        """The sign-in form's token, and the nonce cookie to set with it ("" when the browser has a valid one)."""
        nonce = self._login_nonce(request)
        cookie = ""
        if nonce is None:
            nonce = secrets.token_urlsafe(16)
            cookie = self.signer.sign("login", nonce)
        return self.signer.mac("login-form", nonce), cookie

    def _login_nonce(self, request: Request) -> str | None:
        """This browser's sign-in nonce, when its cookie is genuine and at most LOGIN_NONCE_S old."""
        raw = request.cookies.get(LOGIN_COOKIE, "")
        return self.signer.unsign("login", raw, LOGIN_NONCE_S) if raw else None

    def set_login_cookie(self, request: Request, response: Response, cookie: str) -> None:
        """Send the sign-in form's nonce cookie (from `login_token`), when there is one to send."""
        if cookie:
            response.set_cookie(
                LOGIN_COOKIE,
                cookie,
                max_age=LOGIN_NONCE_S,
                path="/login",
                secure=self.secure(request),
                httponly=True,
                samesite="lax",
            )

    def login_token_ok(self, request: Request, token: str) -> bool:
        """Whether the sign-in form's token matches this browser's nonce cookie."""
        nonce = self._login_nonce(request)
        return nonce is not None and bool(token) and self.signer.matches("login-form", nonce, token)

    # -- API tokens --------------------------------------------------------------------------------------------

    def bearer(self, token: str) -> User | None:
        """The active account for an API token, or None."""
        return self.editorial().user_by_token(token.strip())
