"""The authorization matrix: every route x role x owned/other object answers as the table in authorization_table.py
says, a refused request leaves the article exactly as it was, and a route missing from the table fails."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from authorization_table import ADMIN, ANON, CANNOT_OWN, EDITOR, REVIEWER, ROLES, Probe, Row, Scene, rows
from editorial_support import ASK_TOKEN, PASSWORD, Editorial, ask_api, csrf_of, person
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from bedside.editorial.interface import Article

BASE_QUESTION = "What is the first-line treatment for community-acquired pneumonia?"
STAFF_KEY = {REVIEWER: "reviewer", EDITOR: "editor", ADMIN: "admin"}
OTHER_REVIEWER = "rob@example.org"  # a reviewer holding the claims that are someone else's
OTHER_EDITOR = "edna@example.org"  # an editor making the versions that are someone else's
CLAIMERS = (REVIEWER, ADMIN)  # the roles that may claim (and so own a claim)
EXCLUDED = {
    ("MOUNT", "/static"): "the site's own CSS and scripts: public files, no authorization",
}


class World:
    """The editorial app with staff accounts, and articles made to order through the article service."""

    def __init__(self, e: Editorial, client: TestClient) -> None:
        self.e, self.articles = e, e.articles
        self.base_slug = ask_api(client, BASE_QUESTION)
        latest = self.articles.get(self.base_slug).latest
        self.answer, self.sources = latest.answer, latest.sources
        self.serial = itertools.count(1)
        self.articles.add_user(OTHER_EDITOR, "editor", PASSWORD)

    def email(self, role: str) -> str:
        return self.e.email(STAFF_KEY[role])

    def fresh(self) -> str:
        """A new submitted article (version 1 by "system")."""
        n = next(self.serial)
        question = f"Authorization check {n}: which dose of drug {n} is safe?"
        return self.articles.article_for(question, lambda: copy.deepcopy(self.answer), self.sources).slug

    def act(self, slug: str, action: str, email: str) -> str:
        self.articles.review(slug, action, self.articles.get_user(email), "a comment")
        return slug

    def edit(self, slug: str, email: str) -> str:
        check = self.e.app.state.service.check_statement  # the verifier, as the review desk runs it
        self.articles.edit(
            slug, self.articles.get_user(email), edit_of(self.articles.get(slug).latest.answer), check=check
        )
        return slug

    def client(self, role: str, api: bool) -> TestClient:
        """A new client: a bearer token for the API, a fresh session for pages; nothing for anonymous."""
        if role == ANON:
            return TestClient(self.e.app, follow_redirects=False)
        if api:
            return TestClient(self.e.app, follow_redirects=False, headers=self.e.bearer(STAFF_KEY[role]))
        return person(self.e, STAFF_KEY[role])

    def snapshot(self, slug: str) -> tuple[Article, int] | None:
        return (self.articles.get(slug), len(self.articles.history(slug))) if slug else None


def edit_of(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with its first bottom-line statement reworded (citations kept): a valid editor's version."""
    edited = copy.deepcopy(answer)
    edited["bottom_line"][0]["text"] = f"Reworded: {edited['bottom_line'][0]['text']}"
    return edited


