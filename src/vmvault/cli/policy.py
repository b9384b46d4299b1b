"""``vmvault policy``: backup policies, from JSON (as ``az backup policy``) or from flags."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from vmvault.cli.output import OutputFormat, OutputOption, emit_json, emit_table, handles_errors
from vmvault.cli.state import services
from vmvault.domain.arm_reader import parse_enum
from vmvault.domain.errors import InvalidInputError
from vmvault.domain.policy import Frequency, Policy, SubType

if TYPE_CHECKING:
    from vmvault.domain.builder import PolicyFlags
    from vmvault.services.policies import PolicyView, Slot

app = typer.Typer(help="Backup policies (Standard and Enhanced).", no_args_is_help=True)

VaultOption = typer.Option(..., "--vault-name", "-v", help="Vault name")
NameOption = typer.Option(..., "--name", "-n", help="Policy name")
PolicyOption = typer.Option(
    None, "--policy", help="Policy JSON, inline or a file path (Azure's AzureIaaSVM shape)"
)
_HELP = "Built from flags when --policy is not given:"


def _flags(**values: Any) -> PolicyFlags:
    from vmvault.domain.builder import PolicyFlags

    return PolicyFlags(**{k: v for k, v in values.items() if v not in (None, [])})


def _render(svc_to_arm: Any, views: list[PolicyView], output: OutputFormat, single: bool) -> None:
    if output is OutputFormat.JSON:
        bodies = [svc_to_arm(v) for v in views]
        emit_json(bodies[0] if single else bodies)
        return
    emit_table(
        None,
        ["Name", "SubType", "Schedule", "TimeZone", "InstantRP days", "Retention", "Items"],
        [
            (
                v.record.name,
                f"{v.policy.sub_type.value} ({v.policy.sub_type.wire})",
                describe_schedule(v.policy),
                v.policy.time_zone,
                v.policy.instant_rp_days,
                describe_retention(v.policy),
                v.record.protected_items_count,
            )
            for v in views
        ],
    )


def describe_schedule(policy: Policy) -> str:
    s = policy.schedule
    if s.hourly is not None:
        h = s.hourly
        return (
            f"Hourly: every {h.interval_hours}h from {h.window_start:%H:%M} "
            f"for {h.window_duration_hours}h"
        )
    assert s.run_time is not None
    if s.frequency is Frequency.WEEKLY:
        days = ", ".join(d.value[:3] for d in sorted(s.run_days, key=lambda d: d.weekday))
        return f"Weekly: {days} at {s.run_time:%H:%M}"
    return f"Daily at {s.run_time:%H:%M}"


def describe_retention(policy: Policy) -> str:
    r = policy.retention
    parts = [
        f"{r.daily.days}d" if r.daily else "",
        f"{r.weekly.weeks}w" if r.weekly else "",
        f"{r.monthly.months}m" if r.monthly else "",
        f"{r.yearly.years}y" if r.yearly else "",
    ]
    return " ".join(p for p in parts if p)


@handles_errors
def create_or_set(
    ctx: typer.Context,
    vault_name: str = VaultOption,
    name: str = NameOption,
    policy: str = PolicyOption,
    sub_type: str = typer.Option(
        None, "--sub-type", "--policy-sub-type", help=f"{_HELP} Standard or Enhanced"
    ),
    frequency: str = typer.Option(None, "--frequency", help="Hourly (Enhanced), Daily or Weekly"),
    run_time: str = typer.Option(None, "--run-time", help="Daily/Weekly run time HH:MM"),
    run_days: list[str] = typer.Option(None, "--run-days", help="Weekly run days"),
    interval: int = typer.Option(None, "--interval", help="Hourly interval: 4, 6, 8, 12 or 24"),
    window_start: str = typer.Option(None, "--window-start", help="Hourly window start HH:MM"),
    window_duration: int = typer.Option(None, "--window-duration", help="Window hours"),
    time_zone: str = typer.Option(None, "--time-zone", help="Windows or IANA zone name"),
    instant_rp_days: int = typer.Option(None, "--instant-rp-days", help="Snapshot days"),
    daily_retention: int = typer.Option(None, "--daily-retention", help="Days (0 = off)"),
    weekly_retention: int = typer.Option(None, "--weekly-retention", help="Weeks (0 = off)"),
    weekly_days: list[str] = typer.Option(None, "--weekly-days", help="Weekly points' days"),
    monthly_retention: int = typer.Option(None, "--monthly-retention", help="Months (0 = off)"),
    monthly_days: list[str] = typer.Option(None, "--monthly-days", help="1-28 or Last"),
    monthly_weeks: list[str] = typer.Option(None, "--monthly-weeks", help="First..Fourth, Last"),
    monthly_weekdays: list[str] = typer.Option(None, "--monthly-weekdays", help="Weekdays"),
    yearly_retention: int = typer.Option(None, "--yearly-retention", help="Years (0 = off)"),
    yearly_months: list[str] = typer.Option(None, "--yearly-months", help="Months of year"),
    output: OutputFormat = OutputOption,
) -> None:
    """Create a policy, or change one with `set`, from JSON (--policy) or from flags.

    `create` fills what the flags leave out with the subtype's defaults; `set` keeps the
    policy's current values. A policy's subtype (Standard/Enhanced) can never change.
    """
    values = dict(locals())  # the options only: nothing may be bound before this line
    for key in ("ctx", "vault_name", "name", "policy", "output"):
        values.pop(key)
    from vmvault.domain.builder import PolicyFlags
    from vmvault.services.policies import document_from_flags, load_document

    flags = _flags(**values)
    is_set = ctx.info_name == "set"
    if policy is not None and flags != PolicyFlags():
        raise InvalidInputError(
            "--policy cannot be combined with schedule or retention flags: give one or the other"
        )
    with services() as svc:
        if is_set:
            view = (
                svc.policies.set(vault_name, name, load_document(policy))
                if policy is not None
                else svc.policies.set_from_flags(vault_name, name, flags)
            )
        else:
            document = load_document(policy) if policy is not None else document_from_flags(flags)
            view = svc.policies.create(vault_name, name, document)
        _render(svc.policies.to_arm, [view], output, single=True)


app.command("create")(create_or_set)
app.command("set")(create_or_set)


@app.command("show")
@handles_errors
def show(
    vault_name: str = VaultOption, name: str = NameOption, output: OutputFormat = OutputOption
) -> None:
    """Show a policy."""
    with services() as svc:
        _render(svc.policies.to_arm, [svc.policies.get(vault_name, name)], output, single=True)


@app.command("list")
@handles_errors
def list_(
    vault_name: str = VaultOption,
    policy_sub_type: str = typer.Option(
        None, "--policy-sub-type", help="Standard or Enhanced (default: both)"
    ),
    workload_type: str = typer.Option(None, "--workload-type", help="VM (the only workload)"),
    output: OutputFormat = OutputOption,
) -> None:
    """List a vault's policies."""
    sub_type = _sub_type(policy_sub_type) if policy_sub_type else None
    if workload_type is not None and workload_type.lower() not in ("vm", "azureiaasvm"):
        raise InvalidInputError(f"--workload-type {workload_type!r} is not valid: allowed: VM")
    with services() as svc:
        views = svc.policies.all(vault_name, sub_type)
        _render(svc.policies.to_arm, views, output, single=False)


