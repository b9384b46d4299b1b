"""Backup policies: create, set, show, list, delete, defaults and the schedule they imply."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from vmvault.catalog.repository import Catalog, DuplicateNameError, PolicyRecord
from vmvault.clock import Clock
from vmvault.domain.arm_policy import policy_from_arm, policy_to_arm
from vmvault.domain.builder import PolicyFlags, build_policy
from vmvault.domain.defaults import default_policy
from vmvault.domain.errors import ConflictError, InvalidInputError, NotFoundError
from vmvault.domain.policy import Policy, SubType
from vmvault.domain.schedule import slots_between
from vmvault.domain.tiers import Tier, planned_tiers
from vmvault.services.arm_ids import POLICY_TYPE, ArmScope, resource
from vmvault.services.vaults import VaultService

POLICY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{2,149}$")
READ_ONLY = ("protectedItemsCount",)
MAX_SCHEDULE_DAYS = 366


@dataclass(frozen=True)
class PolicyView:
    """A stored policy: its catalog record, its parsed rules and its vault's name."""

    vault: str
    record: PolicyRecord
    policy: Policy


@dataclass(frozen=True)
class Slot:
    scheduled: datetime  # aware UTC
    local: datetime  # aware, in the policy's zone
    tiers: frozenset[Tier]


