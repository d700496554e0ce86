"""Alembic environment: migrations run on the connection that `bedside.store.article_db.migrate` passes in."""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the programmatic path is supported
    raise RuntimeError("run migrations with bedside.store.article_db.migrate(engine)")

context.configure(
    connection=connection,
    version_table=config.get_main_option("version_table") or "bedside_alembic_version",
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
