"""Sessions in the article database, on SQLite and a real PostgreSQL server: every web host behind one database
shares them, and sessions an earlier release kept in `sessions.db` move in on upgrade."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from bedside.config import load_settings
from bedside.editorial.audit import AuditKey
from bedside.editorial.desk import SqlArticleService
from bedside.web import create_app

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
AUDIT_KEY = "test-audit-key-0123456789abcdef0123456789abcdef"
SECRET = "test-secret-key-0123456789abcdef0123456789abcdef"
PASSWORD = "correct horse battery staple"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared' / 'bedside.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def hosts(database_url: str) -> Iterator[tuple[SqlArticleService, SqlArticleService]]:
    """Two services over one database, as two web hosts hold them (each its own engine and connections)."""
    a = SqlArticleService(database_url, hasher=FAST_HASHER, audit_key=AuditKey(AUDIT_KEY.encode()))
    b = SqlArticleService(database_url, hasher=FAST_HASHER, audit_key=AuditKey(AUDIT_KEY.encode()))
    yield a, b
    a.close()
    b.close()


def test_a_session_made_on_one_host_is_seen_and_ended_on_another(hosts) -> None:
    a, b = hosts
    made = a.sessions.create("rita@example.org", epoch=3)
    assert b.sessions.get(made.id) == made  # the id, account, CSRF token, expiry and epoch, as made
    assert b.sessions.get(made.id + "x") is None
    b.sessions.delete(made.id)  # signed out on host b
    assert a.sessions.get(made.id) is None


def test_ending_every_session_of_an_account_reaches_every_host(hosts) -> None:
    a, b = hosts
    first, second = a.sessions.create("rita@example.org"), b.sessions.create("rita@example.org")
    other = a.sessions.create("rob@example.org")
    assert b.sessions.delete_for("rita@example.org") == 2
    assert a.sessions.get(first.id) is None and a.sessions.get(second.id) is None
    assert a.sessions.get(other.id) == other


def test_sessions_expire_and_expired_ones_are_swept(hosts) -> None:
    a, b = hosts
    now = [1000.0]
    a.sessions.clock = b.sessions.clock = lambda: now[0]
    a.sessions.ttl_s = 60
    old = a.sessions.create("rita@example.org")
    now[0] += 61
    assert b.sessions.get(old.id) is None
    a.sessions.create("rob@example.org")  # sweeps the expired one
    now[0] -= 61
    assert b.sessions.get(old.id) is None  # gone from the table, not only past its time


def test_the_session_id_is_never_stored(hosts, database_url: str) -> None:
    import sqlalchemy as sa

    a, _ = hosts
    made = a.sessions.create("rita@example.org")
    engine = sa.create_engine(sa.make_url(database_url).set(drivername=_driver(database_url)))
    try:
        with engine.connect() as connection:
            stored = [str(v) for row in connection.execute(sa.text("SELECT * FROM sessions")) for v in row]
    finally:
        engine.dispose()
    assert stored and not any(made.id in v for v in stored)


def _driver(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql+psycopg"


OLD_SESSIONS = (
    "CREATE TABLE sessions (id_hash TEXT PRIMARY KEY, email TEXT NOT NULL, csrf TEXT NOT NULL, created REAL NOT NULL, "
    "expires REAL NOT NULL)"
)


@pytest.mark.parametrize("with_epoch", [False, True], ids=["first release", "with credential epochs"])
def test_sessions_of_an_earlier_release_move_into_the_database(hosts, tmp_path: Path, with_epoch: bool) -> None:
    import hashlib

    a, b = hosts
    legacy = tmp_path / "data" / "sessions.db"
    legacy.parent.mkdir()
    now = time.time()
    with closing(sqlite3.connect(legacy)) as db:
        db.execute(OLD_SESSIONS)
        if with_epoch:
            db.execute("ALTER TABLE sessions ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0")
        for sid, email, expires in (
            ("live-id", "rita@example.org", now + 600),
            ("dead-id", "rob@example.org", now - 1),
        ):
            digest = hashlib.sha256(sid.encode()).hexdigest()
            db.execute(
                "INSERT INTO sessions (id_hash, email, csrf, created, expires) VALUES (?, ?, 'tok', ?, ?)",
                (digest, email, now - 60, expires),
            )
        db.commit()
    assert a.sessions.adopt_file(legacy) == 1
    assert not legacy.exists()
    moved = b.sessions.get("live-id")
    assert moved is not None and (moved.email, moved.csrf, moved.epoch) == ("rita@example.org", "tok", 0)
    assert b.sessions.get("dead-id") is None
    assert a.sessions.adopt_file(legacy) == 0  # gone: nothing to do


def _host(data_dir: Path, database_url: str) -> tuple[TestClient, SqlArticleService]:
    """A web host with its own data directory over the shared database (its client runs the app's lifespan, so
    the knowledge base it opens is closed with it)."""
    settings = load_settings(
        data_dir=data_dir,
        starter_kb=False,
        embedder="hashing",
        database_url=database_url,
        secret_key=SECRET,
        audit_key=AUDIT_KEY,
    )
    articles = SqlArticleService(database_url, hasher=FAST_HASHER, audit_key=AuditKey(AUDIT_KEY.encode()))
    return TestClient(create_app(settings, articles=articles), follow_redirects=False), articles


def _csrf(html: str) -> str:
    import re

    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def test_two_web_hosts_share_sign_in_sign_out_and_a_password_change(tmp_path: Path, database_url: str) -> None:
    import hashlib

    legacy = tmp_path / "host-1" / "sessions.db"  # host 1 was upgraded from an earlier release
    legacy.parent.mkdir()
    with closing(sqlite3.connect(legacy)) as db:
        db.execute(OLD_SESSIONS)
        db.execute(
            "INSERT INTO sessions VALUES (?, 'ann@example.org', 'tok', 1.0, ?)",
            (hashlib.sha256(b"kept-id").hexdigest(), time.time() + 600),
        )
        db.commit()
    (one, articles_one), (two, articles_two) = (
        _host(tmp_path / "host-1", database_url),
        _host(tmp_path / "host-2", database_url),
    )
    with one, two, articles_one, articles_two:
        assert not legacy.exists() and articles_two.sessions.get("kept-id") is not None  # moved on start
        articles_one.add_user("rita@example.org", "reviewer", PASSWORD)
        r = one.post(
            "/login",
            data={
                "email": "rita@example.org",
                "password": PASSWORD,
                "next": "/review",
                "csrf": _csrf(one.get("/login").text),
            },
        )
        assert r.status_code == 303, r.text
        two.cookies.set("bedside_session", one.cookies["bedside_session"])  # the next request lands on host 2
        assert two.get("/review").status_code == 200
        one.post("/logout", data={"csrf": _csrf(one.get("/review").text)})
        assert two.get("/review").status_code == 303  # signed out everywhere
        r = one.post(
            "/login",
            data={
                "email": "rita@example.org",
                "password": PASSWORD,
                "next": "/review",
                "csrf": _csrf(one.get("/login").text),
            },
        )
        two.cookies.set("bedside_session", one.cookies["bedside_session"])
        assert two.get("/review").status_code == 200
        articles_two.set_password("rita@example.org", "a brand new long password")
        assert one.get("/review").status_code == 303  # a password change ends every session, on every host
        assert two.get("/review").status_code == 303
