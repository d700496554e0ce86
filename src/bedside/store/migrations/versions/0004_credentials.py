"""Credentials that can be ended: an account's credential epoch and API tokens that expire.

`users.auth_epoch` goes up whenever the account's password changes or it is deactivated: a session made under an
older epoch is over. `tokens.expires` (ISO 8601 UTC, "" for never) ends a token on its own; tokens issued before
this revision never expire until revoked.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("auth_epoch", sa.Integer, nullable=False, server_default="0"))
    op.add_column("tokens", sa.Column("expires", sa.String(40), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("expires")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("auth_epoch")
