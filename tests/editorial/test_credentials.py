"""Credentials that can be ended: password change and reset end every session, tokens expire and are revoked one
by one, a re-activated account gets none of its old tokens back, roles change, and addresses are plain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from bedside.cli import main
from bedside.editorial.desk import SqlArticleService
from bedside.editorial.interface import Role
from bedside.errors import InvalidInput, NotFound, PermissionDenied

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(tmp_path: Path, clock: Clock) -> SqlArticleService:
    return SqlArticleService(f"sqlite:///{tmp_path / 'bedside.db'}", clock, hasher=FAST)


def test_a_password_change_needs_the_current_one_and_moves_the_epoch(service: SqlArticleService) -> None:
    ann = service.add_user("ann@example.org", Role.REVIEWER, "first-password-1")[0]
    assert ann.epoch == 0
    with pytest.raises(PermissionDenied, match="current password is wrong"):
        service.set_password("ann@example.org", "second-password-2", current="not-it-at-all")
    with pytest.raises(InvalidInput, match="12 to"):
        service.set_password("ann@example.org", "short", current="first-password-1")
    changed, _ = service.set_password("ann@example.org", "second-password-2", current="first-password-1")
    assert changed.epoch == 1 and service.authenticate("ann@example.org", "first-password-1") is None
    assert service.authenticate("ann@example.org", "second-password-2") == changed
    reset, generated = service.set_password("ann@example.org")  # an admin's reset: a generated password
    assert reset.epoch == 2 and len(generated) >= 20 and service.authenticate("ann@example.org", generated) == reset


def test_tokens_expire_and_are_revoked_one_by_one(service: SqlArticleService, clock: Clock) -> None:
    service.add_user("ann@example.org", Role.REVIEWER, "first-password-1")
    short, lasting, forever = (service.issue_token("ann@example.org", d) for d in (1, 90, None))
    listed = service.tokens_of("ann@example.org")
    assert [t.expires[:10] for t in listed] == ["2026-12-07", "2027-03-06", ""]
    clock.now += timedelta(days=2)
    assert service.user_by_token(short) is None  # expired
    assert service.user_by_token(lasting) is not None and service.user_by_token(forever) is not None
    service.revoke_token("ann@example.org", listed[1].id)
    assert service.user_by_token(lasting) is None and service.user_by_token(forever) is not None
    with pytest.raises(NotFound, match="has no token"):
        service.revoke_token("ann@example.org", listed[1].id)
    assert service.revoke_token_value(forever) and service.user_by_token(forever) is None
    with pytest.raises(InvalidInput, match="1 to 3650 days"):
        service.issue_token("ann@example.org", 0)


def test_reactivating_an_account_revives_no_old_token(service: SqlArticleService) -> None:
    service.add_user("ann@example.org", Role.REVIEWER, "first-password-1")
    token = service.issue_token("ann@example.org")
    off = service.set_active("ann@example.org", False)
    assert off.epoch == 1 and service.user_by_token(token) is None
    with pytest.raises(InvalidInput, match="deactivated"):
        service.issue_token("ann@example.org")
    service.set_active("ann@example.org", True)
    assert service.user_by_token(token) is None and service.tokens_of("ann@example.org") == []
    assert service.authenticate("ann@example.org", "first-password-1") is not None


def test_roles_change_and_addresses_are_plain(service: SqlArticleService) -> None:
    service.add_user("ann@example.org", Role.REVIEWER, "first-password-1")
    assert service.set_role("ann@example.org", "editor").role is Role.EDITOR
    for bad in (
        "<script>@x.org",
        "ann@<b>x</b>.org",
        "ann\x1b[2J@x.org",
        'a"b@x.org',
        "ann\r\n@x.org",
        "ann @x.org",
        "ann@-x.org",
        "ann@x..org",
    ):
        with pytest.raises(InvalidInput, match="not an email address"):
            service.add_user(bad, Role.REVIEWER, "first-password-1")
    assert service.add_user("o'neil+review@nhs.example.uk", Role.EDITOR, "first-password-1")[0].role is Role.EDITOR


def test_the_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEDSIDE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("BEDSIDE_DATABASE_URL", raising=False)
    run = CliRunner()
    assert run.invoke(main, ["users", "add", "ann@example.org", "--role", "reviewer"]).exit_code == 0
    token = run.invoke(main, ["users", "token", "ann@example.org", "--days", "7"]).output.strip()
    assert token.startswith("bst_")
    listed = run.invoke(main, ["users", "tokens", "ann@example.org"]).output
    token_id = listed.split()[0]
    assert "expires 20" in listed
    reset = run.invoke(main, ["users", "password", "ann@example.org"])
    assert (
        reset.exit_code == 0 and "its sessions have ended" in reset.output and "password (shown once)" in reset.output
    )
    assert "is now admin" in run.invoke(main, ["users", "role", "ann@example.org", "admin"]).output
    revoked = run.invoke(main, ["users", "revoke-token", "ann@example.org", token_id])
    assert (
        revoked.exit_code == 0
        and "has no API tokens" in run.invoke(main, ["users", "tokens", "ann@example.org"]).output
    )
