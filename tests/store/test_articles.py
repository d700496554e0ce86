"""The article store's contract, run against SQLite and a real PostgreSQL server.

PostgreSQL: BEDSIDE_TEST_POSTGRES_URL when set; otherwise a throwaway cluster started from the Debian server
binaries (/usr/lib/postgresql/*/bin) for this session. Without either the PostgreSQL runs are skipped, except
under CI=true, where they fail. Each test gets its own schema (SQLite: its own file).
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from bedside.answer.render import to_markdown
from bedside.editorial import records
from bedside.editorial.audit import AuditKey
from bedside.editorial.desk import SqlArticleService
from bedside.editorial.edits import Verdict
from bedside.editorial.interface import ReviewStatus, Role, User
from bedside.errors import BackendUnavailable, Conflict, InvalidInput, NotFound, PermissionDenied
from bedside.store.article_db import MIGRATIONS, WRITE, metadata, open_engine
from bedside.text.slugs import slug_for

AUDIT_SECRET = "test-audit-key-0123456789abcdef0123456789abcdef"
AUDIT_KEY = AuditKey(AUDIT_SECRET.encode())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


QUESTION = "What is the first-line treatment for iron deficiency anaemia?"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'bedside.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


# -- the service and its people --------------------------------------------------------------------------------


class Clock:
    """A clock that moves one minute every time it is read."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def open_service(database_url: str) -> Iterator[Callable[[], SqlArticleService]]:
    opened: list[SqlArticleService] = []

    def open_one() -> SqlArticleService:
        opened.append(SqlArticleService(database_url, Clock(), hasher=FAST_HASHER, audit_key=AUDIT_KEY))
        return opened[-1]

    yield open_one
    for service in opened:
        service.close()


@pytest.fixture
def service(open_service: Callable[[], SqlArticleService]) -> SqlArticleService:
    return open_service()


@pytest.fixture
def people(service: SqlArticleService) -> dict[str, User]:
    made = {
        "ann": service.add_user("ann@example.org", Role.REVIEWER, "ann-password-long")[0],
        "bob": service.add_user("bob@example.org", Role.REVIEWER, "bob-password-long")[0],
        "eve": service.add_user("eve@example.org", Role.EDITOR, "eve-password-long")[0],
        "root": service.add_user("root@example.org", Role.ADMIN, "root-password-long")[0],
    }
    return made


def answer(title: str = "Iron deficiency anaemia", text: str = "Give oral iron once daily.") -> dict[str, Any]:
    ref = {
        "number": 1,
        "type": "Guideline",
        "title": "Iron deficiency",
        "source": "BSG",
        "year": 2021,
        "url": "",
        "document_id": "doc-a",
    }
    ref2 = {**ref, "number": 2, "title": "Anaemia", "document_id": "doc-b"}
    statement = {
        "text": text,
        "citations": [1],
        "provenance": [{"passage_id": "doc-a:0", "document_id": "doc-a", "start": 0, "end": 26}],
    }
    return {
        "question": QUESTION,
        "title": title,
        "audience": "clinician",
        "status": "submitted",
        "updated": "",
        "conversation": "",
        "slug": "",
        "insufficient_evidence": False,
        "bottom_line": [statement],
        "sections": [
            {"heading": "Treatment", "statements": [{**statement, "text": "Check ferritin.", "citations": [2]}]}
        ],
        "references": [ref, ref2],
        "disclaimer": "For professionals.",
        "meta": {"composer": "extractive", "dropped_statements": 0, "kb_snapshot": "snap-1"},
    }


SOURCES = {"doc-a": "hash-a", "doc-b": "hash-b"}


def new_article(service: SqlArticleService, question: str = QUESTION, title: str = "Iron deficiency anaemia") -> str:
    return service.article_for(question, lambda: answer(title), SOURCES).slug


