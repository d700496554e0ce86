"""The editorial pages: sign-in, the review queue, an article under review, the edit form, and user admin.

Every form carries the session's CSRF token (the sign-in form, a token bound to a signed nonce cookie). A step the
state machine refuses (409, 403, 422) is shown as a message on the page it was taken from, never as a crash.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from bedside.editorial.interface import Role
from bedside.errors import BedsideError, InvalidInput, PermissionDenied, TransitionError
from bedside.web.deps import AuthDep, Desk, Person, Service
from bedside.web.deps import Form as Posted
from bedside.web.http_errors import status_of
from bedside.web.identity import SignedIn, SignInRefused, safe_next
from bedside.web.pages import render
from bedside.web.review import ReviewDesk

router = APIRouter(include_in_schema=False)

DONE = {
    "claim": "You claimed this article. Approve it, request changes or reject it when you have read it.",
    "release": "You released the article; it is back in the queue.",
    "approve": "Approved. The public page now shows this version as approved, with your name and today's date.",
    "request_changes": "Changes requested. The article waits for an editor.",
    "reject": "Rejected. The article is hidden from the public.",
    "edit": "Your version is saved and submitted for review.",
}
FORM_EXPIRED = "This sign-in form has expired. Please try again."


# -- signing in and out ----------------------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, auth: AuthDep, next_path: Annotated[str, Query(alias="next")] = "") -> Response:
    """The sign-in form (straight on to `next` when already signed in)."""
    auth.editorial()
    if auth.current(request) is not None:
        return RedirectResponse(safe_next(next_path), status_code=303)
    return login_form(request, auth, next_path=next_path)


def login_form(
    request: Request, auth: AuthDep, email: str = "", message: str = "", status: int = 200, next_path: str = ""
) -> Response:
    token, cookie = auth.login_token(request)
    context = {"token": token, "email": email, "message": message, "next": safe_next(next_path)}
    response = render(request, "login", context, status)
    auth.set_login_cookie(request, response, cookie)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/login")
def login(
    request: Request,
    auth: AuthDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    """Check the password and start a new session; failures are rate-limited per account and address."""
    auth.editorial()
    if not auth.login_token_ok(request, csrf):
        return login_form(request, auth, email, FORM_EXPIRED, 403, next_path)
    try:
        person = auth.sign_in(request, email, password)
    except SignInRefused as exc:
        response = login_form(request, auth, email, str(exc), 429 if exc.retry_after else 401, next_path)
        if exc.retry_after:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    response = RedirectResponse(safe_next(next_path), status_code=303)
    auth.set_session_cookie(request, response, person)
    return response


@router.post("/logout")
def logout(request: Request, auth: AuthDep, form: Posted) -> Response:
    """End the session on the server and in the browser."""
    response = RedirectResponse("/", status_code=303)
    auth.sign_out(request, response)
    return response


# -- the review desk -------------------------------------------------------------------------------------------------


@router.get("/review")
def queue(request: Request, person: Person, desk: Desk) -> Response:
    """Articles by review status, submitted first and the longest waiting first."""
    return render(request, "review_queue", {"groups": desk.queue(person.user)})


@router.get("/review/source")
def source_document(
    request: Request,
    person: Person,
    service: Service,
    doc: Annotated[str, Query(max_length=500)],
    start: Annotated[int, Query(ge=0)] = 0,
    end: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """A whole source document as the knowledge base holds it, with a cited span marked (and scrolled to)."""
    document = service.document(doc)
    if not start <= end <= len(document.text):
        raise InvalidInput(f"no span {start}-{end} in this document ({len(document.text)} characters)")
    parts = (document.text[:start], document.text[start:end], document.text[end:])
    return render(request, "review_source", {"document": document, "parts": parts})


@router.get("/review/{slug}")
def review_page(
    request: Request,
    slug: str,
    person: Person,
    desk: Desk,
    v: Annotated[int | None, Query(ge=1)] = None,
    old: Annotated[int | None, Query(alias="from", ge=1)] = None,
    done: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """One article: statements beside their source passages, the changes between versions, history, actions."""
    return show_review(request, desk, slug, person, DONE.get(done, ""), "ok", version=v, old=old)


def show_review(
    request: Request,
    desk: ReviewDesk,
    slug: str,
    person: SignedIn,
    message: str = "",
    kind: str = "ok",
    status: int = 200,
    comment: str = "",
    version: int | None = None,
    old: int | None = None,
) -> Response:
    page = desk.page(slug, person.user, version, old)
    context = {"review": page, "message": message, "kind": kind, "comment": comment}
    return render(request, "review_article", context, status)


def refused(
    request: Request, desk: ReviewDesk, slug: str, person: SignedIn, exc: BedsideError, comment: str = ""
) -> Response:
    """The article's review page with the reason a step was refused, under the matching status code."""
    code, _ = status_of(exc)
    return show_review(request, desk, slug, person, str(exc), "error", code, comment)


@router.post("/review/{slug}/action")
def review_action(request: Request, slug: str, form: Posted, desk: Desk) -> Response:
    """Claim, release, approve, request changes (with a comment) or reject (with a reason)."""
    action, comment = form.get("action"), form.get("comment")
    try:
        desk.review_from_form(slug, form.person.user, form.fields)
    except (TransitionError, InvalidInput) as exc:
        return refused(request, desk, slug, form.person, exc, comment)
    return RedirectResponse(f"/review/{slug}?done={action}", status_code=303)


