"""Rollback's plan for the account's v2 logging options, which ENABLE_IOT_LOGGING turns on.

Logging that was off before (the state LOGGING_DISABLED_CHECK reported) is turned off again with the
recorded level and disableAllLogs, naming no role: naming one is passing it (iam:PassRole), which no runtime
role of the stack holds. AWS's own CloudFormation handler for AWS::IoT::Logging turns logging off with
disableAllLogs alone (aws-cloudformation-resource-providers-iot, aws-iot-logging DeleteHandler), so IoT
takes such a request; whether it keeps the stored role is not documented, so the options are read back and
the field is restored only when logging is off again at its recorded level. What needs a role is left to the
operator with the exact command: logging that was on before, and the name of a role the options held while
off.
"""

from collections.abc import Mapping
from typing import Any

from audit_remediator.rollback_fields import FieldPlan, RestoreIot

LOGGING_OFF_LEVEL = "DISABLED"


def logging_command(before: Mapping[str, Any]) -> str:
    """The command that sets the recorded options again (it names the recorded role, if any)."""
    parts = ["aws iot set-v2-logging-options"]
    if "roleArn" in before:
        parts.append(f"--role-arn {before['roleArn']}")
    if "defaultLogLevel" in before:
        parts.append(f"--default-log-level {before['defaultLogLevel']}")
    off = before.get("configured") is False or before.get("disableAllLogs")
    parts.append("--disable-all-logs" if off else "--no-disable-all-logs")
    return " ".join(parts)


def _off(options: Mapping[str, Any]) -> bool:
    """Off as LOGGING_DISABLED_CHECK sees it: never configured, every log disabled, or level DISABLED."""
    return (
        options.get("configured") is False
        or options.get("disableAllLogs") is True
        or options.get("defaultLogLevel") == LOGGING_OFF_LEVEL
    )


def _describe(options: Mapping[str, Any]) -> str:
    if options.get("configured") is False:
        return "not configured"
    state = "off" if _off(options) else "on"
    return (
        f"{state} (level {options.get('defaultLogLevel')}, disableAllLogs {options.get('disableAllLogs')}, "
        f"role {options.get('roleArn') or 'none'})"
    )


def _recorded_off(before: Mapping[str, Any]) -> tuple[str, bool]:
    """The level and disableAllLogs to set again; an account never configured is turned off altogether."""
    if before.get("configured") is False:
        return LOGGING_OFF_LEVEL, True
    return str(before.get("defaultLogLevel", LOGGING_OFF_LEVEL)), bool(before.get("disableAllLogs", False))


def _as_recorded(before: Mapping[str, Any], now: Mapping[str, Any]) -> bool:
    if before.get("configured") is False:
        return _off(now)
    level, disable_all = _recorded_off(before)
    return now.get("defaultLogLevel") == level and bool(now.get("disableAllLogs")) == disable_all


def _roles_lines(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    if before.get("configured") is False or now.get("roleArn") == before.get("roleArn"):
        return []
    return [
        f"the logging options name role {now.get('roleArn') or 'none'}, not {before.get('roleArn')} as "
        "before (unused while logging is off); naming that role again needs iam:PassRole",
        f"by hand: {logging_command(before)}",
    ]


def logging_plan(before: Mapping[str, Any], params: Mapping[str, Any], iot: RestoreIot) -> FieldPlan:
    now = iot.logging_options()
    level, role = params["logLevel"], params["roleArnForLogging"]
    by_hand = logging_command(before)
    if not _off(before):
        if all(now.get(key) == before.get(key) for key in ("roleArn", "defaultLogLevel", "disableAllLogs")):
            return FieldPlan("before", now, f"account logging is {_describe(now)} as before")
        return FieldPlan(
            "manual",
            now,
            f"account logging was {_describe(before)}: setting that role again needs iam:PassRole, which "
            "no runtime role of the stack holds",
            by_hand=by_hand,
        )
    if _off(now) and _as_recorded(before, now):
        return FieldPlan("before", now, f"account logging is {_describe(now)}, as before")

    def confirm(reader: RestoreIot) -> tuple[bool, list[str]]:
        after = reader.logging_options()
        if not _off(after) or not _as_recorded(before, after):
            return False, [f"account logging is {_describe(after)} after the write, not as recorded"]
        return True, _roles_lines(before, after)

    restore = [("set_logging_options", _recorded_off(before))]
    if now.get("roleArn") == role and now.get("defaultLogLevel") == level and not now.get("disableAllLogs"):
        return FieldPlan(
            "as-set",
            now,
            f"account logging {level} -> {_describe(before)}",
            steps=restore,
            confirm=confirm,
            by_hand=by_hand,
        )
    return FieldPlan(
        "drifted",
        now,
        f"account logging is {_describe(now)}, not on at {level} with role {role} as the action left it",
        forced_steps=restore,
        confirm=confirm,
        by_hand=by_hand,
    )