def approved(service: SqlArticleService, people: dict[str, User]) -> str:
    slug = new_article(service)
    service.review(slug, "claim", people["ann"])
    service.review(slug, "approve", people["ann"])
    return slug


# -- articles and versions -------------------------------------------------------------------------------------


def test_one_article_per_normalised_question_composed_once(service: SqlArticleService) -> None:
    calls: list[int] = []

    def compose() -> dict[str, Any]:
        calls.append(1)
        return answer()

    first = service.article_for(QUESTION, compose, SOURCES)
    again = service.article_for("  what is the FIRST-LINE treatment for iron deficiency anaemia ", compose, {})
    assert len(calls) == 1 and first == again
    assert first.slug == slug_for(QUESTION) and first.question == QUESTION
    assert first.status is ReviewStatus.SUBMITTED and first.public_version == first.latest
    v1 = first.versions[0]
    assert (v1.number, v1.created_by, v1.composer, v1.kb_snapshot, v1.sources) == (
        1,
        "system",
        "extractive",
        "snap-1",
        SOURCES,
    )
    assert v1.answer == {**answer(), "slug": first.slug} and v1.bedside_version
    assert v1.created == first.created == "2026-11-21T09:01:00+00:00"
    assert [e.action for e in service.history(first.slug)] == ["compose"]


def test_unknown_articles_are_not_found(service: SqlArticleService, people: dict[str, User]) -> None:
    for call in (service.get, service.history):
        with pytest.raises(NotFound, match="no article 'nope'"):
            call("nope")
    with pytest.raises(NotFound):
        service.review("nope", "claim", people["ann"])
    with pytest.raises(InvalidInput, match="empty"):
        service.article_for("  ", answer, {})


def test_claim_then_approve_makes_the_version_public(service: SqlArticleService, people: dict[str, User]) -> None:
    slug = new_article(service)
    claimed = service.review(slug, "claim", people["ann"])
    assert claimed.status is ReviewStatus.UNDER_REVIEW and claimed.claimed_by == "ann@example.org"
    done = service.review(slug, "approve", people["ann"], "Looks right.")
    assert done.status is ReviewStatus.APPROVED and done.public_version == done.versions[0]
    assert (done.approved_by, done.approved_version, done.claimed_by) == ("ann@example.org", 1, "")
    assert done.approved_at == done.updated
    events = service.history(slug)
    assert [(e.action, e.from_status, e.to_status, e.actor) for e in events] == [
        ("compose", "", "submitted", "system"),
        ("claim", "submitted", "under_review", "ann@example.org"),
        ("approve", "under_review", "approved", "ann@example.org"),
    ]
    assert events[-1].comment == "Looks right." and events[-1].version == 1


def test_changes_requested_then_edited_then_approved_by_someone_else(
    service: SqlArticleService, people: dict[str, User]
) -> None:
    slug = new_article(service)
    service.review(slug, "claim", people["ann"])
    with pytest.raises(InvalidInput, match="needs a comment"):
        service.review(slug, "request_changes", people["ann"])
    assert service.get(slug).status is ReviewStatus.UNDER_REVIEW
    back = service.review(slug, "request_changes", people["ann"], "Give the dose.")
    assert back.status is ReviewStatus.CHANGES_REQUESTED and back.claimed_by == ""
    supported = Verdict(True, "supported", [])  # what the verifier says when the source states it
    edited = service.edit(
        slug, people["eve"], answer(text="Give oral iron 65 mg once daily."), check=lambda *_: supported
    )
    assert edited.status is ReviewStatus.SUBMITTED and len(edited.versions) == 2
    v2 = edited.latest
    assert v2.created_by == "eve@example.org" and v2.sources == SOURCES
    assert v2.answer["bottom_line"][0]["text"] == "Give oral iron 65 mg once daily."
    assert v2.answer["bottom_line"][0]["editor"] is True and v2.answer["bottom_line"][0]["supported"] is True
    assert edited.versions[0].answer["bottom_line"][0]["text"] == "Give oral iron once daily."  # kept as it was
    service.review(slug, "claim", people["bob"])
    assert service.review(slug, "approve", people["bob"]).public_version == v2
    assert [e.version for e in service.history(slug)][-3:] == [2, 2, 2]


