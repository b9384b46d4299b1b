"""Tables of the catalog. Schema changes go through an Alembic migration in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no offset; this restores it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("catalog datetimes must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class VaultRow(Base):
    __tablename__ = "vaults"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    storage: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    encrypted: Mapped[bool | None] = mapped_column(default=None)  # as created or attached
    config_hash: Mapped[str | None] = mapped_column(String(64), default=None)


class PolicyRow(Base):
    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("vault_id", "name", name="uq_policies_vault_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vault_id: Mapped[int] = mapped_column(ForeignKey("vaults.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(150))
    sub_type: Mapped[str] = mapped_column(String(16))
    properties: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SourceRow(Base):
    """Where VMs come from: a ``files`` folder (later: a libvirt URI)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProtectedItemRow(Base):
    """A VM under a policy, with its disk selection and protection state."""

    __tablename__ = "protected_items"
    __table_args__ = (UniqueConstraint("vault_id", "name", name="uq_items_vault_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vault_id: Mapped[int] = mapped_column(ForeignKey("vaults.id", ondelete="RESTRICT"), index=True)
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("policies.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    protection_state: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="RESTRICT"))
    vm_name: Mapped[str | None] = mapped_column(String(255))
    disk_setting: Mapped[str | None] = mapped_column(String(16))
    disk_luns: Mapped[list[int] | None] = mapped_column(JSON)
    last_backup_status: Mapped[str | None] = mapped_column(String(32))
    last_backup_time: Mapped[datetime | None] = mapped_column(UTCDateTime())


class JobRow(Base):
    """A job: queued (no ``start_time``), running (claimed by a worker under a lease), ended."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("slot_key", name="uq_jobs_slot_key"),
        UniqueConstraint("exclusive_key", name="uq_jobs_exclusive_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    vault_id: Mapped[int] = mapped_column(ForeignKey("vaults.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("protected_items.id", ondelete="SET NULL"), index=True
    )
    item_name: Mapped[str | None] = mapped_column(String(255))
    operation: Mapped[str] = mapped_column(String(32))
    sub_type: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), index=True)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    slot_key: Mapped[str | None] = mapped_column(String(255))
    # Held by an open job of an operation an item runs one at a time (``item:<id>``), cleared
    # when the job ends: the unique constraint makes "one at a time" hold between processes.
    exclusive_key: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, object]] = mapped_column(JSON)
    tasks: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    progress_percent: Mapped[float] = mapped_column(Float, default=0.0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    error_code: Mapped[str | None] = mapped_column(String(128))
    error_message: Mapped[str | None] = mapped_column(String(2048))
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_requested: Mapped[bool] = mapped_column(default=False)


class RecoveryPointRow(Base):
    """One backup of an item: its snapshot tier and its vault tier."""

    __tablename__ = "recovery_points"
    __table_args__ = (UniqueConstraint("item_id", "name", name="uq_points_item_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("protected_items.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    slot: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retain_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    snapshot_present: Mapped[bool] = mapped_column(default=False)
    snapshot_method: Mapped[str | None] = mapped_column(String(32))
    snapshot_location: Mapped[str | None] = mapped_column(String(1024))
    vault_present: Mapped[bool] = mapped_column(default=False)
    policy_sub_type: Mapped[str] = mapped_column(String(16))
    disks: Mapped[dict[str, object]] = mapped_column(JSON)
    snapshot_hashes: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
    snapshot_status: Mapped[str | None] = mapped_column(String(16), default=None)
