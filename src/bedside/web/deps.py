"""Typed dependencies shared by the API and the pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import anyio.from_thread
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from bedside.editorial.interface import User
from bedside.errors import BackendUnavailable
from bedside.web.auth import Auth, SignedIn, SignInNeeded
from bedside.web.review import Fields, ReviewDesk
from bedside.web.service import WebService

AUDIENCE_COOKIE = "bedside_audience"
FORM_EXPIRED = "This form has expired or did not come from this site. Reload the page and try again."


def client_gone(request: Request) -> Callable[[], bool]:
    """For a handler running in a worker thread: asks the event loop whether the client has disconnected."""

    def gone() -> bool:
        return bool(anyio.from_thread.run(request.is_disconnected))

    return gone


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