class PolicyService:
    def __init__(
        self, catalog: Catalog, clock: Clock, vaults: VaultService, scope: ArmScope
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self.vaults = vaults
        self.scope = scope

    def create(self, vault: str, name: str, document: Mapping[str, Any]) -> PolicyView:
        """Validate and store a new policy; nothing is stored if any rule is broken."""
        v = self.vaults.get(vault)
        _check_name(name)
        properties = _properties(document)
        policy = policy_from_arm(properties)
        if self.catalog.policy(v.id, name) is not None:
            raise _exists(vault, name)
        try:
            record = self.catalog.add_policy(
                v.id, name, policy.sub_type.value, properties, self.clock.now()
            )
        except DuplicateNameError:
            raise _exists(vault, name) from None
        return PolicyView(vault, record, policy)

    def set(self, vault: str, name: str, document: Mapping[str, Any]) -> PolicyView:
        """Replace a policy's rules; its subtype can never change (Standard <-> Enhanced)."""
        current = self.get(vault, name)
        properties = _properties(document)
        policy = policy_from_arm(properties)
        if policy.sub_type is not current.policy.sub_type:
            raise InvalidInputError(
                f"policyType {policy.sub_type.wire!r} is not allowed: policy {name!r} is "
                f"{current.policy.sub_type.value} ({current.policy.sub_type.wire}) and a policy's "
                "subtype never changes; create a new policy instead (a VM moves from Standard "
                "to Enhanced by changing its policy, never back)",
                code="UserErrorPolicyTypeChangeNotAllowed",
            )
        record = self.catalog.replace_policy(current.record.id, properties, self.clock.now())
        return PolicyView(vault, record, policy)

    def set_from_flags(self, vault: str, name: str, flags: PolicyFlags) -> PolicyView:
        """Change the rules the flags name; everything else keeps its current value."""
        current = self.get(vault, name)
        return self.set(
            vault, name, {"properties": policy_to_arm(build_policy(flags, current.policy))}
        )

    def get(self, vault: str, name: str) -> PolicyView:
        v = self.vaults.get(vault)
        record = self.catalog.policy(v.id, name)
        if record is None:
            raise NotFoundError(
                f"policy {name!r} was not found in vault {vault!r}: "
                f"`vmvault policy list --vault-name {vault}` shows its policies",
                code="BMSUserErrorPolicyNotFound",
            )
        return PolicyView(vault, record, policy_from_arm(record.properties))

    def all(self, vault: str, sub_type: SubType | None = None) -> list[PolicyView]:
        v = self.vaults.get(vault)
        records = self.catalog.policies(v.id, sub_type.value if sub_type else None)
        return [PolicyView(vault, r, policy_from_arm(r.properties)) for r in records]

    def delete(self, vault: str, name: str) -> PolicyView:
        view = self.get(vault, name)
        count = view.record.protected_items_count
        if count:
            raise ConflictError(
                f"policy {name!r} cannot be deleted: it protects {count} item(s); move them to "
                "another policy or stop their protection first",
                code="UserErrorPolicyInUse",
            )
        self.catalog.remove_policy(view.record.id)
        return view

    def schedule(
        self, vault: str, name: str, start: datetime | None, days: int
    ) -> tuple[PolicyView, list[Slot]]:
        """The slots of a policy from ``start`` (default now) for ``days`` days."""
        if not 1 <= days <= MAX_SCHEDULE_DAYS:
            raise InvalidInputError(
                f"--days {days} is not valid: allowed values are 1 to {MAX_SCHEDULE_DAYS}"
            )
        view = self.get(vault, name)
        begin = start or self.clock.now()
        policy = view.policy
        slots = [
            Slot(s, s.astimezone(policy.zone), planned_tiers(policy, s))
            for s in slots_between(policy, begin, begin + timedelta(days=days))
        ]
        return view, slots

    def to_arm(self, view: PolicyView) -> dict[str, Any]:
        properties = dict(view.record.properties)
        properties["protectedItemsCount"] = view.record.protected_items_count
        return resource(
            self.scope.policy_id(view.vault, view.record.name),
            view.record.name,
            POLICY_TYPE,
            properties,
        )


def default_document(sub_type: SubType) -> dict[str, Any]:
    """The default VM policy of a subtype as an ARM resource body (``get-default-for-vm``)."""
    name = "DefaultPolicy" if sub_type is SubType.STANDARD else "EnhancedPolicy"
    properties = policy_to_arm(default_policy(sub_type))
    properties["protectedItemsCount"] = 0
    return {"name": name, "properties": properties}


def document_from_flags(flags: PolicyFlags) -> dict[str, Any]:
    return {"properties": policy_to_arm(build_policy(flags))}


def load_document(text: str) -> dict[str, Any]:
    """A policy document from a file path or inline JSON (as ``az backup --policy`` takes)."""
    source = text
    if not text.lstrip().startswith(("{", "[")):  # not inline JSON: the path of a file
        path = Path(text).expanduser()
        try:
            source = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidInputError(
                f"--policy {text!r} is not JSON and no such file exists: give the path of a "
                "JSON file (e.g. from `vmvault policy get-default-for-vm`) or inline JSON",
                code="UserErrorPolicyFileNotFound",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise InvalidInputError(
                f"--policy file {text!r} cannot be read ({reason or exc}): give a readable "
                "JSON file",
                code="UserErrorPolicyFileNotReadable",
            ) from None
    try:
        document = json.loads(source)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"--policy is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "give a JSON document or the path of a file holding one"
        ) from None
    if not isinstance(document, dict):
        raise InvalidInputError("--policy must be a JSON object")
    return document


def _properties(document: Mapping[str, Any]) -> dict[str, Any]:
    """The ``properties`` of a resource body, or the body itself if it is bare properties."""
    body = document.get("properties", document)
    if not isinstance(body, dict):
        raise InvalidInputError("policy properties must be a JSON object")
    return {k: v for k, v in body.items() if k not in READ_ONLY}


def _check_name(name: str) -> None:
    if not POLICY_NAME.match(name):
        raise InvalidInputError(
            f"--name {name!r} is not a valid policy name: 3 to 150 letters, digits, hyphens and "
            "underscores, starting with a letter"
        )


def _exists(vault: str, name: str) -> ConflictError:
    return ConflictError(
        f"policy {name!r} already exists in vault {vault!r}: use `vmvault policy set` to change it",
        code="UserErrorPolicyAlreadyExists",
    )