@router.get("/review/{slug}/edit")
def edit_page(request: Request, slug: str, person: Person, desk: Desk) -> Response:
    """The latest version's statements in text boxes, each keeping its citations."""
    try:
        page = desk.edit_page(slug, person.user)
    except TransitionError as exc:
        return refused(request, desk, slug, person, exc)
    return render(request, "review_edit", {"edit": page, "message": ""})


@router.post("/review/{slug}/edit")
def save_edit(request: Request, slug: str, form: Posted, desk: Desk) -> Response:
    """Save the edited statements as a new version, submitted for review."""
    try:
        desk.edit_from_form(slug, form.person.user, form.fields)
    except (TransitionError, InvalidInput) as exc:
        code, _ = status_of(exc)
        try:
            page = desk.edit_page(slug, form.person.user, form.fields)
        except (TransitionError, InvalidInput):  # no longer editable at all (e.g. claimed meanwhile)
            return refused(request, desk, slug, form.person, exc)
        return render(request, "review_edit", {"edit": page, "message": str(exc)}, code)
    return RedirectResponse(f"/review/{slug}?done=edit", status_code=303)


# -- your account ----------------------------------------------------------------------------------------------------


@router.get("/account/password")
def password_page(request: Request, person: Person) -> Response:
    """The form to change one's own password."""
    return render(request, "account_password", {"message": "", "kind": "ok"})


@router.post("/account/password")
def change_password(request: Request, form: Posted, auth: AuthDep) -> Response:
    """Change one's own password (the current one first): every session of the account ends, and this browser
    gets a new one."""
    new = form.get("new")
    if new != form.get("again"):
        return render(request, "account_password", {"message": "The two new passwords differ.", "kind": "error"}, 422)
    try:
        user, _ = auth.editorial().set_password(form.person.user.email, new, current=form.get("current"))
    except (InvalidInput, PermissionDenied) as exc:
        code = 403 if isinstance(exc, PermissionDenied) else 422
        return render(request, "account_password", {"message": str(exc), "kind": "error"}, code)
    auth.end(request)
    signed = SignedIn(user, auth.sessions.create(user.email, user.epoch))
    request.state.signed_in = signed
    done = "Password changed. You stay signed in here; every other session of your account has ended."
    response = render(request, "account_password", {"message": done, "kind": "ok"})
    auth.set_session_cookie(request, response, signed)
    return response


# -- users -----------------------------------------------------------------------------------------------------------


def require_admin(person: SignedIn) -> None:
    if person.user.role is not Role.ADMIN:
        raise PermissionDenied("only an admin may manage users")


def users_page(request: Request, auth: AuthDep, status: int = 200, **context: Any) -> Response:
    base = {
        "users": auth.editorial().list_users(),
        "roles": [r.value for r in Role],
        "message": "",
        "kind": "ok",
        "password": "",
        "email": "",
        "role": Role.REVIEWER.value,
    }
    return render(request, "admin_users", {**base, **context}, status)


@router.get("/admin/users")
def users(request: Request, person: Person, auth: AuthDep) -> Response:
    """Every account, with forms to add one and to deactivate or re-activate one."""
    require_admin(person)
    return users_page(request, auth)


@router.post("/admin/users")
def add_user(request: Request, form: Posted, auth: AuthDep) -> Response:
    """Create an account with a generated password, shown once."""
    require_admin(form.person)
    email, role = form.get("email").strip(), form.get("role")
    try:
        user, password = auth.editorial().add_user(email, role)
    except InvalidInput as exc:
        return users_page(request, auth, 422, message=str(exc), kind="error", email=email, role=role)
    message = f"Added {user.email} as {user.role.value}. Give them this password; it is not shown again:"
    return users_page(request, auth, message=message, password=password)


@router.post("/admin/users/role")
def set_role(request: Request, form: Posted, auth: AuthDep) -> Response:
    """Give an account another role (it applies to their next action); not one's own, so an admin cannot demote
    the last admin by mistake."""
    require_admin(form.person)
    email, role = form.get("email").strip().lower(), form.get("role")
    if email == form.person.user.email:
        return users_page(request, auth, 409, message="You cannot change your own role.", kind="error")
    try:
        user = auth.editorial().set_role(email, role)
    except InvalidInput as exc:
        return users_page(request, auth, 422, message=str(exc), kind="error")
    return users_page(request, auth, message=f"{user.email} is now {user.role.value}.")


@router.post("/admin/users/profile")
def set_profile(request: Request, form: Posted, auth: AuthDep) -> Response:
    """Set how the Medical Advisory Board names someone: display name, credentials, affiliation."""
    require_admin(form.person)
    email = form.get("email").strip().lower()
    try:
        user = auth.editorial().set_profile(
            email, form.get("display_name"), form.get("credentials"), form.get("affiliation")
        )
    except InvalidInput as exc:
        return users_page(request, auth, 422, message=str(exc), kind="error")
    shown = user.public_name or "no display name (shown as a member of the Medical Advisory Board)"
    return users_page(request, auth, message=f"{user.email} is now shown as: {shown}.")


@router.post("/admin/users/active")
def set_active(request: Request, form: Posted, auth: AuthDep) -> Response:
    """Deactivate an account (ending its sessions; its API tokens stop working) or re-activate it."""
    require_admin(form.person)
    email, active = form.get("email").strip().lower(), form.get("active") == "1"
    if not active and email == form.person.user.email:
        return users_page(request, auth, 409, message="You cannot deactivate your own account.", kind="error")
    user = auth.editorial().set_active(email, active)
    if not active:
        auth.sessions.delete_for(user.email)
    state = "active again" if active else "deactivated: their sessions ended and their API tokens stopped working"
    return users_page(request, auth, message=f"{user.email} is now {state}.")
