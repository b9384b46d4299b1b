"""Vaults, policies and protected items.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vmvault.catalog.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vaults",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False, unique=True),
        sa.Column("storage", sa.String(1024), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "policies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "vault_id", sa.Integer, sa.ForeignKey("vaults.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(150), nullable=False),
        sa.Column("sub_type", sa.String(16), nullable=False),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("vault_id", "name", name="uq_policies_vault_name"),
    )
    op.create_index("ix_policies_vault_id", "policies", ["vault_id"])
    op.create_table(
        "protected_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "vault_id", sa.Integer, sa.ForeignKey("vaults.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column(
            "policy_id",
            sa.Integer,
            sa.ForeignKey("policies.id", ondelete="RESTRICT"),
            nullable=True,
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("protection_state", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("vault_id", "name", name="uq_items_vault_name"),
    )
    op.create_index("ix_protected_items_vault_id", "protected_items", ["vault_id"])
    op.create_index("ix_protected_items_policy_id", "protected_items", ["policy_id"])


def downgrade() -> None:
    op.drop_table("protected_items")
    op.drop_table("policies")
    op.drop_table("vaults")
