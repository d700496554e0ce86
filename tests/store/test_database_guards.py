"""What the article database itself enforces and reports, on SQLite and a real PostgreSQL server: the audit log
refuses every rewrite (UPDATE, DELETE, INSERT OR REPLACE / ON CONFLICT), `bedside audit verify` names the first
record an owner with the guard switched off tampered with, and the deployment check reads the server's durability.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from test_articles import (  # the article helpers of the store's contract suite
    AUDIT_KEY,
    AUDIT_SECRET,
    FAST_HASHER,
    SOURCES,
    answer,
    database_url,
)

from bedside.cli import main
from bedside.config import load_settings
from bedside.editorial.desk import SqlArticleService
from bedside.editorial.interface import Role
from bedside.ops.deploy_checks import check_database
from bedside.store.article_db import open_engine

__all__ = ["database_url"]  # a fixture used here (the PostgreSQL ones are in tests/conftest.py)

QUESTIONS = ("How is iron deficiency treated?", "How is B12 deficiency treated?", "How is folate deficiency treated?")


def _approved_articles(url: str) -> list[int]:
    """Three approved articles (nine audit records); the audit record ids, oldest first."""
    with SqlArticleService(url, hasher=FAST_HASHER, audit_key=AUDIT_KEY) as service:
        ann = service.add_user("ann@example.org", Role.REVIEWER, "ann-password-long")[0]
        for question in QUESTIONS:
            slug = service.article_for(question, lambda q=question: answer(q), SOURCES).slug
            service.review(slug, "claim", ann)
            service.review(slug, "approve", ann)
    engine = open_engine(url)
    try:
        with engine.connect() as connection:
            return [int(i) for i in connection.exec_driver_sql("SELECT id FROM audit ORDER BY id").scalars()]
    finally:
        engine.dispose()


def _as_owner(url: str, *statements: str) -> None:
    """Run statements with the append-only guard switched off, as someone owning the database could."""
    engine = open_engine(url)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql("ALTER TABLE audit DISABLE TRIGGER USER")
            else:
                for trigger in ("audit_no_update", "audit_no_delete"):
                    connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _verify(url: str, tmp_path: Path, *args: str) -> Result:
    env = {
        "BEDSIDE_DATA_DIR": str(tmp_path / "data"),
        "BEDSIDE_DATABASE_URL": url,
        "BEDSIDE_STARTER_KB": "false",
        "BEDSIDE_AUDIT_KEY": AUDIT_SECRET,
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_audit_records_cannot_be_rewritten_in_any_way(database_url: str, tmp_path: Path) -> None:
    ids = _approved_articles(database_url)
    columns = "id, article_id, at, actor, action, from_status, to_status, version, comment, prev_hash, hash"
    mallory = "'mallory@example.org'"
    copy = f"SELECT {columns.replace('actor', mallory)} FROM audit"
    engine = open_engine(database_url)
    rewrites = [
        f"UPDATE audit SET comment = 'looks fine' WHERE id = {ids[1]}",
        f"DELETE FROM audit WHERE id = {ids[-1]}",
        f"INSERT OR REPLACE INTO audit ({columns}) {copy} WHERE id = {ids[1]}"
        if engine.dialect.name == "sqlite"
        else f"INSERT INTO audit ({columns}) {copy} WHERE id = {ids[1]} ON CONFLICT (id) DO UPDATE SET actor = 'x'",
    ]
    try:
        for statement in rewrites:
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
                connection.exec_driver_sql(statement)
        with engine.connect() as connection:
            actors = set(connection.exec_driver_sql("SELECT actor FROM audit").scalars())
    finally:
        engine.dispose()
    assert actors == {"system", "ann@example.org"}
    result = _verify(database_url, tmp_path, "audit", "verify")
    assert result.exit_code == 0 and "9 audit records, chain intact" in result.output


def test_audit_verify_names_the_first_altered_record(database_url: str, tmp_path: Path) -> None:
    ids = _approved_articles(database_url)
    intact = _verify(database_url, tmp_path, "audit", "verify")
    assert intact.exit_code == 0, intact.output
    _as_owner(database_url, f"UPDATE audit SET comment = 'fine by me' WHERE id IN ({ids[4]}, {ids[7]})")
    for command in (("audit", "verify"), ("review", "verify-audit")):  # the old name is an alias
        result = _verify(database_url, tmp_path, *command)
        assert result.exit_code == 1, result.output
        assert f"first broken: record {ids[4]}" in result.output
        assert f"record {ids[4]}: its content does not match its hash (altered)" in result.output
        assert f"record {ids[7]}:" in result.output and "chain BROKEN" in result.output


def test_audit_verify_finds_removed_records(database_url: str, tmp_path: Path) -> None:
    ids = _approved_articles(database_url)
    head = _verify(database_url, tmp_path, "audit", "verify").output.split("head ")[-1].strip()
    _as_owner(database_url, f"DELETE FROM audit WHERE id = {ids[-1]}")  # the newest: the chain alone still links
    replayed = _verify(database_url, tmp_path, "audit", "verify")  # but the article no longer matches its records
    assert replayed.exit_code == 1, replayed.output
    assert "the database says status 'approved' but audit record" in replayed.output
    cut = _verify(database_url, tmp_path, "audit", "verify", "--trusted-head", head)
    assert cut.exit_code == 1 and f"no record has the trusted head {head}" in cut.output
    _as_owner(database_url, f"DELETE FROM audit WHERE id = {ids[3]}")  # from the middle: the next one no longer links
    gap = _verify(database_url, tmp_path, "audit", "verify")
    assert gap.exit_code == 1 and f"first broken: record {ids[4]}" in gap.output
    assert f"record {ids[4]}: does not follow the record before it (chain broken)" in gap.output


def test_the_deploy_check_reads_postgres_durability(postgres_url: str, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, database_url=postgres_url)
    finding = check_database(settings)  # the throwaway test cluster runs with fsync=off
    assert not finding.ok and "fsync is off" in finding.detail and "synchronous_commit" not in finding.detail
    relaxed = sa.make_url(postgres_url)
    options = relaxed.query["options"] + " -csynchronous_commit=off"
    relaxed_url = relaxed.update_query_dict({"options": options}).render_as_string(hide_password=False)
    finding = check_database(load_settings(data_dir=tmp_path, database_url=relaxed_url))
    assert not finding.ok and "fsync is off" in finding.detail and "synchronous_commit is off" in finding.detail
