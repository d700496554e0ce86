"""The audit chain protects what it audits, on SQLite and a real PostgreSQL server: records are keyed (HMAC with a key
kept outside the database) and bound to the version's content and the article's resulting state, and `verify`
replays them against `articles` and `versions`. Each attack below passed `bedside audit verify` before.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
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
from bedside.editorial.audit import AuditKey, legacy_hash
from bedside.editorial.desk import SqlArticleService
from bedside.editorial.interface import AuditEvent, Role
from bedside.editorial.keys import KEY_FILE, stored_key
from bedside.errors import InvalidInput
from bedside.store.article_db import MIGRATIONS, VERSION_TABLE, WRITE, open_engine

__all__ = ["database_url"]  # fixtures used here (the PostgreSQL server's are in tests/conftest.py)

QUESTIONS = ("How is iron deficiency treated?", "How is B12 deficiency treated?")


def _service(url: str, key: AuditKey = AUDIT_KEY) -> SqlArticleService:
    return SqlArticleService(url, hasher=FAST_HASHER, audit_key=key)


def _approved(url: str) -> list[str]:
    """Two approved articles (six records); their slugs."""
    with _service(url) as service:
        ann = service.add_user("ann@example.org", Role.REVIEWER, "ann-password-long")[0]
        slugs = []
        for question in QUESTIONS:
            slug = service.article_for(question, lambda q=question: answer(q), SOURCES).slug
            service.review(slug, "claim", ann)
            service.review(slug, "approve", ann)
            slugs.append(slug)
        assert service.verify_audit().ok
    return slugs


def _as_owner(url: str, *statements: str) -> None:
    """Run statements with every guard switched off, as the database owner (or PostgreSQL's app role) can."""
    engine = open_engine(url)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                for table in ("audit", "versions", "articles"):
                    connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            else:
                names = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars()
                for name in list(names):
                    connection.exec_driver_sql(f"DROP TRIGGER {name}")
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _verify(url: str, tmp_path: Path, *args: str, secret: str = AUDIT_SECRET) -> Result:
    env = {
        "BEDSIDE_DATA_DIR": str(tmp_path / "data"),
        "BEDSIDE_DATABASE_URL": url,
        "BEDSIDE_STARTER_KB": "false",
        "BEDSIDE_AUDIT_KEY": secret,
    }
    return CliRunner().invoke(main, ["audit", "verify", *args], env=env, catch_exceptions=False)


def _scalar(url: str, sql: str) -> object:
    engine = open_engine(url)
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql(sql).scalar()
    finally:
        engine.dispose()


def test_a_status_set_in_the_database_fails_verification(database_url: str, tmp_path: Path) -> None:
    with _service(database_url) as service:
        slug = service.article_for(QUESTIONS[0], lambda: answer(), SOURCES).slug
    _as_owner(database_url, f"UPDATE articles SET status = 'approved', approved_version = 1 WHERE slug = '{slug}'")
    result = _verify(database_url, tmp_path)
    assert result.exit_code == 1, result.output
    assert f"{slug}: the database says status 'approved' but audit record 1 sealed 'submitted'" in result.output
    assert f"{slug}: the database says approved_version 1 but audit record 1 sealed 0" in result.output


def test_an_approved_text_rewritten_with_the_guards_off_fails_verification(database_url: str, tmp_path: Path) -> None:
    slug = _approved(database_url)[0]
    forged = json.dumps(answer(text="Give 500 mg every hour.")).replace("'", "''")
    article = f"(SELECT id FROM articles WHERE slug = '{slug}')"
    _as_owner(database_url, f"UPDATE versions SET answer = '{forged}' WHERE article_id = {article} AND number = 1")
    result = _verify(database_url, tmp_path)
    assert result.exit_code == 1, result.output
    assert f"record 1: version 1 of {slug} is not the text this record sealed (rewritten)" in result.output
    assert "first broken: record 1" in result.output


def test_a_version_inserted_directly_fails_verification(database_url: str, tmp_path: Path) -> None:
    slug = _approved(database_url)[0]
    columns = "article_id, number, answer, sources, created, created_by, composer, kb_snapshot, bedside_version"
    copy = "SELECT article_id, 2, answer, sources, created, created_by, composer, kb_snapshot, bedside_version"
    _as_owner(
        database_url,
        f"INSERT INTO versions ({columns}) {copy} FROM versions WHERE number = 1 "
        f"AND article_id = (SELECT id FROM articles WHERE slug = '{slug}')",
    )
    result = _verify(database_url, tmp_path)
    assert result.exit_code == 1 and f"{slug}: version 2 has no audit record" in result.output


def test_an_emptied_log_beside_articles_fails_verification(database_url: str, tmp_path: Path) -> None:
    _approved(database_url)
    _as_owner(database_url, "DELETE FROM audit")
    result = _verify(database_url, tmp_path)
    assert result.exit_code == 1, result.output
    assert "0 audit records, chain BROKEN" in result.output
    assert "the audit log is empty but 2 articles exist" in result.output


def test_an_appended_unkeyed_record_fails_even_with_the_trusted_head(database_url: str, tmp_path: Path) -> None:
    slugs = _approved(database_url)
    head = _verify(database_url, tmp_path).output.split("head ")[-1].strip()
    article_id = _scalar(database_url, f"SELECT id FROM articles WHERE slug = '{slugs[0]}'")
    event = AuditEvent("2026-12-01T00:00:00+00:00", "mallory@example.org", "approve", "approved", "approved", 1)
    forged = legacy_hash(head, slugs[0], event)
    rehashed = hashlib.sha256(f"{head}{forged}".encode()).hexdigest()  # a keyed-looking record, keyed with nothing
    for scheme, digest in (("sha256", forged), ("hmac-sha256", rehashed)):
        _as_owner(database_url, "DELETE FROM audit WHERE actor = 'mallory@example.org'")
        _as_owner(
            database_url,
            "INSERT INTO audit (id, article_id, at, actor, action, from_status, to_status, version, comment, "
            f"prev_hash, hash, content_hash, state, scheme, key_id) VALUES (7, {article_id}, '{event.at}', "
            f"'{event.actor}', 'approve', 'approved', 'approved', 1, '', '{head}', '{digest}', '', '', '{scheme}', "
            f"'{AUDIT_KEY.key_id}')",
        )
        result = _verify(database_url, tmp_path, "--trusted-head", head)
        assert result.exit_code == 1, (scheme, result.output)
        assert "first broken: record 7" in result.output
        expected = (
            "an unkeyed record after keyed ones"
            if scheme == "sha256"
            else "its content does not match its hash (altered)"
        )
        assert f"record 7: {expected}" in result.output


def test_records_sealed_with_another_key_fail(database_url: str, tmp_path: Path) -> None:
    _approved(database_url)
    result = _verify(database_url, tmp_path, secret="another-key-" + "x" * 40)
    assert result.exit_code == 1
    assert f"record 1: sealed with another audit key ({AUDIT_KEY.key_id}; this installation's key is" in result.output


def test_bedside_check_reports_a_tampered_article(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"BEDSIDE_DATA_DIR": str(data), "BEDSIDE_STARTER_KB": "false", "BEDSIDE_EMBEDDER": "hashing"}
    for name in ("BEDSIDE_DATABASE_URL", "BEDSIDE_AUDIT_KEY"):
        env[name] = ""
    with SqlArticleService(f"sqlite:///{data / 'bedside.db'}", hasher=FAST_HASHER) as service:
        slug = service.article_for(QUESTIONS[0], lambda: answer(), SOURCES).slug
    assert stat.S_IMODE((data / KEY_FILE).stat().st_mode) == 0o600  # the key beside the database, private
    runner = CliRunner()
    assert "OK      audit log: 1 records" in runner.invoke(main, ["check"], env=env).output
    _as_owner(f"sqlite:///{data / 'bedside.db'}", f"UPDATE articles SET status = 'approved' WHERE slug = '{slug}'")
    result = runner.invoke(main, ["check"], env=env)
    assert result.exit_code == 1 and "PROBLEM audit log" in result.output
    assert "the database says status 'approved'" in result.output


def test_the_key_file_must_be_private_and_usable(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    key = stored_key(path)
    assert stored_key(path) == key and stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)
    with pytest.raises(InvalidInput, match=r"open to other users .*chmod 600"):
        stored_key(path)
    os.chmod(path, 0o600)
    path.write_text("short\n")
    with pytest.raises(InvalidInput, match="does not hold a usable audit key"):
        stored_key(path)
    with pytest.raises(InvalidInput, match="BEDSIDE_AUDIT_KEY"):
        SqlArticleService("sqlite://", hasher=FAST_HASHER)  # no file to keep a key beside: say where one goes


# -- a chain written before it was keyed ------------------------------------------------------------------------


def _legacy_database(url: str) -> str:
    """A database at revision 0002 with one approved article and its unkeyed records, as the old code wrote them."""
    engine = open_engine(url).execution_options(**{WRITE: True})
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_table", VERSION_TABLE)
    slug = "how-is-iron-deficiency-treated-abc123"
    at = "2026-11-30T09:00:00+00:00"
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
            connection.execute(
                sa.text(
                    "INSERT INTO articles (slug, question, search, status, claimed_by, approved_by, approved_at, "
                    "approved_version, sources_changed, created, updated, row_version) VALUES (:slug, :q, :q, "
                    "'approved', '', 'ann@example.org', :at, 1, false, :at, :at, 3)"
                ),
                {"slug": slug, "q": QUESTIONS[0], "at": at},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO versions (article_id, number, answer, sources, created, created_by, composer, "
                    "kb_snapshot, bedside_version) VALUES (1, 1, :answer, '{}', :at, 'system', 'extractive', 's', '0')"
                ),
                {"answer": json.dumps(answer()), "at": at},
            )
            prev = ""
            for action, before, after in (
                ("compose", "", "submitted"),
                ("claim", "submitted", "under_review"),
                ("approve", "under_review", "approved"),
            ):
                event = AuditEvent(at, "system" if action == "compose" else "ann@example.org", action, before, after, 1)
                digest = legacy_hash(prev, slug, event)
                connection.execute(
                    sa.text(
                        "INSERT INTO audit (article_id, at, actor, action, from_status, to_status, version, comment, "
                        "prev_hash, hash) VALUES (1, :at, :actor, :action, :before, :after, 1, '', :prev, :hash)"
                    ),
                    {
                        "at": at,
                        "actor": event.actor,
                        "action": action,
                        "before": before,
                        "after": after,
                        "prev": prev,
                        "hash": digest,
                    },
                )
                prev = digest
    finally:
        engine.dispose()
    return slug


def test_a_legacy_chain_is_re_keyed_from_a_verified_state(database_url: str, tmp_path: Path) -> None:
    slug = _legacy_database(database_url)
    result = _verify(database_url, tmp_path)  # opening migrates to the keyed schema
    assert result.exit_code == 1 and f"{slug}: its records are unkeyed" in result.output
    assert "3 records predate the keyed chain" in result.output and "bedside audit rekey" in result.output
    env = {
        "BEDSIDE_DATA_DIR": str(tmp_path / "data"),
        "BEDSIDE_DATABASE_URL": database_url,
        "BEDSIDE_AUDIT_KEY": AUDIT_SECRET,
    }
    rekeyed = CliRunner().invoke(main, ["audit", "rekey"], env=env, catch_exceptions=False)
    assert rekeyed.exit_code == 0, rekeyed.output
    assert "checked 3 unkeyed audit records" in rekeyed.output and "checkpoint for 1 article(s)" in rekeyed.output
    assert _verify(database_url, tmp_path).exit_code == 0
    again = CliRunner().invoke(main, ["audit", "rekey"], env=env, catch_exceptions=False)
    assert "nothing to re-key" in again.output
    _as_owner(database_url, "UPDATE versions SET created_by = 'mallory@example.org'")  # after: the checkpoint holds
    result = _verify(database_url, tmp_path)
    assert (
        result.exit_code == 1 and f"record 4: versions 1 to 1 of {slug} changed since this checkpoint" in result.output
    )


def test_a_tampered_legacy_chain_is_not_re_keyed(database_url: str, tmp_path: Path) -> None:
    slug = _legacy_database(database_url)
    with _service(database_url):
        pass  # migrated
    _as_owner(database_url, "UPDATE articles SET status = 'rejected'")
    with _service(database_url) as service, pytest.raises(InvalidInput, match=f"{slug}: the database says 'rejected'"):
        service.rekey_audit()
    _as_owner(database_url, "UPDATE articles SET status = 'approved'", "UPDATE audit SET actor = 'x' WHERE id = 2")
    with _service(database_url) as service, pytest.raises(InvalidInput, match="record 2: its content does not match"):
        service.rekey_audit()
    assert _scalar(database_url, "SELECT count(*) FROM audit") == 3  # nothing was appended


def test_an_approval_with_the_override_is_sealed_and_verifies(database_url: str, tmp_path: Path) -> None:
    """Approving an editor's statement that the verifier did not find is recorded, with its reason, in the keyed
    chain: replay verifies it, and neither the override's words nor the statement's verdict can be changed after."""
    with _service(database_url) as service:
        ann = service.add_user("ann@example.org", Role.REVIEWER, "ann-password-long")[0]
        eve = service.add_user("eve@example.org", Role.EDITOR, "eve-password-long")[0]
        slug = service.article_for(QUESTIONS[0], lambda: answer(), SOURCES).slug
        edited = service.edit(slug, eve, answer(text="Give 900 mg of iron every hour."))  # checked by nothing
        assert edited.latest.answer["bottom_line"][0]["supported"] is False
        service.review(slug, "claim", ann, version=2)
        with pytest.raises(InvalidInput, match="approve with the override"):
            service.review(slug, "approve", ann, version=2)
        done = service.review(slug, "approve", ann, "Checked the dose with pharmacy.", 2, override=True)
        assert done.approved_version == 2
        last = service.history(slug)[-1]
        assert last.comment.startswith("override: approved with 1 editor statement") and "pharmacy" in last.comment
        assert service.verify_audit().ok
    result = _verify(database_url, tmp_path)
    assert result.exit_code == 0 and "chain intact" in result.output, result.output

    _as_owner(database_url, "UPDATE audit SET comment = 'Looks right.' WHERE action = 'approve'")  # hide the override
    result = _verify(database_url, tmp_path)
    assert result.exit_code == 1 and "its content does not match its hash (altered)" in result.output

    _as_owner(
        database_url,
        "UPDATE audit SET comment = 'override: approved with 1 editor statement that bedside''s "
        "check did not find in its cited sources. Checked the dose with pharmacy.' "
        "WHERE action = 'approve'",
    )
    assert _verify(database_url, tmp_path).exit_code == 0  # restored word for word: the seal holds again
    article = f"(SELECT id FROM articles WHERE slug = '{slug}')"
    flip = "REPLACE(answer, '\"supported\": false', '\"supported\": true')"  # the verdict made to say "found"
    _as_owner(database_url, f"UPDATE versions SET answer = {flip} WHERE article_id = {article} AND number = 2")
    result = _verify(database_url, tmp_path)
    assert result.exit_code == 1, result.output
    assert f"version 2 of {slug} is not the text this record sealed (rewritten)" in result.output
