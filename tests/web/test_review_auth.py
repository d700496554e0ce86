"""Signing in: cookie flags, session rotation and expiry, server-side sign-out, CSRF on every form, rate limits,
and the secret key that signs it all."""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from editorial_support import PASSWORD, Editorial, ask_api, csrf_of, person, sign_in
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Route

from bedside.config import load_settings
from bedside.errors import InvalidInput
from bedside.web import create_app
from bedside.web.identity import LOGIN_COOKIE, LOGIN_NONCE_S, SESSION_COOKIE, safe_next
from bedside.web.sessions import SESSION_TTL_S, secret_key
from bedside.web.signin_throttle import LoginLimiter, LoginThrottle

LONG_KEY = "k" * 48


def session_cookie(response: Any) -> str:
    """The Set-Cookie header of the session cookie."""
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{SESSION_COOKIE}=")]
    assert found, response.headers
    return str(found[0])


@pytest.fixture(scope="module")
def production(editorial_factory: Any) -> Iterator[Editorial]:
    e: Editorial = editorial_factory(environment="production", secret_key=LONG_KEY)
    yield e


def test_sign_in_sets_a_secure_httponly_lax_cookie_and_a_new_session_each_time(production: Editorial) -> None:
    https = {"base_url": "https://testserver", "follow_redirects": False}
    with TestClient(production.app, **https) as attacker:
        r = sign_in(attacker, production.email("reviewer"))
        assert r.status_code == 303 and r.headers["location"] == "/review"
        header = session_cookie(r).lower()
        for flag in ("secure", "httponly", "samesite=lax", "path=/", f"max-age={SESSION_TTL_S}"):
            assert flag in header, header
        planted = attacker.cookies[SESSION_COOKIE]
        victim = TestClient(production.app, **https)
        token = csrf_of(victim.get("/login").text)
        victim.cookies.set(
            SESSION_COOKIE, planted, domain="testserver.local"
        )  # session fixation: a known id planted in the victim's browser
        assert victim.get("/review").status_code == 200
        login = {"email": production.email("reviewer"), "password": PASSWORD, "csrf": token, "next": "/review"}
        assert victim.post("/login", data=login).status_code == 303
        assert victim.cookies[SESSION_COOKIE] != planted  # a new id at sign-in...
        assert victim.get("/review").status_code == 200
        assert attacker.get("/review").status_code == 303  # ...and the planted one is dead


def test_development_makes_and_keeps_a_key_production_refuses_to_start_without_one(tmp_path: Path) -> None:
    dev = load_settings(data_dir=tmp_path / "data", embedder="hashing")
    key = secret_key(dev)
    assert len(key) >= 32 and secret_key(dev) == key
    assert stat.S_IMODE(os.stat(tmp_path / "data" / "secret_key").st_mode) == 0o600
    prod = load_settings(data_dir=tmp_path / "data", embedder="hashing", environment="production")
    with pytest.raises(InvalidInput, match="BEDSIDE_SECRET_KEY is not set"):
        create_app(prod)
    with pytest.raises(InvalidInput, match="shorter than 32"):
        secret_key(load_settings(data_dir=tmp_path, environment="production", secret_key="short"))
    assert (
        secret_key(load_settings(data_dir=tmp_path, environment="production", secret_key=LONG_KEY)) == LONG_KEY.encode()
    )


def test_pages_need_sign_in_and_the_admin_page_an_admin(api: TestClient, editorial: Editorial) -> None:
    anonymous = TestClient(editorial.app, follow_redirects=False)
    r = anonymous.get("/review")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Freview"
    assert anonymous.get("/admin/users").headers["location"] == "/login?next=%2Fadmin%2Fusers"
    reviewer = person(editorial, "reviewer")
    r = reviewer.get("/admin/users")
    assert r.status_code == 403 and "only an admin" in r.text
    assert reviewer.get("/login?next=/review").headers["location"] == "/review"  # already signed in
    r = sign_in(anonymous, editorial.email("editor"), next_path="https://evil.example/")
    assert r.headers["location"] == "/review"  # never off-site after signing in


