"""`bedside users`, `bedside review` and `bedside articles` against the data directory's article database."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bedside.cli import main
from bedside.config import load_settings
from bedside.editorial.desk import SqlArticleService

Run = Callable[..., Result]
QUESTION = "How is iron deficiency treated?"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BEDSIDE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BEDSIDE_STARTER_KB", "false")
    monkeypatch.delenv("BEDSIDE_DATABASE_URL", raising=False)
    return tmp_path / "data"


@pytest.fixture
def run(data_dir: Path) -> Run:
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(main, list(args), input=stdin, catch_exceptions=False)

    return invoke


@pytest.fixture
def slug(data_dir: Path) -> Iterator[str]:
    """One submitted article, made the way the web app makes them."""
    ref = {
        "number": 1,
        "type": "Guideline",
        "title": "Iron deficiency",
        "source": "BSG",
        "year": 2021,
        "url": "",
        "document_id": "doc-a",
    }
    answer: dict[str, Any] = {
        "question": QUESTION,
        "title": "Iron deficiency",
        "audience": "clinician",
        "insufficient_evidence": False,
        "bottom_line": [{"text": "Give oral iron.", "citations": [1], "provenance": []}],
        "sections": [],
        "references": [ref],
        "disclaimer": "For professionals.",
        "meta": {"composer": "extractive"},
    }
    with SqlArticleService(load_settings().resolved_database_url) as service:
        yield service.article_for(QUESTION, lambda: answer, {"doc-a": "h"}).slug


def test_users_add_with_a_generated_or_piped_password(run: Run) -> None:
    result = run("users", "add", "ann@example.org", "--role", "reviewer")
    assert result.exit_code == 0, result.output
    assert "added reviewer ann@example.org" in result.output
    password = result.output.split("password (shown once): ")[1].strip()
    result = run("users", "add", "eve@example.org", "--role", "editor", "--password-stdin", stdin="piped-password-1\n")
    assert result.exit_code == 0 and "password" not in result.output
    with SqlArticleService(load_settings().resolved_database_url) as service:
        assert service.authenticate("ann@example.org", password) is not None
        assert service.authenticate("eve@example.org", "piped-password-1") is not None
    listed = json.loads(run("users", "list", "--json").output)
    profile = {"display_name": "", "credentials": "", "affiliation": ""}
    assert listed == [
        {"email": "ann@example.org", "role": "reviewer", "active": True, **profile},
        {"email": "eve@example.org", "role": "editor", "active": True, **profile},
    ]
    assert "ann@example.org" in run("users", "list").output


def test_user_errors_exit_2_for_bad_input_and_1_for_missing_things(run: Run) -> None:
    result = run("users", "add", "ann@example.org", "--role", "reviewer", "--password-stdin", stdin="short\n")
    assert result.exit_code == 2 and "a password needs 12" in result.output
    assert run("users", "add", "not-an-email", "--role", "admin").exit_code == 2
    assert run("users", "add", "ann@example.org", "--role", "owner").exit_code == 2  # click refuses the choice
    result = run("users", "token", "who@example.org")
    assert result.exit_code == 1 and "no user 'who@example.org'" in result.output


def test_tokens_print_once_and_deactivation_stops_them(run: Run) -> None:
    run("users", "add", "ann@example.org", "--role", "reviewer")
    token = run("users", "token", "ann@example.org").output.strip()
    with SqlArticleService(load_settings().resolved_database_url) as service:
        assert service.user_by_token(token) is not None
    assert "deactivated" in run("users", "deactivate", "ann@example.org").output
    with SqlArticleService(load_settings().resolved_database_url) as service:
        assert service.user_by_token(token) is None
    assert "now active" in run("users", "deactivate", "ann@example.org", "--undo").output


def test_review_from_the_command_line(run: Run, slug: str) -> None:
    run("users", "add", "ann@example.org", "--role", "reviewer")
    listed = json.loads(run("review", "list", "--status", "submitted", "--json").output)
    assert [(a["slug"], a["status"], a["version"]) for a in listed] == [(slug, "submitted", 1)]
    assert slug in run("review", "list").output
    result = run("review", "claim", slug, "--as", "ann@example.org")
    assert result.exit_code == 0 and f"{slug}: under_review (version 1)" in result.output
    result = run("review", "claim", slug, "--as", "ann@example.org")
    assert result.exit_code == 1 and "cannot claim an article that is under review" in result.output
    result = run("review", "request-changes", slug, "--as", "ann@example.org")
    assert result.exit_code == 2 and "Missing option '--comment'" in result.output
    assert run("review", "request-changes", slug, "--as", "ann@example.org", "-m", "Add the dose.").exit_code == 0
    history = run("review", "history", slug).output
    assert "request_changes" in history and "Add the dose." in history
    result = run("review", "verify-audit")
    assert result.exit_code == 0 and "3 audit records, chain intact" in result.output
    result = run("review", "approve", slug, "--as", "who@example.org")
    assert result.exit_code == 1 and "no user" in result.output
    assert run("review", "list", "--status", "approved").output.strip() == "No articles."


def test_export_approved_articles(run: Run, slug: str, tmp_path: Path) -> None:
    run("users", "add", "ann@example.org", "--role", "reviewer")
    assert run("articles", "export").output == ""
    run("review", "claim", slug, "--as", "ann@example.org")
    run("review", "approve", slug, "--as", "ann@example.org")
    result = run("articles", "export", "--output", str(tmp_path / "out"))
    assert result.exit_code == 0 and "wrote 1 file(s)" in result.output
    text = (tmp_path / "out" / f"{slug}.md").read_text(encoding="utf-8")
    assert text.startswith("# Iron deficiency") and "1. Guideline — Iron deficiency. BSG, 2021." in text
    exported = json.loads(run("articles", "export", "--format", "json").output)
    assert [a["slug"] for a in exported] == [slug] and exported[0]["approved_by"] == "ann@example.org"
    assert run("articles", "export", "--format", "docx").exit_code == 2


def test_users_profile_sets_how_the_board_names_a_reviewer(run: Run) -> None:
    assert run("users", "add", "ann@example.org", "--role", "reviewer").exit_code == 0
    r = run(
        "users",
        "profile",
        "ann@example.org",
        "--name",
        "Dr Ann Lee",
        "--credentials",
        "MD, FRCP",
        "--affiliation",
        "St Elsewhere Hospital",
    )
    assert r.exit_code == 0 and "Dr Ann Lee, MD, FRCP — St Elsewhere Hospital" in r.output
    r = run("users", "profile", "ann@example.org", "--affiliation", "Royal Infirmary")  # the rest stays
    assert "Dr Ann Lee, MD, FRCP — Royal Infirmary" in r.output
    listed = json.loads(run("users", "list", "--json").output)
    assert listed[0]["display_name"] == "Dr Ann Lee" and listed[0]["affiliation"] == "Royal Infirmary"
    bad = run("users", "profile", "ann@example.org", "--name", "ann@example.org")
    assert bad.exit_code != 0 and "email address" in bad.output
    missing = run("users", "profile", "nobody@example.org", "--name", "X")
    assert missing.exit_code != 0 and "no user" in missing.output


def test_approving_an_unsupported_edit_from_the_command_line_needs_the_override(run: Run, slug: str) -> None:
    run("users", "add", "ann@example.org", "--role", "reviewer")
    run("users", "add", "eve@example.org", "--role", "editor")
    with SqlArticleService(load_settings().resolved_database_url) as service:
        edit = service.get(slug).latest.answer
        edit["bottom_line"][0]["text"] = "Give 900 mg of iron every hour."  # in no source, checked by nothing
        service.edit(slug, service.get_user("eve@example.org"), edit)
    assert run("review", "claim", slug, "--as", "ann@example.org", "--version", "2").exit_code == 0
    result = run("review", "approve", slug, "--as", "ann@example.org", "--version", "2")
    assert result.exit_code == 2 and "approve with the override" in result.output
    result = run("review", "approve", slug, "--as", "ann@example.org", "--version", "2", "--override")
    assert result.exit_code == 2 and "needs a reason for the override" in result.output
    result = run("review", "reject", slug, "--as", "ann@example.org", "-m", "No.", "--override")
    assert result.exit_code == 2 and "--override applies to approve only" in result.output
    result = run(
        "review", "approve", slug, "--as", "ann@example.org", "--version", "2", "--override", "-m", "Pharmacy agreed."
    )
    assert result.exit_code == 0 and f"{slug}: approved (version 2)" in result.output
    history = run("review", "history", slug).output
    assert "override: approved with 1 editor statement" in history and "Pharmacy agreed." in history
    result = run("audit", "verify")
    assert result.exit_code == 0 and "chain intact" in result.output, result.output
