"""The article database: its tables, the engine (SQLite by default, PostgreSQL by URL) and migrations to head.

Writers never interleave: on SQLite every write transaction starts with BEGIN IMMEDIATE (WAL mode, so readers
carry on), on PostgreSQL the editorial service locks the article row and the audit chain. The schema is created
and upgraded only by the Alembic scripts in `bedside/store/migrations`; the tables below mirror them for queries,
and a test checks that the two agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError

from bedside.errors import BackendUnavailable, InvalidInput
from bedside.store.private import private_file

__all__ = [
    "MIGRATIONS",
    "WRITE",
    "articles",
    "audit",
    "metadata",
    "migrate",
    "open_engine",
    "sessions",
    "tokens",
    "users",
    "versions",
]

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "bedside_alembic_version"
WRITE = "bedside_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)
MIGRATION_LOCK = 0x62656473  # PostgreSQL advisory lock key held while migrating ("beds")
POSTGRES_HINT = "install with: pip install 'bedside[postgres]'"

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("auth_epoch", sa.Integer, nullable=False, server_default="0"),
    sa.Column("display_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("credentials", sa.String(200), nullable=False, server_default=""),
    sa.Column("affiliation", sa.String(300), nullable=False, server_default=""),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("expires", sa.String(40), nullable=False, server_default=""),
)

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("slug", sa.String(200), nullable=False, unique=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("search", sa.Text, nullable=False),
    sa.Column("status", sa.String(24), nullable=False, index=True),
    sa.Column("claimed_by", sa.String(320), nullable=False),
    sa.Column("approved_by", sa.String(320), nullable=False),
    sa.Column("approved_at", sa.String(40), nullable=False),
    sa.Column("approved_version", sa.Integer, nullable=False),
    sa.Column("sources_changed", sa.Boolean, nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("updated", sa.String(40), nullable=False),
    sa.Column("row_version", sa.Integer, nullable=False),
    sa.Column("sources_changes", sa.Text, nullable=False, server_default="[]"),  # 0003: what changed, as shown
)

versions = sa.Table(
    "versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("sources", sa.Text, nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("composer", sa.String(64), nullable=False),
    sa.Column("kb_snapshot", sa.String(64), nullable=False),
    sa.Column("bedside_version", sa.String(32), nullable=False),
    sa.UniqueConstraint("article_id", "number", name="uq_versions_article_number"),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), nullable=False, index=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(320), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("from_status", sa.String(24), nullable=False),
    sa.Column("to_status", sa.String(24), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Column("content_hash", sa.String(64), nullable=False, server_default=""),
    sa.Column("state", sa.Text, nullable=False, server_default=""),
    sa.Column("scheme", sa.String(16), nullable=False, server_default="sha256"),
    sa.Column("key_id", sa.String(16), nullable=False, server_default=""),
)

sessions = sa.Table(  # 0007: signed-in browsers, shared by every web host
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("expires", sa.Double, nullable=False, index=True),
    sa.Column("epoch", sa.Integer, nullable=False, server_default="0"),
)


def open_engine(database_url: str) -> Engine:
    """An engine for a `sqlite:///path` or `postgresql://…` URL, with bedside's transaction behaviour."""
    try:
        url = make_url(database_url)
    except ArgumentError as exc:
        raise InvalidInput(f"invalid database URL {database_url!r}: {exc}") from None
    backend = "postgresql" if url.drivername in ("postgres", "postgresql") else url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url)
    if backend == "postgresql":
        return _postgres_engine(url)
    raise InvalidInput(f"unsupported database {url.drivername!r} (use sqlite:///PATH or postgresql://…)")


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        private_file(Path(url.database).expanduser())  # it holds password and token hashes
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver's implicit BEGIN is replaced by ours (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # synchronous stays FULL: a sign-off must survive a power cut
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def _postgres_engine(url: URL) -> Engine:
    if url.drivername not in ("postgres", "postgresql", "postgresql+psycopg"):
        raise InvalidInput(f"unsupported PostgreSQL driver {url.drivername!r}; use postgresql:// (psycopg 3)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise BackendUnavailable(f"PostgreSQL support is not installed; {POSTGRES_HINT}") from None
    return sa.create_engine(url.set(drivername="postgresql+psycopg"), pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; concurrent callers wait for each other)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_table", VERSION_TABLE)
    with engine.execution_options(**{WRITE: True}).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        if _current_revision(connection) == _head(config):
            return
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _head(config: Any) -> str | None:
    from alembic.script import ScriptDirectory

    head: str | None = ScriptDirectory.from_config(config).get_current_head()
    return head
