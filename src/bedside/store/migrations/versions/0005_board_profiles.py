"""The Medical Advisory Board: a reviewer's display name, credentials and affiliation, shown on approved articles
and the board page in place of an email address.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = {"display_name": 200, "credentials": 200, "affiliation": 300}


def upgrade() -> None:
    for name, length in COLUMNS.items():  # ALTER TABLE ADD COLUMN on SQLite and PostgreSQL alike
        op.add_column("users", sa.Column(name, sa.String(length), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
