"""The rules table: data, validated at load; its content hash is the rules version.

Any problem with the table is a RulesError and means that nothing is remediated (fail closed).
"""

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from audit_remediator.checks import KNOWN_CHECKS, ActionType, canonical_check_name
from audit_remediator.errors import RulesError
from audit_remediator.models.identifiers import CheckName, ReasonCode
from audit_remediator.models.plan import Mode

LogicalId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
# ThingGroupName in the IoT API model: 1-128 characters of [a-zA-Z0-9:_-].
ThingGroupName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9:_-]+$")]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ActionDefinition(_Table):
    type: ActionType
    topic: LogicalId | None = None


class AttemptLimit(_Table):
    """A resource remediated `max_attempts` times within `window_days` is escalated, not remediated again."""

    max_attempts: StrictInt = Field(alias="maxAttempts", ge=1, le=100)
    window_days: StrictInt = Field(alias="windowDays", ge=1, le=365)


DEFAULT_ATTEMPT_LIMIT = AttemptLimit(max_attempts=3, window_days=30)
# Device Defender keeps audit tasks and findings 90 days (ListAuditTasks, botocore's iot model): a longer
# quarantine could not be re-checked against the audits that ran since it began.
MAX_QUARANTINE_DAYS = 90


class DeviceCaps(_Table):
    """Caps on the devices a group affects, counted from IoT before anything starts."""

    max_devices: StrictInt | None = Field(default=None, alias="maxDevices", ge=1)
    max_fleet_percent: float | None = Field(default=None, alias="maxFleetPercent", gt=0, le=100)


class DefaultRule(_Table):
    actions: list[LogicalId] = Field(min_length=1, max_length=5)
    mode: Mode
    max_resources: StrictInt | None = Field(default=None, alias="maxResources", ge=1)
    max_devices: StrictInt | None = Field(default=None, alias="maxDevices", ge=1)
    max_fleet_percent: float | None = Field(default=None, alias="maxFleetPercent", gt=0, le=100)
    attempts: AttemptLimit | None = None
    # Days a thing this rule quarantined stays in the quarantine group before it is re-checked; only for
    # rules whose actions quarantine (ADD_THINGS_TO_THING_GROUP).
    quarantine_days: StrictInt | None = Field(
        default=None, alias="quarantineDays", ge=1, le=MAX_QUARANTINE_DAYS
    )


class Rule(DefaultRule):
    check: CheckName
    reason_codes: Annotated[list[ReasonCode], Field(min_length=1)] | Literal["all"] = Field(
        alias="reasonCodes"
    )


class RulesTable(_Table):
    trigger_topic: LogicalId = Field(alias="triggerTopic")
    actions: dict[LogicalId, ActionDefinition] = Field(min_length=1)
    rules: list[Rule] = Field(min_length=1)
    default: DefaultRule | None = None
    # Things in these groups (and their subgroups) are never remediated; their findings are excluded.
    protected_thing_groups: list[ThingGroupName] = Field(
        default=[], alias="protectedThingGroups", max_length=50
    )
    # Caps over every group of one execution, and the attempt limit of rules that set none.
    stack_caps: DeviceCaps = Field(default=DeviceCaps(), alias="stackCaps")
    attempts: AttemptLimit = DEFAULT_ATTEMPT_LIMIT


@dataclass(frozen=True, slots=True)
class ResolvedRule:
    """A rule applied to one check: reason codes made explicit, names canonical."""

    rule_id: str
    check: str
    reason_codes: tuple[str, ...]
    actions: tuple[str, ...]
    mode: Mode
    max_resources: int | None
    max_devices: int | None = None
    max_fleet_percent: float | None = None
    attempts: AttemptLimit = DEFAULT_ATTEMPT_LIMIT
    quarantine_days: int | None = None

    def covers(self, reason_code: str) -> bool:
        return reason_code in self.reason_codes


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: str
    table: RulesTable
    by_check: Mapping[str, tuple[ResolvedRule, ...]]

    def rules_for(self, check_name: str) -> tuple[ResolvedRule, ...]:
        """The rules for a check as named in a notification; empty for unknown checks."""
        return self.by_check.get(canonical_check_name(check_name), ())

    def quarantine_days(self, check_name: str) -> int | None:
        """How long a thing quarantined for this check stays quarantined before it is re-checked (None:
        until someone releases it). Validation holds every quarantining rule of a check to one value."""
        return next((r.quarantine_days for r in self.rules_for(check_name) if r.quarantine_days), None)