def test_reject_needs_a_reason_and_hides_the_article(service: SqlArticleService, people: dict[str, User]) -> None:
    slug = new_article(service)
    service.review(slug, "claim", people["ann"])
    with pytest.raises(InvalidInput, match="needs a reason"):
        service.review(slug, "reject", people["ann"], " ")
    gone = service.review(slug, "reject", people["ann"], "Not a clinical question.")
    assert gone.status is ReviewStatus.REJECTED and gone.public_version is None
    assert [a.slug for a in service.list(ReviewStatus.REJECTED)] == [slug]
    with pytest.raises(Conflict, match="rejected"):  # nothing to review in it until an editor makes a new version
        service.review(slug, "claim", people["bob"])


def test_reviewers_cannot_approve_their_own_edits(service: SqlArticleService, people: dict[str, User]) -> None:
    slug = new_article(service)
    service.edit(slug, people["root"], answer(text="Edited by the admin."))
    service.review(slug, "claim", people["root"])
    with pytest.raises(PermissionDenied, match="you made version 2"):
        service.review(slug, "approve", people["root"])
    assert service.get(slug).status is ReviewStatus.UNDER_REVIEW


def test_roles_claims_and_accounts_are_checked_against_the_database(
    service: SqlArticleService, people: dict[str, User]
) -> None:
    slug = new_article(service)
    with pytest.raises(PermissionDenied, match="a reviewer may not edit"):
        service.edit(slug, people["ann"], answer())
    with pytest.raises(PermissionDenied, match="an editor may not claim"):
        service.review(slug, "claim", people["eve"])
    with pytest.raises(Conflict, match="cannot approve an article that is submitted"):
        service.review(slug, "approve", people["ann"])
    service.review(slug, "claim", people["ann"])
    with pytest.raises(PermissionDenied, match=r"claimed by ann@example\.org"):
        service.review(slug, "approve", people["bob"])
    forged = User(id=99, email="bob@example.org", role=Role.ADMIN)  # the stored role counts, not the caller's
    with pytest.raises(PermissionDenied, match="claimed by"):
        service.review(slug, "approve", forged)
    with pytest.raises(PermissionDenied, match="not a known user"):
        service.review(slug, "approve", User(id=5, email="mallory@example.org", role=Role.ADMIN))
    service.set_active("ann@example.org", False)
    with pytest.raises(PermissionDenied, match="deactivated"):
        service.review(slug, "approve", people["ann"])
    assert [e.action for e in service.history(slug)] == ["compose", "claim"]


def test_edits_without_citations_are_refused_and_write_nothing(
    service: SqlArticleService, people: dict[str, User]
) -> None:
    slug = new_article(service)
    bad = answer()
    bad["sections"][0]["statements"].append({"text": "Uncited claim.", "citations": []})
    with pytest.raises(InvalidInput, match="needs at least one citation"):
        service.edit(slug, people["eve"], bad)
    with pytest.raises(Conflict, match="version 0 is no longer the latest"):
        service.edit(slug, people["eve"], answer(), base=0)
    assert len(service.get(slug).versions) == 1 and len(service.history(slug)) == 1


