"""Sources, protection details of items, jobs and recovery points.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vmvault.catalog.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("location", sa.String(1024), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("protected_items") as batch:
        batch.add_column(sa.Column("source_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("vm_name", sa.String(255), nullable=True))
        batch.add_column(sa.Column("disk_setting", sa.String(16), nullable=True))
        batch.add_column(sa.Column("disk_luns", sa.JSON, nullable=True))
        batch.add_column(sa.Column("last_backup_status", sa.String(32), nullable=True))
        batch.add_column(sa.Column("last_backup_time", UTCDateTime(), nullable=True))
        batch.create_foreign_key(
            "fk_items_source", "sources", ["source_id"], ["id"], ondelete="RESTRICT"
        )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "vault_id", sa.Integer, sa.ForeignKey("vaults.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "item_id",
            sa.Integer,
            sa.ForeignKey("protected_items.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("item_name", sa.String(255), nullable=True),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("sub_type", sa.String(64), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=False),
        sa.Column("start_time", UTCDateTime(), nullable=True),
        sa.Column("end_time", UTCDateTime(), nullable=True),
        sa.Column("slot_key", sa.String(255), nullable=True),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("tasks", sa.JSON, nullable=False),
        sa.Column("progress_percent", sa.Float, nullable=False),
        sa.Column("bytes_done", sa.BigInteger, nullable=False),
        sa.Column("bytes_total", sa.BigInteger, nullable=False),
        sa.Column("error_code", sa.String(128), nullable=True),
        sa.Column("error_message", sa.String(2048), nullable=True),
        sa.Column("claimed_by", sa.String(255), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.UniqueConstraint("slot_key", name="uq_jobs_slot_key"),
    )
    op.create_index("ix_jobs_vault_id", "jobs", ["vault_id"])
    op.create_index("ix_jobs_item_id", "jobs", ["item_id"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_table(
        "recovery_points",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "item_id",
            sa.Integer,
            sa.ForeignKey("protected_items.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("slot", UTCDateTime(), nullable=True),
        sa.Column("retain_until", UTCDateTime(), nullable=True),
        sa.Column("snapshot_present", sa.Boolean, nullable=False),
        sa.Column("snapshot_method", sa.String(32), nullable=True),
        sa.Column("snapshot_location", sa.String(1024), nullable=True),
        sa.Column("vault_present", sa.Boolean, nullable=False),
        sa.Column("policy_sub_type", sa.String(16), nullable=False),
        sa.Column("disks", sa.JSON, nullable=False),
        sa.UniqueConstraint("item_id", "name", name="uq_points_item_name"),
    )
    op.create_index("ix_recovery_points_item_id", "recovery_points", ["item_id"])


def downgrade() -> None:
    op.drop_table("recovery_points")
    op.drop_table("jobs")
    with op.batch_alter_table("protected_items") as batch:
        batch.drop_constraint("fk_items_source", type_="foreignkey")
        for column in (
            "last_backup_time",
            "last_backup_status",
            "disk_luns",
            "disk_setting",
            "vm_name",
            "source_id",
        ):
            batch.drop_column(column)
    op.drop_table("sources")
