"""Integrity: what the catalog remembers of a vault's config, and of each point's snapshot.

vaults.encrypted / vaults.config_hash: set when a vault is created or attached (NULL for a
vault catalogued before this revision: filled at its next open). recovery_points.snapshot_hashes:
per-disk digests of the chunk ids of the point's snapshot; recovery_points.snapshot_status:
NULL or "Invalid" once the snapshot was found damaged or gone.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vaults") as batch:
        batch.add_column(sa.Column("encrypted", sa.Boolean, nullable=True))
        batch.add_column(sa.Column("config_hash", sa.String(64), nullable=True))
    with op.batch_alter_table("recovery_points") as batch:
        batch.add_column(sa.Column("snapshot_hashes", sa.JSON, nullable=True))
        batch.add_column(sa.Column("snapshot_status", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recovery_points") as batch:
        batch.drop_column("snapshot_status")
        batch.drop_column("snapshot_hashes")
    with op.batch_alter_table("vaults") as batch:
        batch.drop_column("config_hash")
        batch.drop_column("encrypted")
