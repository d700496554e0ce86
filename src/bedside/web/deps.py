"""Typed dependencies shared by the API and the pages."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import anyio.from_thread
from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from bedside.editorial.interface import User
from bedside.errors import BackendUnavailable
from bedside.web.identity import Auth, SignedIn, SignInNeeded
from bedside.web.review import Fields, ReviewDesk
from bedside.web.site import WebService

AUDIENCE_COOKIE = "bedside_audience"
CLIENT_COOKIE = "bedside_client"  # a random key of this browser: its conversations are its own
CLIENT_COOKIE_AGE_S = 90 * 24 * 3600
FORM_EXPIRED = "This form has expired or did not come from this site. Reload the page and try again."


def client_gone(request: Request) -> Callable[[], bool]:
    """For a handler running in a worker thread: asks the event loop whether the client has disconnected."""

    def gone() -> bool:
        return bool(anyio.from_thread.run(request.is_disconnected))

    return gone


@dataclass(frozen=True, slots=True)
class Client:
    """Who is asking, for owning conversations: a hash of the API token sent, else of the browser's client cookie
    (a new one when it has none: `keep` sets it on the response)."""

    owner: str
    new_cookie: str = ""

    def keep(self, request: Request, response: Response) -> Response:
        """Give the browser its client cookie when it is new."""
        if self.new_cookie:
            secure = request.url.scheme == "https"
            response.set_cookie(
                CLIENT_COOKIE,
                self.new_cookie,
                max_age=CLIENT_COOKIE_AGE_S,
                httponly=True,
                samesite="lax",
                secure=secure,
            )
        return response


def _key_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def get_client(request: Request) -> Client:
    """The asking client's key (see Client), the same for every use in one request."""
    found: Client | None = getattr(request.state, "client", None)
    if found is None:
        found = request.state.client = _client(request)
    return found


def _client(request: Request) -> Client:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return Client("t:" + _key_of(token.strip()))
    cookie = request.cookies.get(CLIENT_COOKIE, "")
    if 32 <= len(cookie) <= 128:
        return Client("b:" + _key_of(cookie))
    fresh = secrets.token_urlsafe(32)
    return Client("b:" + _key_of(fresh), fresh)


def get_service(request: Request) -> WebService:
    """The app's one service."""
    service: WebService = request.app.state.service
    return service


def get_auth(request: Request) -> Auth:
    """Sessions, sign-in and tokens."""
    auth: Auth = request.app.state.auth
    return auth


def get_desk(request: Request) -> ReviewDesk:
    """The review desk; BackendUnavailable when the articles have no editorial service behind them."""
    desk: ReviewDesk | None = request.app.state.desk
    if desk is None:
        raise BackendUnavailable("review needs the editorial service (an SQL article database)")
    return desk


Service = Annotated[WebService, Depends(get_service)]
ClientDep = Annotated[Client, Depends(get_client)]
AuthDep = Annotated[Auth, Depends(get_auth)]
Desk = Annotated[ReviewDesk, Depends(get_desk)]

bearer = HTTPBearer(auto_error=False, description="An API token: `bedside users token EMAIL` prints one.")


def api_user(auth: AuthDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> User:
    """The account behind the request's bearer token; 401 without one or with one that is unknown or disabled."""
    user = auth.bearer(credentials.credentials) if credentials is not None else None
    if user is None:
        detail = "a valid API token is needed" if credentials is None else "the API token is unknown or disabled"
        raise HTTPException(401, f"{detail}: send `Authorization: Bearer TOKEN`", {"WWW-Authenticate": "Bearer"})
    return user


ApiUser = Annotated[User, Depends(api_user)]


def signed_in(request: Request, auth: AuthDep) -> SignedIn:
    """The signed-in person; otherwise a redirect to the sign-in page, coming back here afterwards."""
    found = auth.current(request)
    if found is None:
        raise SignInNeeded(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return found


Person = Annotated[SignedIn, Depends(signed_in)]


@dataclass(frozen=True, slots=True)
class Posted:
    """A form posted by a signed-in person, its CSRF token checked."""

    person: SignedIn
    fields: Fields

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default


async def posted_form(request: Request, auth: AuthDep) -> Posted:
    """The posted form, when its CSRF token is the session's; 403 otherwise (sign in first when signed out)."""
    person = await run_in_threadpool(auth.current, request)
    if person is None:
        raise SignInNeeded("/review")
    form = await request.form()
    fields: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if not isinstance(value, UploadFile):
            fields.setdefault(name, []).append(value)
    token = fields.get("csrf", [""])[0]
    if not auth.csrf_ok(person, token):
        raise HTTPException(403, FORM_EXPIRED)
    return Posted(person, fields)


Form = Annotated[Posted, Depends(posted_form)]
