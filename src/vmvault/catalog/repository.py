"""Reading and writing catalog rows as plain records.

Each method runs in its own transaction and either commits whole or changes nothing.
Uniqueness (vault names, policy names within a vault) is enforced by the database, so two
processes racing to create the same name cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vmvault.catalog.models import PolicyRow, ProtectedItemRow, VaultRow


class DuplicateNameError(Exception):
    """A row with that name already exists."""


@dataclass(frozen=True)
class VaultRecord:
    id: int
    name: str
    storage: str
    created_at: datetime
    encrypted: bool | None = None  # None: catalogued before this was recorded
    config_hash: str | None = None  # BLAKE3 of the vault's config bytes


@dataclass(frozen=True)
class PolicyRecord:
    id: int
    vault_id: int
    name: str
    sub_type: str
    properties: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    protected_items_count: int


class Catalog:
    """The catalog's operations on vaults, policies and protected items."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def session(self) -> Session:
        return self._sessions()

    # -- vaults ---------------------------------------------------------------------------
    def add_vault(
        self,
        name: str,
        storage: str,
        now: datetime,
        *,
        encrypted: bool | None = None,
        config_hash: str | None = None,
    ) -> VaultRecord:
        with self.session() as s:
            row = VaultRow(
                name=name,
                storage=storage,
                created_at=now,
                encrypted=encrypted,
                config_hash=config_hash,
            )
            insert_unique(s, row, name)
            return _vault(row)

    def pin_vault(self, vault_id: int, *, encrypted: bool, config_hash: str) -> None:
        """Record what a vault catalogued before these were kept is (first open after)."""
        with self.session() as s, s.begin():
            row = s.get_one(VaultRow, vault_id)
            row.encrypted, row.config_hash = encrypted, config_hash

    def vaults(self) -> list[VaultRecord]:
        with self.session() as s:
            return [_vault(r) for r in s.scalars(select(VaultRow).order_by(VaultRow.name))]

    def vault(self, name: str) -> VaultRecord | None:
        with self.session() as s:
            row = s.scalar(select(VaultRow).where(VaultRow.name == name))
            return _vault(row) if row else None

    def remove_vault(self, vault_id: int) -> None:
        with self.session() as s, s.begin():
            s.query(PolicyRow).filter(PolicyRow.vault_id == vault_id).delete()
            s.query(VaultRow).filter(VaultRow.id == vault_id).delete()

    # -- policies -------------------------------------------------------------------------
    def add_policy(
        self, vault_id: int, name: str, sub_type: str, properties: dict[str, Any], now: datetime
    ) -> PolicyRecord:
        with self.session() as s:
            row = PolicyRow(
                vault_id=vault_id,
                name=name,
                sub_type=sub_type,
                properties=properties,
                created_at=now,
                updated_at=now,
            )
            insert_unique(s, row, name)
            return _policy(row, 0)

    def replace_policy(
        self, policy_id: int, properties: dict[str, Any], now: datetime
    ) -> PolicyRecord:
        with self.session() as s, s.begin():
            row = s.get_one(PolicyRow, policy_id)
            row.properties = properties
            row.updated_at = now
        return self._with_count(row)

    def policy(self, vault_id: int, name: str) -> PolicyRecord | None:
        with self.session() as s:
            row = s.scalar(
                select(PolicyRow).where(PolicyRow.vault_id == vault_id, PolicyRow.name == name)
            )
        return self._with_count(row) if row else None

    def policies(self, vault_id: int, sub_type: str | None = None) -> list[PolicyRecord]:
        counts = self._item_counts(vault_id)
        with self.session() as s:
            query = select(PolicyRow).where(PolicyRow.vault_id == vault_id)
            if sub_type is not None:
                query = query.where(PolicyRow.sub_type == sub_type)
            rows = s.scalars(query.order_by(PolicyRow.name)).all()
        return [_policy(r, counts.get(r.id, 0)) for r in rows]

    def remove_policy(self, policy_id: int) -> None:
        with self.session() as s, s.begin():
            s.query(PolicyRow).filter(PolicyRow.id == policy_id).delete()

    # -- protected items (the protection flows of issue 4 add to these) ------------------
    def add_protected_item(
        self, vault_id: int, name: str, policy_id: int | None, state: str, now: datetime
    ) -> int:
        with self.session() as s:
            row = ProtectedItemRow(
                vault_id=vault_id,
                name=name,
                policy_id=policy_id,
                protection_state=state,
                created_at=now,
            )
            insert_unique(s, row, name)
            return row.id

    def protected_item_count(self, vault_id: int) -> int:
        with self.session() as s:
            return (
                s.scalar(
                    select(func.count(ProtectedItemRow.id)).where(
                        ProtectedItemRow.vault_id == vault_id
                    )
                )
                or 0
            )

    def _item_counts(self, vault_id: int) -> dict[int, int]:
        with self.session() as s:
            rows = s.execute(
                select(ProtectedItemRow.policy_id, func.count(ProtectedItemRow.id))
                .where(ProtectedItemRow.vault_id == vault_id)
                .group_by(ProtectedItemRow.policy_id)
            ).all()
        return {pid: n for pid, n in rows if pid is not None}

    def _with_count(self, row: PolicyRow) -> PolicyRecord:
        with self.session() as s:
            n = s.scalar(
                select(func.count(ProtectedItemRow.id)).where(ProtectedItemRow.policy_id == row.id)
            )
        return _policy(row, n or 0)


def insert_unique(session: Session, row: object, name: str) -> None:
    """Add and commit ``row``; DuplicateNameError if a unique name is taken (any other
    integrity error, such as a missing foreign key, is raised as it is)."""
    session.add(row)
    try:
        session.commit()
    except IntegrityError as exc:
        if not _is_unique_violation(exc):
            raise
        raise DuplicateNameError(name) from exc


def _is_unique_violation(exc: IntegrityError) -> bool:
    """Whether a write broke a unique constraint (and not, say, a foreign key)."""
    if getattr(exc.orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        return True
    return getattr(exc.orig, "sqlite_errorname", None) == "SQLITE_CONSTRAINT_UNIQUE"


def _vault(row: VaultRow) -> VaultRecord:
    return VaultRecord(
        id=row.id,
        name=row.name,
        storage=row.storage,
        created_at=row.created_at,
        encrypted=row.encrypted,
        config_hash=row.config_hash,
    )


def _policy(row: PolicyRow, count: int) -> PolicyRecord:
    return PolicyRecord(
        id=row.id,
        vault_id=row.vault_id,
        name=row.name,
        sub_type=row.sub_type,
        properties=dict(row.properties),
        created_at=row.created_at,
        updated_at=row.updated_at,
        protected_items_count=count,
    )