class Scenes:
    """Scene builders for the table: each makes the variant's object, then the request on it."""

    @staticmethod
    def url(path: str) -> Scene:
        return lambda w, role, variant, c: Probe(path)

    @staticmethod
    def wrong_password(w: World, role: str, variant: str, c: TestClient) -> Probe:
        new = "a-new-password-123"
        return Probe("/account/password", data={"current": "not the password", "new": new, "again": new})

    @staticmethod
    def form(path: str) -> Scene:
        return lambda w, role, variant, c: Probe(path, data={})

    @staticmethod
    def ask_json(path: str) -> Scene:
        return lambda w, role, variant, c: Probe(path, json={"question": BASE_QUESTION}, slug=w.base_slug)

    @staticmethod
    def page_ask(w: World, role: str, variant: str, c: TestClient) -> Probe:
        token = ASK_TOKEN.search(c.get("/").text)
        assert token is not None
        data = {"question": BASE_QUESTION, "ask_token": token.group(1)}
        return Probe("/ask", data=data, fields={"slug": w.base_slug})

    @staticmethod
    def article(template: str) -> Scene:
        """A public article ("visible") or a rejected one ("hidden")."""

        def scene(w: World, role: str, variant: str, c: TestClient) -> Probe:
            slug = (
                w.fresh()
                if variant == "visible"
                else w.act(w.act(w.fresh(), "claim", OTHER_REVIEWER), "reject", OTHER_REVIEWER)
            )
            return Probe(template.format(slug=slug), slug=slug)

        return scene

    @staticmethod
    def review(action: str, page: bool = False) -> Scene:
        """`action` on a submitted article (claim), else on one claimed by the actor ("own") or by another."""

        def scene(w: World, role: str, variant: str, c: TestClient) -> Probe:
            slug = w.fresh()
            if action != "claim":
                w.act(slug, "claim", w.email(role) if variant == "own" else OTHER_REVIEWER)
            return step(slug, action, page)

        return scene

    @staticmethod
    def approve_version(w: World, role: str, variant: str, c: TestClient, page: bool = False) -> Probe:
        """Approve a latest version made by the actor ("own") or by another editor, claimed by the actor if they
        may claim (else by another reviewer)."""
        slug = w.edit(w.fresh(), w.email(role) if variant == "own" else OTHER_EDITOR)
        w.act(slug, "claim", w.email(role) if role in CLAIMERS else OTHER_REVIEWER)
        return step(slug, "approve", page, version=2)

    @staticmethod
    def approve_version_page(w: World, role: str, variant: str, c: TestClient) -> Probe:
        return Scenes.approve_version(w, role, variant, c, page=True)

    @staticmethod
    def editable(w: World, role: str, variant: str) -> str:
        """A submitted article whose latest version is the actor's ("own") or another editor's, or one under review."""
        if variant == "claimed":
            return w.act(w.fresh(), "claim", OTHER_REVIEWER)
        return w.edit(w.fresh(), w.email(role) if variant == "own" else OTHER_EDITOR)

    @staticmethod
    def api_edit(w: World, role: str, variant: str, c: TestClient) -> Probe:
        slug = Scenes.editable(w, role, variant)
        latest = w.articles.get(slug).latest
        body = {**edit_of(latest.answer), "base": latest.number}
        return Probe(f"/api/articles/{slug}/versions", json=body, slug=slug)

    @staticmethod
    def edit_form(w: World, role: str, variant: str, c: TestClient) -> Probe:
        slug = Scenes.editable(w, role, variant)
        return Probe(f"/review/{slug}/edit", slug=slug)

    @staticmethod
    def page_edit(w: World, role: str, variant: str, c: TestClient) -> Probe:
        slug = Scenes.editable(w, role, variant)
        data = {"base": str(w.articles.get(slug).latest.number), "text:bl:0": "Reworded on the edit page."}
        return Probe(f"/review/{slug}/edit", data=data, slug=slug)

    @staticmethod
    def login(w: World, role: str, variant: str, c: TestClient) -> Probe:
        """Post the sign-in form as a reviewer, with the form's token when /login gives a form."""
        form = c.get("/login")
        token = csrf_of(form.text) if form.status_code == 200 else ""
        data = {"email": w.email(REVIEWER), "password": PASSWORD, "csrf": token, "next": "/review"}
        return Probe("/login", data=data)

    @staticmethod
    def add_user(w: World, role: str, variant: str, c: TestClient) -> Probe:
        return Probe("/admin/users", data={"email": f"new{next(w.serial)}@example.org", "role": "reviewer"})

    @staticmethod
    def change_role(w: World, role: str, variant: str, c: TestClient) -> Probe:
        """Make the actor's own account, or a fresh account of someone else, an editor."""
        if variant == "own":
            email = w.email(role)
        else:
            email = f"promoted{next(w.serial)}@example.org"
            w.articles.add_user(email, "reviewer", PASSWORD)
        return Probe("/admin/users/role", data={"email": email, "role": "editor"})

    @staticmethod
    def source_document(w: World, role: str, variant: str, c: TestClient) -> Probe:
        doc = w.e.app.state.service.bedside.store.document_ids()[0]
        return Probe(f"/review/source?doc={quote(doc)}&start=0&end=10")

    @staticmethod
    def set_profile(w: World, role: str, variant: str, c: TestClient) -> Probe:
        email = f"member{next(w.serial)}@example.org"
        w.articles.add_user(email, "reviewer", PASSWORD)
        return Probe("/admin/users/profile", data={"email": email, "display_name": "Dr Board Member"})

    @staticmethod
    def deactivate(w: World, role: str, variant: str, c: TestClient) -> Probe:
        """Deactivate the actor's own account, or a fresh account of someone else."""
        if variant == "own":
            email = w.email(role)
        else:
            email = f"victim{next(w.serial)}@example.org"
            w.articles.add_user(email, "reviewer", PASSWORD)
        return Probe("/admin/users/active", data={"email": email, "active": "0"})