def test_sign_out_ends_the_session_on_the_server(api: TestClient, editorial: Editorial) -> None:
    client = person(editorial, "editor")
    cookie = client.cookies[SESSION_COOKIE]
    page = client.get("/review")
    assert page.status_code == 200 and "Sign out" in page.text
    token = csrf_of(page.text)
    r = client.post("/logout", data={"csrf": token})
    assert r.status_code == 303 and r.headers["location"] == "/"
    replay = TestClient(editorial.app, follow_redirects=False)
    replay.cookies.set(SESSION_COOKIE, cookie)  # the cookie a thief copied before sign-out
    assert replay.get("/review").status_code == 303
    assert replay.get("/review").headers["location"].startswith("/login")
    slug = ask_api(api, "How is gout diagnosed?")
    r = replay.post(
        f"/review/{slug}/action", data={"action": "claim", "csrf": token, "version": "1"}
    )  # with its token too
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert editorial.articles.get(slug).claimed_by == ""


def test_sessions_expire(api: TestClient, editorial: Editorial) -> None:
    # The store's own expiry, on SQLite and PostgreSQL: tests/editorial/test_session_store.py.
    client = person(editorial, "reviewer")
    sessions = editorial.app.state.auth.sessions
    real = sessions.clock
    sessions.clock = lambda: time.time() + SESSION_TTL_S + 1
    try:
        assert client.get("/review").status_code == 303
    finally:
        sessions.clock = real
    copied = TestClient(editorial.app, follow_redirects=False)
    copied.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
    assert copied.get("/review").status_code == 200
    session_id = client.cookies[SESSION_COOKIE].rsplit(".", 1)[0]
    copied.cookies.set(SESSION_COOKIE, session_id + ".forged-signature")
    assert copied.get("/review").status_code == 303


def test_every_form_carries_the_csrf_token_and_posts_without_it_are_refused(
    api: TestClient, editorial: Editorial
) -> None:
    slug = ask_api(api, "How is atrial fibrillation diagnosed?")
    admin = person(editorial, "admin")
    token = csrf_of(admin.get("/review").text)
    for path in ("/review", f"/review/{slug}", f"/review/{slug}/edit", "/admin/users", f"/articles/{slug}"):
        html = admin.get(path).text
        forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", html, re.S)
        staff_forms = [f for f in forms if 'action="/ask"' not in f]  # asking is open to anyone, no session
        assert staff_forms, path
        for form in staff_forms:
            assert f'name="csrf" value="{token}"' in form, (path, form[:200])
    action = f"/review/{slug}/action"
    assert admin.post(action, data={"action": "claim"}).status_code == 403
    other = csrf_of(person(editorial, "reviewer").get("/review").text)
    assert admin.post(action, data={"action": "claim", "csrf": other}).status_code == 403  # another session's
    assert admin.post("/logout", data={}).status_code == 403
    assert admin.post(action, data={"action": "claim", "csrf": token, "version": "1"}).status_code == 303
    fresh = TestClient(editorial.app, follow_redirects=False)
    login = {"email": editorial.email("reviewer"), "password": PASSWORD}
    assert fresh.post("/login", data=login).status_code == 403  # no token
    page_token = csrf_of(fresh.get("/login").text)
    fresh.cookies.clear()  # the token is bound to the browser's nonce cookie
    assert fresh.post("/login", data={**login, "csrf": page_token}).status_code == 403


def test_the_sign_in_nonce_expires_on_the_server(api: TestClient, editorial: Editorial) -> None:
    """A sign-in form's nonce cookie older than LOGIN_NONCE_S is refused whatever the browser keeps (a replayed or
    copied cookie); the form comes back with a fresh nonce and token, and signing in with them works."""
    signer = editorial.app.state.auth.signer
    login = {"email": editorial.email("reviewer"), "password": PASSWORD, "next": "/review"}
    stale, in_time = (TestClient(editorial.app, follow_redirects=False) for _ in range(2))
    stale_token, in_time_token = csrf_of(stale.get("/login").text), csrf_of(in_time.get("/login").text)
    old_nonce = stale.cookies[LOGIN_COOKIE]
    real = signer.clock
    try:
        signer.clock = lambda: time.time() + LOGIN_NONCE_S + 5
        page = stale.post("/login", data={**login, "csrf": stale_token})
        assert page.status_code == 403  # the form again, with a fresh nonce and token
        assert f"max-age={LOGIN_NONCE_S}" in page.headers["set-cookie"].lower()
        assert stale.cookies[LOGIN_COOKIE] != old_nonce
        fresh_token = csrf_of(page.text)
        assert fresh_token != stale_token
        assert stale.post("/login", data={**login, "csrf": fresh_token}).status_code == 303
        signer.clock = lambda: time.time() + LOGIN_NONCE_S - 60  # not yet too old
        assert in_time.post("/login", data={**login, "csrf": in_time_token}).status_code == 303
    finally:
        signer.clock = real