def _rule_id(check: str, reason_codes: Iterable[str], actions: Iterable[str]) -> str:
    canonical = json.dumps([check, sorted(reason_codes), list(actions)], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


def _problems(table: RulesTable) -> list[str]:
    problems: list[str] = []
    for name, action in table.actions.items():
        if action.type is ActionType.PUBLISH_FINDING_TO_SNS and action.topic is None:
            problems.append(f"action {name}: PUBLISH_FINDING_TO_SNS needs a topic")
        if action.type is ActionType.PUBLISH_FINDING_TO_SNS and action.topic == table.trigger_topic:
            problems.append(
                f"action {name} publishes findings to the trigger topic {table.trigger_topic}: "
                "a finding would loop back into the service"
            )
    named: list[tuple[str, DefaultRule, str]] = [
        (f"rules[{index}] ({rule.check})", rule, canonical_check_name(rule.check))
        for index, rule in enumerate(table.rules)
    ]
    if table.default is not None:
        named += [("default", table.default, check) for check in sorted(_default_checks(table))]
    for label, rule, check in named:
        info = KNOWN_CHECKS.get(check)
        if info is None:
            problems.append(f"{label}: unknown check {check!r}; add it to checks.KNOWN_CHECKS first")
            continue
        if len(set(rule.actions)) != len(rule.actions):
            problems.append(f"{label}: an action is listed twice")
        for action_name in rule.actions:
            definition = table.actions.get(action_name)
            if definition is None:
                problems.append(f"{label}: action {action_name} is not defined under 'actions'")
            elif definition.type not in info.actions:
                problems.append(f"{label}: {action_name} ({definition.type}) is not supported for {check}")
        problems += _quarantine_problems(label, rule, table)
        if isinstance(rule, Rule) and rule.reason_codes != "all":
            unknown = sorted(set(rule.reason_codes) - set(info.reason_codes))
            if unknown:
                problems.append(f"{label}: reason codes {unknown} are not reported by {check}")
            if len(set(rule.reason_codes)) != len(rule.reason_codes):
                problems.append(f"{label}: a reason code is listed twice")
    problems += _overlaps(table)
    problems += _quarantine_conflicts(table)
    # The default rule is checked once per check it covers: say each of its problems once.
    return list(dict.fromkeys(problems))


def _quarantines(rule: DefaultRule, table: RulesTable) -> bool:
    return any(
        (definition := table.actions.get(name)) is not None
        and definition.type is ActionType.ADD_THINGS_TO_THING_GROUP
        for name in rule.actions
    )


def _quarantine_problems(label: str, rule: DefaultRule, table: RulesTable) -> list[str]:
    if rule.quarantine_days is None or _quarantines(rule, table):
        return []
    return [
        f"{label}: quarantineDays is set, but none of its actions ({', '.join(rule.actions)}) quarantines "
        "(ADD_THINGS_TO_THING_GROUP): remove quarantineDays or add a quarantine action"
    ]


def _quarantine_conflicts(table: RulesTable) -> list[str]:
    """A finished task says which check a finding was for, not which reason code: every quarantining rule of
    one check must agree on quarantineDays, or a quarantine's length would depend on the rules' order."""
    days: dict[str, dict[int | None, list[int]]] = {}
    for index, rule in enumerate(table.rules):
        if _quarantines(rule, table):
            check = canonical_check_name(rule.check)
            days.setdefault(check, {}).setdefault(rule.quarantine_days, []).append(index)
    return [
        f"the rules that quarantine for {check} ("
        + ", ".join(f"rules[{i}]" for indexes in by_days.values() for i in indexes)
        + ") must all set the same quarantineDays, or none: they set "
        + ", ".join(sorted(str(value) if value is not None else "none" for value in by_days))
        for check, by_days in sorted(days.items())
        if len(by_days) > 1
    ]


def _default_checks(table: RulesTable) -> set[str]:
    return set(KNOWN_CHECKS) - {canonical_check_name(rule.check) for rule in table.rules}


def _overlaps(table: RulesTable) -> list[str]:
    problems = []
    for first_index, first in enumerate(table.rules):
        for second_index in range(first_index + 1, len(table.rules)):
            second = table.rules[second_index]
            if canonical_check_name(first.check) != canonical_check_name(second.check):
                continue
            if first.reason_codes == "all" or second.reason_codes == "all":
                shared: set[str] | str = "all"
            else:
                shared = set(first.reason_codes) & set(second.reason_codes)
            if shared:
                problems.append(
                    f"rules[{first_index}] and rules[{second_index}] both match {first.check} "
                    f"for reason codes {sorted(shared) if isinstance(shared, set) else shared}"
                )
    return problems


def _resolve(table: RulesTable) -> dict[str, tuple[ResolvedRule, ...]]:
    by_check: dict[str, list[ResolvedRule]] = {}
    for rule in table.rules:
        check = canonical_check_name(rule.check)
        codes = KNOWN_CHECKS[check].reason_codes if rule.reason_codes == "all" else tuple(rule.reason_codes)
        by_check.setdefault(check, []).append(
            ResolvedRule(
                _rule_id(check, codes, rule.actions),
                check,
                codes,
                tuple(rule.actions),
                rule.mode,
                rule.max_resources,
                rule.max_devices,
                rule.max_fleet_percent,
                rule.attempts or table.attempts,
                rule.quarantine_days,
            )
        )
    if table.default is not None:
        for check in sorted(_default_checks(table)):
            codes = KNOWN_CHECKS[check].reason_codes
            by_check[check] = [
                ResolvedRule(
                    _rule_id(check, codes, table.default.actions),
                    check,
                    codes,
                    tuple(table.default.actions),
                    table.default.mode,
                    table.default.max_resources,
                    table.default.max_devices,
                    table.default.max_fleet_percent,
                    table.default.attempts or table.attempts,
                    table.default.quarantine_days,
                )
            ]
    return {check: tuple(rules) for check, rules in by_check.items()}


def rules_version(table: RulesTable, by_check: Mapping[str, tuple[ResolvedRule, ...]]) -> str:
    """A hash of the table and of the rules it resolves to: "all" reason codes and the default rule
    depend on the check catalogue too, so a catalogue change is a new version."""
    resolved = {
        check: [{**asdict(rule), "attempts": rule.attempts.model_dump(by_alias=True)} for rule in rules]
        for check, rules in by_check.items()
    }
    document = {"table": table.model_dump(mode="json", by_alias=True), "resolved": resolved}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class DeployedActions:
    """The mitigation actions the deployed stack defines: their names, and the prefix that turns a
    rule's logical name into one (`<prefix><logical id>`)."""

    prefix: str
    names: Collection[str]


def _undeployed(table: RulesTable, deployed: DeployedActions) -> list[str]:
    """Rules whose actions the stack does not define: IoT would reject their whole task."""
    named: list[tuple[str, DefaultRule]] = [
        (f"rules[{index}] ({rule.check})", rule) for index, rule in enumerate(table.rules)
    ]
    if table.default is not None:
        named.append(("default", table.default))
    defined = ", ".join(sorted(deployed.names)) or "none"
    return [
        f"{label}: mitigation action {deployed.prefix}{action} is not defined by the stack "
        f"(it defines: {defined})"
        for label, rule in named
        for action in rule.actions
        if deployed.prefix + action not in deployed.names
    ]


def parse_rules(text: str, deployed: DeployedActions | None = None) -> RuleSet:
    """Validate a rules document; every problem found is listed in the RulesError. With `deployed`,
    every action a rule names must also be one of the stack's mitigation actions."""
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RulesError(f"rules table is not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise RulesError("rules table is empty or not a mapping")
    try:
        table = RulesTable.model_validate(document)
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise RulesError(f"rules table does not match its schema: {details}") from error
    problems = _problems(table)
    if deployed is not None:
        problems += _undeployed(table, deployed)
    if problems:
        raise RulesError("rules table is invalid: " + "; ".join(problems))
    by_check = _resolve(table)
    return RuleSet(version=rules_version(table, by_check), table=table, by_check=by_check)


def load_rules(path: Path | None = None, deployed: DeployedActions | None = None) -> RuleSet:
    """The packaged rules table (or the one at `path`), validated (against `deployed`, if given)."""
    try:
        if path is None:
            text = resources.files("audit_remediator").joinpath("rules.yaml").read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RulesError(f"rules table cannot be read: {error}") from error
    return parse_rules(text, deployed)