def step(slug: str, action: str, page: bool, version: int = 1) -> Probe:
    """A review action on `version` (the scenes' articles have one version unless they say otherwise)."""
    if page:
        data = {"action": action, "comment": "Needs work.", "version": str(version), "confirm": "1"}  # box ticked
        return Probe(f"/review/{slug}/action", data=data, slug=slug)
    return Probe(
        f"/api/articles/{slug}/review", json={"action": action, "comment": "Needs work.", "version": version}, slug=slug
    )


ROWS = rows(Scenes)
CELLS = [(row, role, variant) for row in ROWS for (role, variant) in row.cells]


@pytest.fixture(scope="module")
def world(editorial: Editorial, api: TestClient) -> World:
    return World(editorial, api)


@pytest.mark.parametrize(("row", "role", "variant"), CELLS, ids=[f"{r.label}|{a}|{v}" for r, a, v in CELLS])
def test_cell(world: World, row: Row, role: str, variant: str) -> None:
    client = world.client(role, row.api)
    probe = row.scene(world, role, variant, client)
    before = world.snapshot(probe.slug)
    data = probe.data
    if data is not None and role != ANON and not row.api:
        data = {"csrf": csrf_of(client.get("/review").text), **data}
    r = client.request(row.method, probe.url, json=probe.json, data=data)
    status, where = row.cells[(role, variant)]
    expected = (status, where.format(**{"slug": probe.slug, **probe.fields}))
    assert (r.status_code, urlsplit(r.headers.get("location", "")).path) == expected, r.text[:500]
    if r.status_code >= 400:
        assert world.snapshot(probe.slug) == before, "a refused request changed the article"


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route, walking included routers; mounts as ("MOUNT", path). HEAD is left out."""
    found: set[tuple[str, str]] = set()

    def walk(routes: Iterable[Any], prefix: str) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI >= 0.165 wraps included routers
            if included is not None:
                walk(included.routes, prefix + route.include_context.prefix)
            elif isinstance(route, Mount):
                found.add(("MOUNT", prefix + route.path))
            else:
                found.update((method, prefix + route.path) for method in route.methods - {"HEAD"})

    walk(app.router.routes, "")
    return found


def test_every_route_is_in_the_table(editorial: Editorial) -> None:
    found = app_routes(editorial.app)
    documented = {(m.upper(), path) for path, item in editorial.app.openapi()["paths"].items() for m in item}
    assert documented <= found, f"the route walk missed {documented - found}"
    assert len(found) > len(documented)  # the pages (left out of the schema) were found too
    table = {(row.method, row.path) for row in ROWS}
    missing = found - table - EXCLUDED.keys()
    assert not missing, f"routes with no row in the authorization table: {sorted(missing)}"
    assert table <= found, f"rows for routes the app does not have: {sorted(table - found)}"


def test_every_row_has_a_cell_for_every_role_and_variant() -> None:
    """Only "own" cells may be missing, exactly for the roles that can never own that row's kind of object."""
    for row in ROWS:
        variants = {variant for (_role, variant) in row.cells}
        assert ("own" in variants) == bool(row.owns), row.label
        for role in ROLES:
            absent = {v for v in variants if (role, v) not in row.cells}
            assert absent <= {"own"}, (row.label, role, absent)
            if "own" in variants:
                assert bool(absent) == (role in CANNOT_OWN[row.owns]), (row.label, role)


def test_the_review_api_ignores_session_cookies(world: World) -> None:
    """A signed-in browser without a token gets 401: the API never acts on cookies, so needs no CSRF tokens."""
    browser = person(world.e, "admin")
    slug = world.fresh()
    r = browser.post(f"/api/articles/{slug}/review", json={"action": "claim"})
    assert r.status_code == 401
    edit = browser.post(f"/api/articles/{slug}/versions", json=edit_of(world.answer))
    assert edit.status_code == 401
    assert len(world.articles.history(slug)) == 1