def test_changed_sources_flag_and_regenerate_keep_the_approved_version_public(
    service: SqlArticleService, people: dict[str, User]
) -> None:
    slug = approved(service, people)
    other = new_article(service, "How is B12 deficiency treated?")  # not approved: its latest version is current
    assert service.flag_changed_sources(SOURCES) == []
    assert service.flag_changed_sources({"doc-a": "hash-a2"}) == sorted([slug, other])
    flagged = service.get(slug)
    assert flagged.sources_changed and flagged.status is ReviewStatus.APPROVED
    changes = (
        "“Iron deficiency” (doc-a) changed: re-ingested with different content",
        "“Anaemia” (doc-b) removed from the knowledge base",
    )
    assert flagged.sources_changes == changes and flagged.public_version == flagged.versions[0]
    assert service.history(slug)[-1].comment == "; ".join(changes)
    assert service.get(other).sources_changes == changes
    assert [a.slug for a in service.stale()] == [slug, other]
    fresh = service.regenerate(slug, lambda q: (answer(title=f"New: {q}"), {"doc-a": "hash-a2"}))
    assert fresh.status is ReviewStatus.SUBMITTED and len(fresh.versions) == 2
    assert fresh.public_version == fresh.versions[0] and fresh.sources_changed
    assert fresh.latest.created_by == "system" and fresh.latest.sources == {"doc-a": "hash-a2"}
    service.review(slug, "claim", people["bob"])
    done = service.review(slug, "approve", people["bob"])
    assert done.public_version == done.versions[1] and not done.sources_changed and not done.sources_changes
    assert service.flag_changed_sources({"doc-a": "hash-a2"}) == [other]
    actions = [e.action for e in service.history(slug)]
    assert actions == ["compose", "claim", "approve", "sources_changed", "regenerate", "claim", "approve"]


def test_regenerate_checks_the_state_before_composing(service: SqlArticleService, people: dict[str, User]) -> None:
    slug = new_article(service)
    service.review(slug, "claim", people["ann"])

    def never(question: str) -> tuple[dict[str, Any], dict[str, str]]:
        raise AssertionError("composed anyway")

    with pytest.raises(Conflict, match="under review"):
        service.regenerate(slug, never)
    with pytest.raises(PermissionDenied):
        service.regenerate(slug, never, people["ann"])


def test_list_filters_by_status_and_words(service: SqlArticleService, people: dict[str, User]) -> None:
    first = approved(service, people)
    second = new_article(service, "How is B12 deficiency treated?", "Vitamin B12 deficiency")
    assert [a.slug for a in service.list()] == [second, first]
    assert [a.slug for a in service.list(ReviewStatus.APPROVED)] == [first]
    assert [a.slug for a in service.list(query="b12 TREATED")] == [second]
    assert [a.slug for a in service.list(query="anaemia")] == [first]  # from the title too
    assert [a.slug for a in service.list(query="100%")] == []
    assert len(service.list(limit=1)) == 1


# -- audit log -------------------------------------------------------------------------------------------------


def test_the_audit_log_refuses_update_and_delete(service: SqlArticleService, people: dict[str, User]) -> None:
    approved(service, people)
    engine = open_engine(service._engine.url.render_as_string(hide_password=False))
    try:
        for statement in (
            "UPDATE audit SET comment = 'x'",
            "DELETE FROM audit",
            "UPDATE versions SET answer = '{}'",
            "DELETE FROM versions",
        ):
            with pytest.raises(sa.exc.DBAPIError, match=r"append-only|immutable"), engine.begin() as connection:
                connection.exec_driver_sql(statement)
        if engine.dialect.name == "postgresql":
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
                connection.exec_driver_sql("TRUNCATE audit CASCADE")
    finally:
        engine.dispose()
    assert service.verify_audit().records == 3


def test_verify_audit_finds_an_altered_record(service: SqlArticleService, people: dict[str, User]) -> None:
    slug = approved(service, people)
    check = service.verify_audit()
    assert check.ok and check.records == 3 and len(check.head) == 64
    engine = open_engine(service._engine.url.render_as_string(hide_password=False))
    try:
        with engine.begin() as connection:  # an attacker with owner rights switches the guard off first
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql("ALTER TABLE audit DISABLE TRIGGER USER")
            else:
                connection.exec_driver_sql("DROP TRIGGER audit_no_update")
            connection.exec_driver_sql("UPDATE audit SET actor = 'bob@example.org' WHERE action = 'approve'")
    finally:
        engine.dispose()
    check = service.verify_audit()
    assert not check.ok and check.records == 3
    assert len(check.problems) == 1 and "does not match its hash (altered)" in check.problems[0]
    assert service.history(slug)[-1].actor == "bob@example.org"