def form_post_paths(app: FastAPI, slug: str) -> set[str]:
    """Every POST route outside /api (the API takes bearer tokens, which a browser never adds on its own), with
    included routers opened, so that a new form is covered without editing the test."""

    def leaves(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI keeps an included router as one entry
            yield from leaves(included.routes) if included is not None else [route]

    return {
        re.sub(r"{[^}]+}", slug, route.path)
        for route in leaves(app.routes)
        if isinstance(route, Route) and "POST" in (route.methods or ()) and not route.path.startswith("/api/")
    }


def test_every_form_post_route_refuses_a_missing_or_another_sessions_csrf_token(
    api: TestClient, editorial: Editorial
) -> None:
    slug = ask_api(api, "How is hypothyroidism treated?")
    posts = form_post_paths(editorial.app, slug)
    assert {"/login", "/logout", f"/review/{slug}/action", f"/review/{slug}/edit", "/admin/users"} <= posts
    # Open to anyone, without a session: a forged question asks only what anyone may ask, as nobody.
    posts.remove("/ask")
    admin = person(editorial, "admin")
    other = csrf_of(person(editorial, "reviewer").get("/review").text)

    def state() -> tuple[Any, ...]:
        article = editorial.articles.get(slug)
        users = tuple((u.email, u.role, u.active) for u in editorial.articles.list_users())
        return article.status, len(article.versions), article.claimed_by, users

    before = state()
    # What each form would act on, were its token accepted.
    fields = {
        "action": "claim",
        "base": "1",
        "title": "Forged",
        "new:bl": "Forged statement.",
        "cite:bl": "1",
        "email": editorial.email("reviewer2"),
        "role": "admin",
        "active": "0",
        "password": PASSWORD,
    }
    for path in sorted(posts):
        for token in ({}, {"csrf": ""}, {"csrf": other}, {"csrf": other[:-1]}):
            r = admin.post(path, data={**fields, **token})
            assert r.status_code == 403, (path, token, r.status_code, r.text[:300])
    assert state() == before  # nothing happened
    assert admin.get("/review").status_code == 200  # and the refused sign-out did not sign anyone out


def test_failed_sign_ins_never_lock_the_owner_out(api: TestClient, editorial: Editorial) -> None:
    email = editorial.email("reviewer2")
    auth = editorial.app.state.auth
    now = [1000.0]
    saved, auth.limiter = auth.limiter, LoginThrottle(per_address=8, clock=lambda: now[0])
    try:
        owner = TestClient(editorial.app, follow_redirects=False, client=("198.51.100.7", 4000))
        assert sign_in(owner, email).status_code == 303  # the owner's browser has signed in before
        attacker = TestClient(editorial.app, follow_redirects=False, client=("203.0.113.9", 4000))
        for _ in range(5):
            r = sign_in(attacker, email, "wrong password guess")
            assert r.status_code == 401 and "Wrong email or password" in r.text
        r = sign_in(attacker, email)  # even the right password waits now (1 s, doubling with each failure)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "for this account" in r.text
        owner.cookies.delete(SESSION_COOKIE)  # signed out; the browser keeps its device cookie
        assert sign_in(owner, email).status_code == 303  # but never the owner's browser
        stranger = TestClient(editorial.app, follow_redirects=False, client=("192.0.2.50", 4000))
        assert sign_in(stranger, email).status_code == 429  # a browser new to the account waits like the attacker
        now[0] += 2
        assert sign_in(stranger, email).status_code == 303  # and only as long as the backoff
        for n in range(3):  # the attacker's address, whatever the accounts: 8 failures in all
            assert sign_in(attacker, editorial.email("editor"), f"guess {n} wrong").status_code == 401
        r = sign_in(attacker, editorial.email("editor"))
        assert r.status_code == 429 and "from your address" in r.text
        owner.cookies.delete(SESSION_COOKIE)
        assert sign_in(owner, email).status_code == 303
    finally:
        auth.limiter = saved


def test_the_throttle_backs_off_and_limits_spraying() -> None:
    now = [0.0]
    throttle = LoginThrottle(
        per_address=100, free=2, spray_accounts=3, window_s=60, max_backoff_s=8, clock=lambda: now[0]
    )
    for n in range(6):
        throttle.failed("ann@x.org", f"10.0.0.{n}", "", f"p{n}")
    wait, why = throttle.retry_after("ann@x.org", "10.9.9.9", "", "p9")
    assert why == "account" and wait == 8  # 2 ** (6 - 2) = 16, capped at 8
    assert throttle.retry_after("ann@x.org", "10.9.9.9", "her-device", "p9") == (0, "device")
    now[0] += 8
    assert throttle.retry_after("ann@x.org", "10.9.9.9", "", "p9") == (0, "")
    throttle.succeeded("ann@x.org", "10.9.9.9", "")
    for n, account in enumerate(("a@x.org", "b@x.org", "c@x.org")):  # one password, three accounts, three addresses
        throttle.failed(account, f"10.1.0.{n}", "", "Winter2026!")
    wait, why = throttle.retry_after("d@x.org", "10.2.0.1", "", "Winter2026!")
    assert why == "password" and wait == 60
    assert throttle.retry_after("d@x.org", "10.2.0.1", "", "another") == (0, "")
    now[0] += 61
    assert throttle.retry_after("d@x.org", "10.2.0.1", "", "Winter2026!") == (0, "")


def test_login_limiter_slides_and_forgets_on_success() -> None:
    now = [0.0]
    limiter = LoginLimiter(limit=3, window_s=10, clock=lambda: now[0], max_keys=2)
    key = limiter.key(" A@Example.org ", "1.2.3.4")
    assert key == ("a@example.org", "1.2.3.4")
    for t in (0.0, 1.0, 2.0):
        now[0] = t
        limiter.failed(key)
    assert limiter.retry_after(key) == 8
    now[0] = 10.5  # the first failure has left the window
    assert limiter.retry_after(key) == 0
    limiter.failed(key)
    limiter.succeeded(key)
    assert limiter.retry_after(key) == 0
    for n in range(5):  # never more keys than max_keys
        limiter.failed(("x", str(n)))
    assert len(limiter._failures) <= 2


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/review/a?v=2", "/review/a?v=2"),
        ("//evil.example", "/review"),
        ("https://evil.example", "/review"),
        ("/\\evil.example", "/review"),
        ("", "/review"),
        ("/x\r\nSet-Cookie: a=b", "/review"),
    ],
)
def test_only_local_paths_follow_sign_in(given: str, expected: str) -> None:
    assert safe_next(given) == expected