@app.command("delete")
@handles_errors
def delete(
    vault_name: str = VaultOption, name: str = NameOption, output: OutputFormat = OutputOption
) -> None:
    """Delete a policy that protects no item."""
    with services() as svc:
        view = svc.policies.delete(vault_name, name)
        _render(svc.policies.to_arm, [view], output, single=True)


@app.command("get-default-for-vm")
@handles_errors
def get_default_for_vm(
    policy_sub_type: str = typer.Option(
        "Standard", "--policy-sub-type", help="Standard or Enhanced"
    ),
    output: OutputFormat = OutputOption,
) -> None:
    """Print the default VM policy of a subtype as JSON (to edit and pass to create)."""
    from vmvault.services.policies import default_document

    document = default_document(_sub_type(policy_sub_type))
    if output is OutputFormat.JSON:
        emit_json(document)
        return
    props = document["properties"]
    emit_table(None, ["Name", "policyType", "Frequency"], [
        (document["name"], props["policyType"], props["schedulePolicy"]["scheduleRunFrequency"])
    ])  # fmt: skip


@app.command("show-schedule")
@handles_errors
def show_schedule(
    vault_name: str = VaultOption,
    name: str = NameOption,
    days: int = typer.Option(7, "--days", help="How many days of slots (1-366)"),
    start: str = typer.Option(
        None, "--from", help="ISO 8601 start (default now; without an offset it is UTC)"
    ),
    output: OutputFormat = OutputOption,
) -> None:
    """The backup slots of a policy, in UTC and in the policy's zone, with their tiers."""
    with services() as svc:
        view, slots = svc.policies.schedule(vault_name, name, _parse_from(start), days)
    if output is OutputFormat.JSON:
        emit_json([slot_json(s) for s in slots])
        return
    emit_table(
        f"{view.record.name}: {describe_schedule(view.policy)} ({view.policy.time_zone})",
        ["Scheduled (UTC)", "Local time", "Tiers"],
        [(_z(s.scheduled), s.local.isoformat(), ", ".join(_tiers(s))) for s in slots],
    )


def slot_json(slot: Slot) -> dict[str, Any]:
    return {"scheduledTime": _z(slot.scheduled), "localTime": slot.local.isoformat(),
            "tiers": _tiers(slot)}  # fmt: skip


def _tiers(slot: Slot) -> list[str]:
    return [t for t in ("InstantRP", "HardenedRP") if t in slot.tiers]


def _z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_from(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            f"--from {text!r} is not an ISO 8601 date-time: write e.g. 2026-03-01T00:00:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _sub_type(text: str) -> SubType:
    return parse_enum(text, SubType, "--policy-sub-type")