# -- people ----------------------------------------------------------------------------------------------------


def test_users_passwords_and_tokens(service: SqlArticleService) -> None:
    ann, generated = service.add_user(" Ann@Example.org ", "reviewer")
    assert ann == User(ann.id, "ann@example.org", Role.REVIEWER) and len(generated) >= 20
    with pytest.raises(InvalidInput, match="already exists"):
        service.add_user("ann@example.org", "editor", "another-long-password")
    with pytest.raises(InvalidInput, match="unknown role 'owner'"):
        service.add_user("x@example.org", "owner")
    with pytest.raises(InvalidInput, match="12 to"):
        service.add_user("x@example.org", "editor", "short")
    with pytest.raises(InvalidInput, match="not an email"):
        service.add_user("nobody", "editor")
    assert service.authenticate("ANN@example.org", generated) == ann
    assert service.authenticate("ann@example.org", "wrong-password-1") is None
    assert service.authenticate("who@example.org", generated) is None
    token = service.issue_token("ann@example.org")
    assert token.startswith("bst_") and service.user_by_token(token) == ann
    assert service.user_by_token(token + "x") is None and service.user_by_token("") is None
    service.set_active("ann@example.org", False)
    assert service.user_by_token(token) is None and service.authenticate("ann@example.org", generated) is None
    assert [u.active for u in service.list_users()] == [False]
    with pytest.raises(NotFound):
        service.issue_token("who@example.org")


def test_tokens_and_passwords_are_stored_hashed(service: SqlArticleService) -> None:
    service.add_user("ann@example.org", "admin", "correct-horse-battery")
    token = service.issue_token("ann@example.org")
    with service._engine.connect() as connection:
        stored = " ".join(str(v) for row in connection.exec_driver_sql("SELECT * FROM users") for v in row)
        stored += " ".join(str(v) for row in connection.exec_driver_sql("SELECT * FROM tokens") for v in row)
    assert "correct-horse-battery" not in stored and token not in stored and "$argon2id$" in stored


# -- export ----------------------------------------------------------------------------------------------------


def test_export_writes_the_approved_versions_with_references(
    service: SqlArticleService, people: dict[str, User]
) -> None:
    slug = approved(service, people)
    service.regenerate(slug, lambda q: (answer(title="Pending rewrite"), SOURCES))
    new_article(service, "How is B12 deficiency treated?")
    markdown = service.export(markdown=to_markdown)
    assert list(markdown) == [f"{slug}.md"]
    text = markdown[f"{slug}.md"]
    assert text.startswith("# Iron deficiency anaemia\n") and "Pending rewrite" not in text
    assert "## References\n1. Guideline — Iron deficiency. BSG, 2021." in text
    assert "Review status: Approved. Last updated 2026-11-21." in text
    import json

    record = json.loads(service.export(fmt="json")[f"{slug}.json"])
    assert (record["version"], record["status"], record["approved_by"]) == (1, "approved", "ann@example.org")
    assert record["answer"]["references"][0]["document_id"] == "doc-a" and record["sources"] == SOURCES
    assert sorted(service.export(ReviewStatus.SUBMITTED, markdown=to_markdown)) == sorted(
        [
            f"{slug}.md",
            f"{slug_for('How is B12 deficiency treated?')}.md",
        ]
    )


# -- schema and concurrency ------------------------------------------------------------------------------------


