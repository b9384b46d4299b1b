"""One operation at a time per item, held by the database: jobs.exclusive_key.

An open job of an operation an item runs one at a time (a backup, a restore over the VM's
disks, a migration) holds ``item:<id>``; the key is cleared when the job ends. The unique
constraint refuses a second such job of the item even when two requests race. Jobs queued
before this revision hold no key (the service's check still sees them).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("exclusive_key", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_jobs_exclusive_key", ["exclusive_key"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint("uq_jobs_exclusive_key", type_="unique")
        batch.drop_column("exclusive_key")
