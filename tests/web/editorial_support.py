"""The editorial workflow in tests: an app over the real SQL article service with staff accounts, and helpers to
ask, sign in and act. Fixtures using these live in conftest.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bedside.config import load_settings
from bedside.editorial.desk import SqlArticleService
from bedside.editorial.interface import Article
from bedside.errors import NotFound
from bedside.web import create_app

PASSWORD = "correct horse battery staple"
STAFF = {
    "admin": ("ada@example.org", "admin"),
    "reviewer": ("rita@example.org", "reviewer"),
    "reviewer2": ("rob@example.org", "reviewer"),
    "editor": ("eddie@example.org", "editor"),
}
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Editorial:
    """An app over its own data directory with the SQL article service, staff accounts and their API tokens."""

    app: FastAPI
    articles: SqlArticleService
    tokens: dict[str, str]
    data_dir: Path

    def email(self, who: str) -> str:
        return STAFF[who][0]

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def make_editorial(data_dir: Path, **settings: Any) -> Editorial:
    """The app, with argon2 parameters cut down so that tests sign in quickly."""
    config = load_settings(data_dir=data_dir, embedder="hashing", **settings)
    articles = SqlArticleService(config.resolved_database_url, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    app = create_app(config, articles=articles)
    tokens = {}
    for who, (email, role) in STAFF.items():
        articles.add_user(email, role, PASSWORD)
        tokens[who] = articles.issue_token(email)
    return Editorial(app, articles, tokens, data_dir)


BOARD = "board@example.org"


def reviewed(articles: SqlArticleService, slug: str, verdict: str, reason: str = "") -> Article:
    """The article after real review: a reviewer (an account made on first use) claims it, then approves or rejects
    it (`verdict`: approve | reject; rejecting needs a reason)."""
    try:
        reviewer = articles.get_user(BOARD)
    except NotFound:
        reviewer = articles.add_user(BOARD, "reviewer", PASSWORD)[0]
    articles.review(slug, "claim", reviewer)
    return articles.review(slug, verdict, reviewer, reason)


def ask_api(client: TestClient, question: str) -> str:
    """Ask through the API; the article's slug."""
    r = client.post("/api/ask", json={"question": question})
    assert r.status_code == 200, r.text
    assert r.json()["slug"], f"{question!r} abstained: an answer with too little evidence is never an article"
    return str(r.json()["slug"])


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, next_path: str = "/review") -> Any:
    """Sign in through the form (fetching it first for its token); the POST's response."""
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf": token, "next": next_path})


def person(editorial: Editorial, who: str, **kwargs: Any) -> TestClient:
    """A client signed in as one of the staff (no lifespan of its own: the module's `api` client holds it)."""
    client = TestClient(editorial.app, follow_redirects=False, **kwargs)
    r = sign_in(client, editorial.email(who))
    assert r.status_code == 303, r.text
    return client


ASK_TOKEN = re.compile(r'name="ask_token" value="([^"]+)"')


def ask_form(client: TestClient, data: dict[str, str], **kwargs: Any) -> Any:
    """Post the public ask form as a browser would: with the token from a page it was shown (the home page)."""
    found = ASK_TOKEN.search(client.get("/").text)
    assert found, "no ask token on the home page"
    return client.post("/ask", data={"ask_token": found.group(1), **data}, **kwargs)
