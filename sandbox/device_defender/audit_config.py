"""Account audit configuration and scheduled audits: which checks run, when, and who hears of it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from sandbox.device_defender import catalog
from sandbox.device_defender.errors import ServiceError, invalid_request, limit_exceeded, not_found
from sandbox.device_defender.request_rules import schedule_days
from sandbox.device_defender.service import Call, Handler, page
from sandbox.device_defender.state import AccountAuditConfig, CheckConfig, RegionState, ScheduledAudit

MAX_SCHEDULED_AUDITS: Final = 5


def check_config(config: AccountAuditConfig, name: str) -> CheckConfig:
    existing = config.checks.get(name)
    if existing is not None:
        return existing
    return CheckConfig(False, dict(catalog.DEFAULT_CHECK_CONFIGURATION.get(name, {})))


def enabled_checks(state: RegionState, names: Iterable[str]) -> list[str]:
    """The named checks, once each, provided all are known and enabled for the account."""
    checks = list(dict.fromkeys(names))
    unknown = [n for n in checks if n not in catalog.CHECKS]
    if unknown:
        raise invalid_request(f"Request contains an invalid Audit Check Name: {', '.join(unknown)}")
    disabled = [n for n in checks if not check_config(state.audit_config, n).enabled]
    if disabled:
        raise invalid_request(f"These checks are not enabled for the account: {', '.join(disabled)}")
    return checks


def describe_account_audit_configuration(call: Call) -> dict[str, Any]:
    config = call.state.audit_config
    checks: dict[str, Any] = {}
    for name in catalog.CHECKS:
        check = check_config(config, name)
        entry: dict[str, Any] = {"enabled": check.enabled}
        if check.configuration:
            entry["configuration"] = dict(check.configuration)
        checks[name] = entry
    result: dict[str, Any] = {
        "auditNotificationTargetConfigurations": {k: dict(v) for k, v in config.notification_targets.items()},
        "auditCheckConfigurations": checks,
    }
    if config.role_arn is not None:
        result["roleArn"] = config.role_arn
    return result


def _check_requested_configuration(requested: dict[str, Any]) -> None:
    unknown = [name for name in requested if name not in catalog.CHECKS]
    if unknown:
        raise invalid_request(f"Request contains an invalid Audit Check Name: {', '.join(unknown)}")
    for name, check in requested.items():
        for key, value in (check.get("configuration") or {}).items():
            if key not in catalog.ACCEPTED_CONFIGURATION.get(name, frozenset()):
                raise invalid_request(f"Configuration {key} is not supported for check {name}.")
            low, high = catalog.THRESHOLD_DAYS_RANGE
            if not value.isdigit() or not low <= int(value) <= high:
                raise invalid_request(f"{key} must be a whole number of days from {low} to {high}.")


def update_account_audit_configuration(call: Call) -> dict[str, Any]:
    state, p = call.state, call.params
    config = state.audit_config
    requested: dict[str, Any] = p.get("auditCheckConfigurations") or {}
    _check_requested_configuration(requested)
    if not config.configured:
        if p.get("roleArn") is None:
            raise invalid_request("roleArn is required when the audit configuration is first set.")
        if not any(c.get("enabled") for c in requested.values()):
            raise invalid_request("At least one audit check must be enabled.")
    in_use = {n for s in state.scheduled_audits.values() for n in s.target_checks}
    blocked = [n for n, c in requested.items() if c.get("enabled") is False and n in in_use]
    if blocked:
        raise invalid_request(f"Checks used by a scheduled audit cannot be disabled: {', '.join(blocked)}")
    targets: dict[str, Any] = p.get("auditNotificationTargetConfigurations") or {}
    for kind, target in targets.items():
        if target.get("enabled") and not target.get("targetArn"):
            raise invalid_request(f"targetArn is required to enable the {kind} notification target.")
    config.configured = True
    if p.get("roleArn") is not None:
        config.role_arn = p["roleArn"]
    for kind, target in targets.items():
        config.notification_targets[kind] = {k: v for k, v in target.items() if v is not None}
    for name, check in requested.items():
        current = check_config(config, name)
        enabled = check.get("enabled")
        configuration = {**current.configuration, **(check.get("configuration") or {})}
        config.checks[name] = CheckConfig(current.enabled if enabled is None else enabled, configuration)
    return {}


def delete_account_audit_configuration(call: Call) -> dict[str, Any]:
    state, p = call.state, call.params
    if not state.audit_config.configured:
        raise not_found("The account audit configuration does not exist.")
    if state.scheduled_audits and not p.get("deleteScheduledAudits"):
        raise invalid_request("Scheduled audits exist; set deleteScheduledAudits to delete them as well.")
    state.scheduled_audits.clear()
    state.audit_config = AccountAuditConfig()
    return {}


def create_scheduled_audit(call: Call) -> dict[str, Any]:
    state, p = call.state, call.params
    name = p["scheduledAuditName"]
    if name in state.scheduled_audits:
        raise ServiceError("ResourceAlreadyExistsException", f"Scheduled audit {name} already exists.")
    if len(state.scheduled_audits) >= MAX_SCHEDULED_AUDITS:
        raise limit_exceeded(f"An account can have at most {MAX_SCHEDULED_AUDITS} scheduled audits.")
    checks = enabled_checks(state, p["targetCheckNames"])
    scheduled = ScheduledAudit(
        name=name,
        arn=call.service.arn(call.region, f"scheduledaudit/{name}"),
        frequency=p["frequency"],
        day_of_month=p.get("dayOfMonth"),
        day_of_week=p.get("dayOfWeek"),
        target_checks=checks,
        tags=list(p.get("tags") or []),
    )
    state.scheduled_audits[name] = scheduled
    return {"scheduledAuditArn": scheduled.arn}


def scheduled_audit(state: RegionState, name: str) -> ScheduledAudit:
    scheduled = state.scheduled_audits.get(name)
    if scheduled is None:
        raise not_found(f"Scheduled audit {name} does not exist.")
    return scheduled


def _scheduled_to_api(scheduled: ScheduledAudit, *, full: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "scheduledAuditName": scheduled.name,
        "scheduledAuditArn": scheduled.arn,
        "frequency": scheduled.frequency,
    }
    if scheduled.day_of_month is not None:
        item["dayOfMonth"] = scheduled.day_of_month
    if scheduled.day_of_week is not None:
        item["dayOfWeek"] = scheduled.day_of_week
    if full:
        item["targetCheckNames"] = list(scheduled.target_checks)
    return item


def describe_scheduled_audit(call: Call) -> dict[str, Any]:
    return _scheduled_to_api(scheduled_audit(call.state, call.params["scheduledAuditName"]), full=True)


def list_scheduled_audits(call: Call) -> dict[str, Any]:
    items = [_scheduled_to_api(s, full=False) for s in call.state.scheduled_audits.values()]
    return page("ListScheduledAudits", items, call.params, "scheduledAudits")


def update_scheduled_audit(call: Call) -> dict[str, Any]:
    state, p = call.state, call.params
    scheduled = scheduled_audit(state, p["scheduledAuditName"])
    merged: dict[str, Any] = {
        "frequency": p.get("frequency") or scheduled.frequency,
        "dayOfWeek": p.get("dayOfWeek") or scheduled.day_of_week,
        "dayOfMonth": p.get("dayOfMonth") or scheduled.day_of_month,
    }
    message = schedule_days(merged)
    if message is not None:
        raise invalid_request(message)
    checks = scheduled.target_checks
    if p.get("targetCheckNames") is not None:
        checks = enabled_checks(state, p["targetCheckNames"])
    scheduled.frequency = merged["frequency"]
    scheduled.day_of_week = merged["dayOfWeek"]
    scheduled.day_of_month = merged["dayOfMonth"]
    scheduled.target_checks = checks
    return {"scheduledAuditArn": scheduled.arn}


def delete_scheduled_audit(call: Call) -> dict[str, Any]:
    state = call.state
    del state.scheduled_audits[scheduled_audit(state, call.params["scheduledAuditName"]).name]
    return {}


HANDLERS: Final[dict[str, Handler]] = {
    "DescribeAccountAuditConfiguration": describe_account_audit_configuration,
    "UpdateAccountAuditConfiguration": update_account_audit_configuration,
    "DeleteAccountAuditConfiguration": delete_account_audit_configuration,
    "CreateScheduledAudit": create_scheduled_audit,
    "DescribeScheduledAudit": describe_scheduled_audit,
    "ListScheduledAudits": list_scheduled_audits,
    "UpdateScheduledAudit": update_scheduled_audit,
    "DeleteScheduledAudit": delete_scheduled_audit,
}
