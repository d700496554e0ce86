"""Bind audit records to what they audit, under a key kept outside the database.

Each record gains the content hash of the article version it concerns, the article's state after it (status,
claim, approval) and the scheme its hash was made with: records written before this revision stay "sha256" (an
unkeyed chain), new ones are "hmac-sha256" under the installation's audit key, named by `key_id`. Legacy records
are attested by `bedside audit rekey`, which checks them and appends one keyed checkpoint per article.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column[str]]:
    return [
        sa.Column("content_hash", sa.String(64), nullable=False, server_default=""),
        sa.Column("state", sa.Text, nullable=False, server_default=""),
        sa.Column("scheme", sa.String(16), nullable=False, server_default="sha256"),
        sa.Column("key_id", sa.String(16), nullable=False, server_default=""),
    ]


def upgrade() -> None:
    for column in _columns():
        op.add_column("audit", column)


def downgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
