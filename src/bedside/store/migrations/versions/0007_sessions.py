"""Web sessions in the article database, so every web host behind it shares them.

Earlier releases kept sessions in a SQLite file of each host's data directory (`sessions.db`); the web app moves
any live ones into this table when it starts (`SessionStore.adopt_file`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, index=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created", sa.Double, nullable=False),
        sa.Column("expires", sa.Double, nullable=False, index=True),
        sa.Column("epoch", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("sessions")