def test_migrations_match_the_tables_and_reopening_is_a_no_op(
    service: SqlArticleService, open_service: Callable[[], SqlArticleService]
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with service._engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": "bedside_alembic_version"})
        assert compare_metadata(context, metadata) == []
        assert context.get_current_revision() == "0007"
    open_service().close()


def test_the_migrations_form_one_chain_with_one_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_heads() == ["0007"]
    chain = [(s.revision, s.down_revision) for s in scripts.walk_revisions()]  # newest first
    assert chain == [
        ("0007", "0006"),
        ("0006", "0005"),
        ("0005", "0004"),
        ("0004", "0003"),
        ("0003", "0002"),
        ("0002", "0001"),
        ("0001", None),
    ]


def test_a_write_based_on_a_stale_read_is_refused(service: SqlArticleService, database_url: str) -> None:
    slug = new_article(service)
    engine = open_engine(database_url).execution_options(**{WRITE: True})
    try:
        with engine.begin() as connection:
            stale = records.lock_article(connection, slug)
            records.update_article(connection, stale, claimed_by="ann@example.org")
            with pytest.raises(Conflict, match="changed by someone else meanwhile"):
                records.update_article(connection, stale, claimed_by="bob@example.org")
    finally:
        engine.dispose()
    assert service.get(slug).claimed_by == "ann@example.org"


def _race(url: str, slug: str, calls: list[Callable[[SqlArticleService], object]]) -> list[object]:
    """Run `calls` in threads, each with its own service (own connections), released together while the
    article row is held locked, so they truly contend."""
    services = [SqlArticleService(url, hasher=FAST_HASHER, audit_key=AUDIT_KEY) for _ in calls]
    results: list[object] = [None] * len(calls)
    barrier = threading.Barrier(len(calls) + 1)

    def work(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index](services[index])
        except Exception as exc:  # noqa: BLE001 - the result under test
            results[index] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(calls))]
    holder = open_engine(url)
    try:
        with holder.execution_options(**{WRITE: True}).begin() as connection:
            records.lock_article(connection, slug)
            for thread in threads:
                thread.start()
            barrier.wait()
            threading.Event().wait(0.1)  # both are now blocked on the lock
        for thread in threads:
            thread.join(30)
    finally:
        holder.dispose()
        for s in services:
            s.close()
    return results


def _one_wins(results: list[object]) -> object:
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], Conflict), results
    return next(r for r in results if not isinstance(r, Exception))


def test_two_reviewers_claiming_at_once_exactly_one_wins(
    service: SqlArticleService, people: dict[str, User], database_url: str
) -> None:
    slug = new_article(service)
    winner = _race(
        database_url,
        slug,
        [
            lambda s: s.review(slug, "claim", people["ann"]),
            lambda s: s.review(slug, "claim", people["bob"]),
        ],
    )
    article = service.get(slug)
    assert article.claimed_by == _one_wins(winner).claimed_by  # type: ignore[attr-defined]
    assert [e.action for e in service.history(slug)] == ["compose", "claim"] and service.verify_audit().ok


def test_two_approvals_at_once_exactly_one_wins(
    service: SqlArticleService, people: dict[str, User], database_url: str
) -> None:
    slug = new_article(service)
    service.review(slug, "claim", people["ann"])
    results = _race(
        database_url,
        slug,
        [
            lambda s: s.review(slug, "approve", people["ann"]),
            lambda s: s.review(slug, "approve", people["root"]),
        ],
    )
    _one_wins(results)
    assert [e.action for e in service.history(slug)] == ["compose", "claim", "approve"] and service.verify_audit().ok


def test_two_edits_of_the_same_version_at_once_exactly_one_wins(
    service: SqlArticleService, people: dict[str, User], database_url: str
) -> None:
    slug = new_article(service)
    results = _race(
        database_url,
        slug,
        [
            lambda s: s.edit(slug, people["eve"], answer(text="Edit one."), base=1),
            lambda s: s.edit(slug, people["root"], answer(text="Edit two."), base=1),
        ],
    )
    _one_wins(results)
    assert len(service.get(slug).versions) == 2 and service.verify_audit().records == 2


# -- opening ---------------------------------------------------------------------------------------------------


