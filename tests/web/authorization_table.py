"""The authorization matrix as data: every route x role (anonymous, reviewer, editor, admin) x object variant, with
the status the rules give. Written from the rules (editorial/states.py, web/review_pages.py, web/deps.py), never
from running the app.

The rules, in short: the public site and API are open to everyone; /review pages need a session (a redirect to
/login otherwise) and the review API a bearer token (401 otherwise). Reviewers and admins claim submitted
articles; only the claimer or an admin releases, approves, requests changes or rejects; nobody approves a version
they made. Editors and admins save versions of submitted, changes-requested or approved articles, never while one
is under review. Only admins manage users, and an admin may not deactivate their own account.

Object variants: "own" is an object the acting person owns (their claim, their version, their account), "other"
the same kind of object owned by someone else; roles that can never own one (anonymous, an editor's claim, a
reviewer's version) have no "own" cell. "visible"/"hidden" is a public article vs a rejected one; "claimed" an
article under review by another reviewer; "-" a route whose answer depends on no object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ANON, REVIEWER, EDITOR, ADMIN = "anonymous", "reviewer", "editor", "admin"
ROLES = (ANON, REVIEWER, EDITOR, ADMIN)
NA = None  # a cell that cannot exist: this role never owns such an object
ANY = "-"

Expect = tuple[int, str]  # status, and for a redirect the path it goes to ("{slug}" filled in from the probe)
Cells = Mapping[tuple[str, str], Expect]


@dataclass(frozen=True, slots=True)
class Probe:
    """One request: the URL, its JSON or form body, and the article it touches (checked unchanged when refused)."""

    url: str
    json: Any = None
    data: dict[str, str] | None = None
    slug: str = ""
    fields: dict[str, str] = field(default_factory=dict)  # values for the expected redirect's path


# (world, role, variant, client) -> Probe: builds the object in the variant's state and the request on it
Scene = Callable[[Any, str, str, Any], Probe]


@dataclass(frozen=True, slots=True)
class Row:
    """One route (and, for the review routes, one action) with the expected result of every cell."""

    method: str
    path: str
    scene: Scene
    cells: Cells
    name: str = ""
    owns: str = ""  # what "own" means for this row: "claim", "version" or "account" ("" for no "own" cells)

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/") or self.path == "/openapi.json"

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}{f' {self.name}' if self.name else ''}"


def _expect(value: int | Expect) -> Expect:
    return (value, "") if isinstance(value, int) else value


def each(anonymous: int | Expect, reviewer: int | Expect, editor: int | Expect, admin: int | Expect) -> Cells:
    """Cells for a route whose answer depends on no object."""
    return {(role, ANY): _expect(v) for role, v in zip(ROLES, (anonymous, reviewer, editor, admin), strict=True)}


def per(**variants: tuple[int | Expect | None, ...]) -> Cells:
    """Cells by object variant, each a tuple in ROLES order; NA where the role cannot have such an object."""
    cells: dict[tuple[str, str], Expect] = {}
    for variant, values in variants.items():
        for role, value in zip(ROLES, values, strict=True):
            if value is not NA:
                cells[(role, variant)] = _expect(value)
    return cells


def to(path: str) -> Expect:
    """A 303 redirect to `path` (query string ignored)."""
    return (303, path)


# who can never own each kind of object, so has no "own" cell
CANNOT_OWN = {"claim": {ANON, EDITOR}, "version": {ANON, REVIEWER}, "account": {ANON}, "": set(ROLES)}
LOGIN = to("/login")  # a page that needs a session sends the signed-out reader to sign in
DONE = to("/review/{slug}")  # a review step or edit taken from a page goes back to the article's review page
OK, CREATED, UNAUTHORIZED, FORBIDDEN, HIDDEN, CONFLICT = 200, 201, 401, 403, 404, 409


def rows(s: Any) -> list[Row]:
    """The table; `s` holds the scene builders (test_authorization.Scenes)."""
    public = each(OK, OK, OK, OK)
    claim_rule = per(own=(NA, OK, NA, OK), other=(UNAUTHORIZED, FORBIDDEN, FORBIDDEN, OK))
    claim_rule_page = per(own=(NA, DONE, NA, DONE), other=(LOGIN, FORBIDDEN, FORBIDDEN, DONE))
    approve_version = per(own=(NA, NA, FORBIDDEN, FORBIDDEN), other=(UNAUTHORIZED, OK, FORBIDDEN, OK))
    approve_version_page = per(own=(NA, NA, FORBIDDEN, FORBIDDEN), other=(LOGIN, DONE, FORBIDDEN, DONE))
    review = "/api/articles/{slug}/review"
    action = "/review/{slug}/action"
    return [
        # -- the public JSON API ---------------------------------------------------------------------------------
        Row("POST", "/api/ask", s.ask_json("/api/ask"), public),
        Row("POST", "/api/ask/stream", s.ask_json("/api/ask/stream"), public),
        Row(
            "GET",
            "/api/articles/{slug}",
            s.article("/api/articles/{slug}"),
            per(visible=(OK,) * 4, hidden=(HIDDEN,) * 4),
        ),
        Row("GET", "/api/articles", s.url("/api/articles"), public),
        Row("GET", "/api/sources", s.url("/api/sources"), public),
        Row("GET", "/api/health", s.url("/api/health"), public),
        Row("GET", "/openapi.json", s.url("/openapi.json"), public),
        # -- the review API (bearer tokens) ----------------------------------------------------------------------
        Row(
            "GET", review, s.article(review), per(visible=(UNAUTHORIZED, OK, OK, OK), hidden=(UNAUTHORIZED, OK, OK, OK))
        ),
        Row("POST", review, s.review("claim"), each(UNAUTHORIZED, OK, FORBIDDEN, OK), "claim"),
        Row("POST", review, s.review("release"), claim_rule, "release", "claim"),
        Row("POST", review, s.review("approve"), claim_rule, "approve", "claim"),
        Row("POST", review, s.review("request_changes"), claim_rule, "request_changes", "claim"),
        Row("POST", review, s.review("reject"), claim_rule, "reject", "claim"),
        Row("POST", review, s.approve_version, approve_version, "approve by version author", "version"),
        Row(
            "POST",
            "/api/articles/{slug}/versions",
            s.api_edit,
            per(
                own=(NA, NA, CREATED, CREATED),
                other=(UNAUTHORIZED, FORBIDDEN, CREATED, CREATED),
                claimed=(UNAUTHORIZED, FORBIDDEN, CONFLICT, CONFLICT),
            ),
            owns="version",
        ),
        # -- public pages ----------------------------------------------------------------------------------------
        Row("GET", "/", s.url("/"), public),
        Row("POST", "/ask", s.page_ask, each(*(to("/articles/{slug}"),) * 4)),
        Row("GET", "/articles/{slug}", s.article("/articles/{slug}"), per(visible=(OK,) * 4, hidden=(HIDDEN,) * 4)),
        # an unpublished answer, by its conversation: the same for everyone (an unknown conversation is not found)
        Row("GET", "/answer", s.url("/answer?c=c-none"), each(HIDDEN, HIDDEN, HIDDEN, HIDDEN)),
        Row("GET", "/search", s.url("/search?q=treatment"), public),
        Row("GET", "/sources", s.url("/sources"), public),
        Row("GET", "/policy", s.url("/policy"), public),
        Row("GET", "/board", s.url("/board"), public),
        Row("GET", "/docs", s.url("/docs"), public),
        # -- signing in and out ----------------------------------------------------------------------------------
        Row("GET", "/login", s.url("/login"), each(OK, to("/review"), to("/review"), to("/review"))),
        # signed in, /login redirects instead of giving a form, so there is no sign-in token to post
        Row("POST", "/login", s.login, each(to("/review"), FORBIDDEN, FORBIDDEN, FORBIDDEN)),
        Row("POST", "/logout", s.form("/logout"), each(LOGIN, to("/"), to("/"), to("/"))),
        # -- the review desk (sessions and CSRF tokens) ----------------------------------------------------------
        Row("GET", "/review", s.url("/review"), each(LOGIN, OK, OK, OK)),
        Row(
            "GET",
            "/review/{slug}",
            s.article("/review/{slug}"),
            per(visible=(LOGIN, OK, OK, OK), hidden=(LOGIN, OK, OK, OK)),
        ),
        Row("POST", action, s.review("claim", page=True), each(LOGIN, DONE, FORBIDDEN, DONE), "claim"),
        Row("POST", action, s.review("release", page=True), claim_rule_page, "release", "claim"),
        Row("POST", action, s.review("approve", page=True), claim_rule_page, "approve", "claim"),
        Row("POST", action, s.review("reject", page=True), claim_rule_page, "reject", "claim"),
        Row("POST", action, s.approve_version_page, approve_version_page, "approve by version author", "version"),
        Row(
            "GET",
            "/review/{slug}/edit",
            s.edit_form,
            per(own=(NA, NA, OK, OK), other=(LOGIN, FORBIDDEN, OK, OK), claimed=(LOGIN, FORBIDDEN, CONFLICT, CONFLICT)),
            owns="version",
        ),
        Row(
            "POST",
            "/review/{slug}/edit",
            s.page_edit,
            per(
                own=(NA, NA, DONE, DONE),
                other=(LOGIN, FORBIDDEN, DONE, DONE),
                claimed=(LOGIN, FORBIDDEN, CONFLICT, CONFLICT),
            ),
            owns="version",
        ),
        # -- one's own account (a wrong current password: the staff's passwords stay as they are) -----------------
        Row("GET", "/account/password", s.url("/account/password"), each(LOGIN, OK, OK, OK)),
        Row("POST", "/account/password", s.wrong_password, each(LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
        # -- user admin ------------------------------------------------------------------------------------------
        Row("GET", "/review/source", s.source_document, each(LOGIN, OK, OK, OK)),
        Row("GET", "/admin/users", s.url("/admin/users"), each(LOGIN, FORBIDDEN, FORBIDDEN, OK)),
        Row("POST", "/admin/users", s.add_user, each(LOGIN, FORBIDDEN, FORBIDDEN, OK)),
        Row("POST", "/admin/users/profile", s.set_profile, each(LOGIN, FORBIDDEN, FORBIDDEN, OK)),
        Row(
            "POST",
            "/admin/users/role",
            s.change_role,
            per(own=(NA, FORBIDDEN, FORBIDDEN, CONFLICT), other=(LOGIN, FORBIDDEN, FORBIDDEN, OK)),
            owns="account",
        ),
        Row(
            "POST",
            "/admin/users/active",
            s.deactivate,
            per(own=(NA, FORBIDDEN, FORBIDDEN, CONFLICT), other=(LOGIN, FORBIDDEN, FORBIDDEN, OK)),
            owns="account",
        ),
    ]
