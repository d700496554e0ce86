"""Refuse INSERT OR REPLACE on the append-only tables (SQLite).

SQLite's REPLACE conflict resolution deletes the clashing row without firing DELETE triggers (unless
recursive_triggers is on), so `INSERT OR REPLACE INTO audit` could overwrite a record that UPDATE and DELETE
cannot touch. A BEFORE INSERT trigger refuses any insert that would clash with an existing row. PostgreSQL has no
REPLACE, and its `ON CONFLICT DO UPDATE` fires the UPDATE triggers of 0001, so it needs nothing here.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CLASHES = {
    "audit": ("id = NEW.id OR hash = NEW.hash OR prev_hash = NEW.prev_hash", "audit records are append-only"),
    "versions": (
        "id = NEW.id OR (article_id = NEW.article_id AND number = NEW.number)",
        "article versions are immutable",
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, (clash, message) in CLASHES.items():
        # Only the constant table names, clauses and messages above are formatted into the SQL.
        op.execute(
            f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "  # nosec B608
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {clash}) "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in CLASHES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