def test_database_urls_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInput, match="invalid database URL"):
        SqlArticleService("not a url")
    with pytest.raises(InvalidInput, match="unsupported database 'mysql'"):
        SqlArticleService("mysql://localhost/bedside")
    with pytest.raises(InvalidInput, match="psycopg 3"):
        SqlArticleService("postgresql+psycopg2://localhost/bedside")
    with pytest.raises(BackendUnavailable, match="cannot open the article database"):
        SqlArticleService(f"postgresql://nobody@127.0.0.1:{_free_port()}/none?connect_timeout=2")
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(BackendUnavailable, match=r"pip install 'bedside\[postgres\]'"):
        SqlArticleService("postgresql://localhost/bedside")


def test_the_settings_choose_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bedside.config import load_settings
    from bedside.editorial.desk import open_article_service

    monkeypatch.delenv("BEDSIDE_DATABASE_URL", raising=False)
    with open_article_service(load_settings(data_dir=tmp_path / "new" / "data")) as service:
        assert service.list() == []
    assert (tmp_path / "new" / "data" / "bedside.db").is_file()


def test_four_eyes_excludes_every_author_since_the_last_approval(
    service: SqlArticleService, people: dict[str, User]
) -> None:
    slug = new_article(service)
    found = lambda *_: Verdict(True, "supported", [])  # noqa: E731  (the sources state it: no override needed)
    service.edit(slug, people["root"], answer(text="Give 1 g every hour."), check=found)  # the admin writes version 2
    service.edit(slug, people["eve"], answer(text="Give 1 g every hour, orally."), check=found)  # touched up: 3
    service.review(slug, "claim", people["root"], version=3)
    with pytest.raises(PermissionDenied, match="you made a version since the last approval"):
        service.review(slug, "approve", people["root"], version=3)
    service.review(slug, "release", people["root"])
    service.review(slug, "claim", people["ann"], version=3)
    service.review(slug, "approve", people["ann"], version=3)  # someone who wrote none of it
    service.edit(slug, people["eve"], answer(text="Give 1 g daily."), check=found)  # after an approval: newer authors
    service.review(slug, "claim", people["root"], version=4)
    assert service.review(slug, "approve", people["root"], version=4).approved_version == 4


def test_a_review_of_an_older_version_is_refused(service: SqlArticleService, people: dict[str, User]) -> None:
    slug = new_article(service)
    service.edit(slug, people["eve"], answer(text="Edited."))
    with pytest.raises(Conflict, match="you reviewed version 1 but the latest is version 2"):
        service.review(slug, "claim", people["ann"], version=1)
    assert service.get(slug).status is ReviewStatus.SUBMITTED and len(service.history(slug)) == 2


def test_a_rejected_article_can_be_asked_again_and_edited(service: SqlArticleService, people: dict[str, User]) -> None:
    slug = new_article(service)
    service.review(slug, "claim", people["ann"], version=1)
    service.review(slug, "reject", people["ann"], "Wrong population.")
    assert service.get(slug).public_version is None
    again = service.article_for(QUESTION, lambda: answer(text="Give oral iron on alternate days."), SOURCES)
    assert again.slug == slug and again.status is ReviewStatus.SUBMITTED and again.latest.number == 2
    assert again.latest.created_by == "system" and again.public_version == again.latest
    assert service.history(slug)[-1].action == "regenerate" and "asked again" in service.history(slug)[-1].comment
    composed: list[int] = []
    service.article_for(QUESTION, lambda: composed.append(1) or answer(), SOURCES)
    assert composed == []  # submitted again: later askers get that version
    service.review(slug, "claim", people["bob"], version=2)
    service.review(slug, "reject", people["bob"], "Still wrong.")
    edited = service.edit(slug, people["eve"], answer(text="Edited after rejection."))
    assert edited.status is ReviewStatus.SUBMITTED and edited.latest.number == 3
    assert service.verify_audit().ok
