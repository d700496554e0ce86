"""`bedside check --deploy`: every problem listed at once, exit 0 only for a properly configured installation."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from bedside.cli import main
from bedside.config import load_settings
from bedside.editorial.desk import SqlArticleService
from bedside.ops.deploy_checks import _sqlite_durability, check_secret_key
from bedside.web import create_app

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
GOOD_KEY = secrets.token_urlsafe(48)


def _deploy_check(data: Path, **env: str) -> Result:
    base = {"BEDSIDE_DATA_DIR": str(data), "BEDSIDE_STARTER_KB": "false", "BEDSIDE_DATABASE_URL": ""}
    return CliRunner().invoke(main, ["check", "--deploy"], env={**base, **env}, catch_exceptions=False)


def _accounts(data: Path, *people: tuple[str, str, str]) -> None:
    with SqlArticleService(f"sqlite:///{data / 'bedside.db'}", hasher=FAST) as service:
        for email, role, password in people:
            service.add_user(email, role, password)


def test_check_deploy_lists_every_problem(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _accounts(
        data,
        ("admin@example.org", "admin", "changeme1234"),
        ("rita@example.org", "reviewer", "changeme1234"),
        ("boss@example.org", "admin", "boss@example.org"),
    )
    result = _deploy_check(
        data, BEDSIDE_SECRET_KEY="changeme", BEDSIDE_CORS_ORIGINS='["https://ok.example", "*"]', BEDSIDE_DEBUG="true"
    )
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    problems = [line for line in lines if line.startswith("PROBLEM")]
    assert [p.split(":")[0] for p in problems] == [
        "PROBLEM secret key",
        "PROBLEM environment",
        "PROBLEM debug mode",
        "PROBLEM CORS",
        "PROBLEM admin accounts",
    ]
    assert "known placeholder" in problems[0] and "'*'" in problems[3]
    assert "admin@example.org" in problems[4] and "boss@example.org" in problems[4]
    assert "rita@example.org" not in problems[4]  # a reviewer is not an admin account
    assert any(line.startswith("OK      database durability") and "synchronous FULL" in line for line in lines)
    assert "5 problem(s)" in result.output


def test_check_deploy_passes_on_a_configured_installation(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _accounts(data, ("ada@example.org", "admin", secrets.token_urlsafe(16)))
    result = _deploy_check(
        data,
        BEDSIDE_SECRET_KEY=GOOD_KEY,
        BEDSIDE_ENVIRONMENT="production",
        BEDSIDE_CORS_ORIGINS='["https://wards.example.org"]',
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 7 and all(line.startswith("OK ") for line in lines), lines
    assert "audit key" in lines[-1] and "audit_key (mode 0600)" in lines[-1]
    os.chmod(data / "audit_key", 0o644)
    opened = _deploy_check(data, BEDSIDE_SECRET_KEY=GOOD_KEY, BEDSIDE_ENVIRONMENT="production")
    assert opened.exit_code == 1 and "PROBLEM audit key" in opened.output and "open to other users" in opened.output
    shared = _deploy_check(
        data,
        BEDSIDE_SECRET_KEY=GOOD_KEY,
        BEDSIDE_ENVIRONMENT="production",
        BEDSIDE_DATABASE_URL="postgresql://bedside@127.0.0.1:9/bedside",
    )
    assert "PROBLEM audit key: the article database is PostgreSQL: set BEDSIDE_AUDIT_KEY" in shared.output


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "is not set"),
        ("secret", "placeholder"),
        ("my-changeme-key-" + "x7Qp" * 8, "placeholder"),
        (secrets.token_urlsafe(12), "characters; use at least 32"),
        ("a" * 64, "low-entropy"),
        ("abcd" * 16, "low-entropy"),
    ],
)
def test_weak_secret_keys_are_reported(tmp_path: Path, key: str, problem: str) -> None:
    finding = check_secret_key(load_settings(data_dir=tmp_path, secret_key=key))
    assert not finding.ok and problem in finding.detail


@pytest.mark.parametrize("key", [GOOD_KEY, "9f86d081884c7d659a2feaa0c55ad015", secrets.token_hex(32)])
def test_random_secret_keys_pass(tmp_path: Path, key: str) -> None:
    assert check_secret_key(load_settings(data_dir=tmp_path, secret_key=key)).ok


def test_sqlite_without_full_sync_is_reported(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
            problems, summary = _sqlite_durability(connection)
    finally:
        engine.dispose()
    assert summary == "journal_mode wal, synchronous NORMAL"
    assert problems == ["synchronous is NORMAL: acknowledged commits can be lost on power failure (use FULL)"]


def test_cors_and_debug_are_wired_only_when_set(tmp_path: Path) -> None:
    preflight = {"Origin": "https://wards.example.org", "Access-Control-Request-Method": "POST"}
    for origins, debug in (([], False), (["https://wards.example.org"], True)):
        settings = load_settings(data_dir=tmp_path / "data", starter_kb=False, cors_origins=origins, debug=debug)
        app = create_app(settings)
        with TestClient(app) as client:
            r = client.options("/api/ask", headers=preflight)
        allowed = r.headers.get("access-control-allow-origin")
        assert allowed == (origins[0] if origins else None) and app.debug is debug