def test_changing_a_password_ends_every_other_session(api: TestClient, editorial: Editorial) -> None:
    editorial.articles.add_user("pat@example.org", "reviewer", PASSWORD)
    laptop, phone = TestClient(editorial.app, follow_redirects=False), TestClient(editorial.app, follow_redirects=False)
    for browser in (laptop, phone):
        assert sign_in(browser, "pat@example.org").status_code == 303
    page = laptop.get("/account/password")
    fields = {
        "csrf": csrf_of(page.text),
        "current": "not it",
        "new": "pat-new-password-1",
        "again": "pat-new-password-1",
    }
    assert laptop.post("/account/password", data=fields).status_code == 403
    assert laptop.post("/account/password", data={**fields, "current": PASSWORD, "again": "other"}).status_code == 422
    changed = laptop.post("/account/password", data={**fields, "current": PASSWORD})
    assert changed.status_code == 200 and "every other session of your account has ended" in changed.text
    assert laptop.get("/review").status_code == 200  # this browser stays signed in
    assert phone.get("/review").headers["location"].startswith("/login")  # the other session is over
    assert sign_in(phone, "pat@example.org").status_code == 401
    assert sign_in(phone, "pat@example.org", "pat-new-password-1").status_code == 303
    editorial.articles.set_password("pat@example.org")  # an admin's reset ends both
    for browser in (laptop, phone):
        assert browser.get("/review").headers["location"].startswith("/login")


def test_an_admin_changes_a_role_and_it_applies_at_once(api: TestClient, editorial: Editorial) -> None:
    editorial.articles.add_user("quinn@example.org", "reviewer", PASSWORD)
    token = editorial.articles.issue_token("quinn@example.org")
    slug = ask_api(api, "How is an acute gout flare treated?")  # answered: it becomes an article
    admin = person(editorial, "admin")
    page = admin.get("/admin/users")
    assert 'action="/admin/users/role"' in page.text
    r = admin.post(
        "/admin/users/role", data={"csrf": csrf_of(page.text), "email": "quinn@example.org", "role": "editor"}
    )
    assert r.status_code == 200 and "quinn@example.org is now editor" in r.text
    claim = api.post(
        f"/api/articles/{slug}/review",
        json={"action": "claim", "version": 1},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert claim.status_code == 403 and "editor may not claim" in claim.json()["detail"]
    bad = admin.post(
        "/admin/users/role", data={"csrf": csrf_of(page.text), "email": "quinn@example.org", "role": "owner"}
    )
    assert bad.status_code == 422 and "unknown role" in bad.text
