"""Sources, protected items and recovery points in the catalog, as plain records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from vmvault.catalog.models import ProtectedItemRow, RecoveryPointRow, SourceRow
from vmvault.catalog.repository import insert_unique


@dataclass(frozen=True)
class SourceRecord:
    id: int
    name: str
    type: str
    location: str
    created_at: datetime


@dataclass(frozen=True)
class ItemRecord:
    id: int
    vault_id: int
    policy_id: int | None
    name: str
    protection_state: str
    created_at: datetime
    source_id: int | None
    vm_name: str | None
    disk_setting: str | None
    disk_luns: list[int] | None
    last_backup_status: str | None
    last_backup_time: datetime | None


@dataclass(frozen=True)
class PointRecord:
    id: int
    item_id: int
    name: str
    time: datetime
    slot: datetime | None
    retain_until: datetime | None
    snapshot_present: bool
    snapshot_method: str | None
    snapshot_location: str | None
    vault_present: bool
    policy_sub_type: str
    disks: dict[str, Any]
    snapshot_hashes: dict[str, Any] | None = None  # services/snapshot_integrity.py
    snapshot_status: str | None = None  # None (valid) or "Invalid"


def _rec(cls: Any, row: Any) -> Any:
    return cls(**{f: getattr(row, f) for f in cls.__dataclass_fields__})


class ItemStore:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def _add(self, row: Any, name: str) -> Any:
        with self._sessions() as s:
            insert_unique(s, row, name)
            return row

    # -- sources ---------------------------------------------------------------------------
    def add_source(self, name: str, type_: str, location: str, now: datetime) -> SourceRecord:
        row = SourceRow(name=name, type=type_, location=location, created_at=now)
        return _rec(SourceRecord, self._add(row, name))  # type: ignore[no-any-return]

    def sources(self) -> list[SourceRecord]:
        with self._sessions() as s:
            return [
                _rec(SourceRecord, r) for r in s.scalars(select(SourceRow).order_by(SourceRow.name))
            ]

    def remove_source(self, source_id: int) -> bool:
        """Delete a source row; False (nothing deleted) if an item still refers to it."""
        try:
            with self._sessions() as s, s.begin():
                s.query(SourceRow).filter(SourceRow.id == source_id).delete()
        except IntegrityError:  # the items' foreign key is ON DELETE RESTRICT
            return False
        return True

    def items_of_source(self, source_id: int) -> list[ItemRecord]:
        """Every item (of any vault, in any protection state) whose VM comes from the source."""
        with self._sessions() as s:
            rows = s.scalars(
                select(ProtectedItemRow)
                .where(ProtectedItemRow.source_id == source_id)
                .order_by(ProtectedItemRow.id)
            )
            return [_rec(ItemRecord, r) for r in rows]

    def source_by_id(self, source_id: int) -> SourceRecord:
        with self._sessions() as s:
            return _rec(SourceRecord, s.get_one(SourceRow, source_id))  # type: ignore[no-any-return]

    # -- items -----------------------------------------------------------------------------
    def add_item(self, now: datetime, **fields: Any) -> ItemRecord:
        row = ProtectedItemRow(created_at=now, **fields)
        return _rec(ItemRecord, self._add(row, fields["name"]))  # type: ignore[no-any-return]

    def items(self, vault_id: int) -> list[ItemRecord]:
        with self._sessions() as s:
            rows = s.scalars(
                select(ProtectedItemRow)
                .where(ProtectedItemRow.vault_id == vault_id)
                .order_by(ProtectedItemRow.name)
            )
            return [_rec(ItemRecord, r) for r in rows]

    def all_items(self) -> list[ItemRecord]:
        with self._sessions() as s:
            rows = s.scalars(select(ProtectedItemRow).order_by(ProtectedItemRow.id))
            return [_rec(ItemRecord, r) for r in rows]

    def item(self, vault_id: int, name: str) -> ItemRecord | None:
        with self._sessions() as s:
            row = s.scalar(
                select(ProtectedItemRow).where(
                    ProtectedItemRow.vault_id == vault_id, ProtectedItemRow.name == name
                )
            )
            return _rec(ItemRecord, row) if row else None

    def item_by_id(self, item_id: int) -> ItemRecord:
        with self._sessions() as s:
            return _rec(ItemRecord, s.get_one(ProtectedItemRow, item_id))  # type: ignore[no-any-return]

    def update_item(self, item_id: int, **fields: Any) -> None:
        with self._sessions() as s:
            s.execute(
                update(ProtectedItemRow).where(ProtectedItemRow.id == item_id).values(**fields)
            )
            s.commit()

    def remove_item(self, item_id: int) -> None:
        with self._sessions() as s:
            s.query(RecoveryPointRow).filter(RecoveryPointRow.item_id == item_id).delete()
            s.query(ProtectedItemRow).filter(ProtectedItemRow.id == item_id).delete()
            s.commit()

    # -- recovery points -------------------------------------------------------------------
    def add_point(self, **fields: Any) -> PointRecord:
        return _rec(PointRecord, self._add(RecoveryPointRow(**fields), fields["name"]))  # type: ignore[no-any-return]

    def points(self, item_id: int) -> list[PointRecord]:
        with self._sessions() as s:
            rows = s.scalars(
                select(RecoveryPointRow)
                .where(RecoveryPointRow.item_id == item_id)
                .order_by(RecoveryPointRow.time)
            )
            return [_rec(PointRecord, r) for r in rows]

    def point(self, item_id: int, name: str) -> PointRecord | None:
        with self._sessions() as s:
            row = s.scalar(
                select(RecoveryPointRow).where(
                    RecoveryPointRow.item_id == item_id, RecoveryPointRow.name == name
                )
            )
            return _rec(PointRecord, row) if row else None

    def update_point(self, point_id: int, **fields: Any) -> None:
        with self._sessions() as s:
            s.execute(
                update(RecoveryPointRow).where(RecoveryPointRow.id == point_id).values(**fields)
            )
            s.commit()

    def remove_point(self, point_id: int) -> None:
        with self._sessions() as s:
            s.query(RecoveryPointRow).filter(RecoveryPointRow.id == point_id).delete()
            s.commit()
