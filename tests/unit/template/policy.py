"""Security and operability properties of template.yaml, each a function from a Stack to its violations.

The numbers refer to failure-modes.md (§9 security properties, C28). An empty list means the property holds.
"""

import fnmatch
import json
import re
from collections.abc import Callable
from typing import Any

from tests.conftest import function_environment
from tests.unit.template.stack import ACCOUNT, PARTITION, REGION, STACK_NAME, Stack, Statement
from tools.cloudformation_checks import CLOUDFORMATION_CHECK_PROPERTIES

Check = Callable[[Stack], list[str]]
CHECKS: dict[str, Check] = {}

IOT_SERVICE = "iot.amazonaws.com"
RUNTIME_ROLES = (
    "AuditEventsFunctionRole",
    "RemediationStateMachineRole",
    "PreStartAnalysisFunctionRole",
    "ResourceStateFunctionRole",
    "ReconcileFunctionRole",
    "RollbackFunctionRole",
    "SecurityHubSyncFunctionRole",
    "ApprovalRequestFunctionRole",
    "ApprovalExpiryFunctionRole",
    "QuarantineExpiryFunctionRole",
)
MITIGATION_ACTIONS = (
    "EnableErrorLoggingAction",
    "QuarantineThingsAction",
    "DeactivateDeviceCertificateAction",
    "DeactivateCaCertificateAction",
    "ReplacePolicyWithBlankAction",
    "PublishFindingToReportsAction",
)
FORBIDDEN_AT_RUN_TIME = (
    "iam:PassRole",
    "iot:CreateMitigationAction",
    "iot:UpdateMitigationAction",
    "iot:DeleteMitigationAction",
)
KMS_CRYPTO = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo")
API_CHECK_NAMES = CLOUDFORMATION_CHECK_PROPERTIES
SERVICE_METRICS = {
    "Notifications",
    "Decisions",
    "DecisionRemediate",
    "DecisionNoAction",
    "DecisionRejected",
    "DecisionDuplicate",
    "DecisionPaused",
    "RejectedMessages",
    "ExecutionsStarted",
    "MitigationTasksPlanned",
    "RulesInvalid",
    "TasksStarted",
    "FindingsMitigated",
    "FindingsFailed",
    "AuditsReconciled",
    "ReconcileErrors",
    "TimeToRemediate",
    "FindingsChecked",
    "RecurringFindings",
    "QuarantinedDevices",
    "FleetDevices",
}
FUNCTION_ENVIRONMENT = function_environment()


def check(function: Check) -> Check:
    CHECKS[function.__name__] = function
    return function


def arn(service: str, resource: str) -> str:
    return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{resource}"


def _matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def grants(statements: list[Statement]) -> dict[str, set[str]]:
    """Allowed action -> resources, over all Allow statements."""
    granted: dict[str, set[str]] = {}
    for statement in statements:
        if statement.is_allow:
            for action in statement.actions:
                granted.setdefault(action, set()).update(statement.resources)
    return granted


def _compare_grants(owner: str, actual: dict[str, set[str]], expected: dict[str, set[str]]) -> list[str]:
    problems = [
        f"{owner} may {action} on {sorted(actual[action])}" for action in sorted(set(actual) - set(expected))
    ]
    problems += [f"{owner} lacks {action}" for action in sorted(set(expected) - set(actual))]
    problems += [
        f"{owner}: {action} on {sorted(actual[action])}, expected {sorted(expected[action])}"
        for action in sorted(set(actual) & set(expected))
        if actual[action] != expected[action]
    ]
    return problems


def _ref_target(stack: Stack, value: str) -> str | None:
    return stack.logical_id_of_ref(value) or stack.logical_id_of_arn(value)


@check
def topic_publishers(stack: Stack) -> list[str]:
    """§9.1: only the notification role (and the optional finding publisher) publish to AuditEventsTopic; TLS only."""
    topic_arn = stack.ref("AuditEventsTopic")
    publishers = {stack.get_att("AuditNotificationRole", "Arn")}
    if stack.parameters.get("FindingPublisherRoleArn"):
        publishers.add(stack.parameters["FindingPublisherRoleArn"])
    policies = [
        lid for lid in stack.of_type("AWS::SNS::TopicPolicy") if topic_arn in stack.properties(lid)["Topics"]
    ]
    if len(policies) != 1:
        return [f"AuditEventsTopic has {len(policies)} topic policies, expected exactly one"]
    statements = stack.policy_statements(stack.resource(policies[0])["Properties"]["PolicyDocument"])
    problems: list[str] = []
    allowed: set[str] = set()
    for statement in statements:
        if statement.is_allow and any(_matches(action, "sns:Publish") for action in statement.actions):
            if set(statement.principals) != {"AWS"}:
                problems.append(f"{statement.sid or 'an Allow'} lets {dict(statement.principals)} publish")
            allowed |= set(statement.principals.get("AWS", ()))
    if allowed != publishers:
        problems.append(f"publishers allowed: {sorted(allowed)}, expected {sorted(publishers)}")
    fences = [
        statement
        for statement in statements
        if statement.effect == "Deny"
        and statement.principals.get("*") == {"*"}
        and "sns:Publish" in statement.actions
        and statement.condition_values("aws:PrincipalArn").get("StringNotEquals") == publishers
    ]
    if not fences:
        problems.append("no Deny of sns:Publish for every principal but the allowed publishers")
    if not _denies_insecure_transport(statements, "sns:Publish"):
        problems.append("AuditEventsTopic does not deny publishing without TLS")
    return problems


def _denies_insecure_transport(statements: list[Statement], action: str) -> bool:
    return any(
        statement.effect == "Deny"
        and statement.principals.get("*") == {"*"}
        and any(_matches(pattern, action) for pattern in statement.actions)
        and statement.condition_values("aws:SecureTransport").get("Bool") == {"false"}
        for statement in statements
    )


@check
def reports_topic_publishers(stack: Stack) -> list[str]:
    """Services publish to the reports topic only from this stack's rule and alarms; TLS only."""
    topic_arn = stack.ref("RemediationReportsTopic")
    policies = [
        lid for lid in stack.of_type("AWS::SNS::TopicPolicy") if topic_arn in stack.properties(lid)["Topics"]
    ]
    if len(policies) != 1:
        return [f"RemediationReportsTopic has {len(policies)} topic policies, expected exactly one"]
    statements = stack.policy_statements(stack.resource(policies[0])["Properties"]["PolicyDocument"])
    problems: list[str] = []
    # Each publishing service, and the sources it may publish from (one statement each).
    expected_sources = {
        ("events.amazonaws.com", "ArnEquals", stack.get_att("RemediationExecutionFailedRule", "Arn")),
        ("events.amazonaws.com", "ArnEquals", stack.get_att("KillSwitchChangedRule", "Arn")),
        ("cloudwatch.amazonaws.com", "ArnLike", arn("cloudwatch", f"alarm:{STACK_NAME}-*")),
    }
    seen: set[tuple[str, str, str]] = set()
    for statement in (s for s in statements if s.is_allow):
        services = set(statement.principals.get("Service", ()))
        if set(statement.principals) != {"Service"} or len(services) != 1:
            problems.append(f"reports topic grants {dict(statement.principals)}")
            continue
        (service,) = services
        allowed = {(operator, source) for name, operator, source in expected_sources if name == service}
        if not allowed:
            problems.append(f"reports topic lets {service} publish")
            continue
        conditions = statement.condition_values("aws:SourceArn")
        matched = [(o, src) for o, src in allowed if conditions.get(o) == {src} and len(conditions) == 1]
        if not matched:
            problems.append(f"{service} may publish without aws:SourceArn {sorted(allowed)}")
            continue
        seen.add((service, *matched[0]))
    problems += [
        f"reports topic does not let {service} publish from {source}"
        for service, _, source in sorted(expected_sources - seen)
    ]
    if not _denies_insecure_transport(statements, "sns:Publish"):
        problems.append("RemediationReportsTopic does not deny publishing without TLS")
    return problems


def _iot_trust_problems(stack: Stack, role: str, source_arn: str, operators: set[str]) -> list[str]:
    statements = stack.trust_statements(role)
    problems: list[str] = []
    for statement in statements:
        if not statement.is_allow:
            continue
        if dict(statement.principals) != {"Service": frozenset([IOT_SERVICE])}:
            problems.append(f"{role} is trusted by {dict(statement.principals)}, expected only {IOT_SERVICE}")
        if statement.condition_values("aws:SourceAccount") != {"StringEqualsIfExists": {ACCOUNT}}:
            problems.append(f"{role} trust lacks aws:SourceAccount = {ACCOUNT} (IfExists)")
        source = statement.condition_values("aws:SourceArn")
        if (
            len(source) != 1
            or next(iter(source)) not in operators
            or next(iter(source.values())) != {source_arn}
        ):
            problems.append(
                f"{role} trust: aws:SourceArn {source}, expected {sorted(operators)} {source_arn}"
            )
    if not any(statement.is_allow for statement in statements):
        problems.append(f"{role} has no trust statement")
    return problems


@check
def confused_deputy(stack: Stack) -> list[str]:
    """§9.2: IoT-assumed roles carry aws:SourceAccount and aws:SourceArn; mitigation roles name their action."""
    problems: list[str] = []
    account_wide = arn("iot", "*")
    # IotLoggingRole is left out on purpose: its trust is the logging guide's plain one (test_service_access).
    for role in ("AuditNotificationRole", "AuditRole"):
        if role in stack.resources:
            problems += _iot_trust_problems(stack, role, account_wide, {"ArnLikeIfExists"})
    roles_seen: dict[str, str] = {}
    for action in MITIGATION_ACTIONS:
        properties = stack.properties(action)
        role = stack.role_of(properties["RoleArn"])
        if role in roles_seen:
            problems.append(f"{action} shares its role {role} with {roles_seen[role]}")
        roles_seen[role] = action
        action_arn = arn("iot", f"mitigationaction/{properties['ActionName']}")
        problems += _iot_trust_problems(
            stack, role, action_arn, {"ArnEqualsIfExists", "StringEqualsIfExists"}
        )
    return problems


def _sweep_rules(stack: Stack) -> list[str]:
    """The EventBridge rules that invoke ReconcileFunction on a schedule."""
    return schedules_of(stack, "ReconcileFunction")


def schedules_of(stack: Stack, function_id: str) -> list[str]:
    """The EventBridge rules whose target is the function."""
    function = stack.get_att(function_id, "Arn")
    return [
        logical_id
        for logical_id in stack.of_type("AWS::Events::Rule")
        if any(t.get("Arn") == function for t in stack.properties(logical_id).get("Targets", []))
    ]


@check
def lambda_invoke(stack: Stack) -> list[str]:
    """§9.3: only SNS, from AuditEventsTopic, may invoke AuditEventsFunction; only the sweep's schedule,
    ReconcileFunction; only the kill switch's rule, ApprovalExpiryFunction."""
    problems: list[str] = []
    permissions = stack.of_type("AWS::Lambda::Permission")
    if not permissions:
        problems.append("no Lambda permission lets SNS invoke AuditEventsFunction")
    allowed = {
        stack.ref("AuditEventsFunction"): ("sns.amazonaws.com", {stack.ref("AuditEventsTopic")}),
        stack.ref("ReconcileFunction"): (
            "events.amazonaws.com",
            {stack.get_att(rule, "Arn") for rule in _sweep_rules(stack)},
        ),
        stack.ref("ApprovalExpiryFunction"): (
            "events.amazonaws.com",
            {stack.get_att("KillSwitchChangedRule", "Arn")},
        ),
        stack.ref("QuarantineExpiryFunction"): (
            "events.amazonaws.com",
            {stack.get_att(rule, "Arn") for rule in schedules_of(stack, "QuarantineExpiryFunction")},
        ),
    }
    for logical_id in permissions:
        properties = stack.properties(logical_id)
        principal, sources = allowed.get(properties.get("FunctionName"), ("", set()))
        if properties.get("Principal") != principal:
            problems.append(f"{logical_id} lets {properties.get('Principal')} invoke")
        if properties.get("SourceArn") not in sources:
            problems.append(f"{logical_id} has SourceArn {properties.get('SourceArn')}, expected {sources}")
        if properties.get("Action") != "lambda:InvokeFunction":
            problems.append(f"{logical_id} grants {properties.get('Action')}")
    return problems


@check
def reconcile_sweep(stack: Stack) -> list[str]:
    """A13: the sweep decides audits exactly as AuditEventsFunction does (the same settings, and only the
    quarantine group it measures beside them), on the ReconcileSchedule, over ReconcileDays."""
    problems: list[str] = []
    environment = stack.properties("ReconcileFunction").get("Environment", {}).get("Variables", {})
    decider = stack.properties("AuditEventsFunction").get("Environment", {}).get("Variables", {})
    if environment != {**decider, "QUARANTINE_THING_GROUP_NAME": stack.ref("QuarantineThingGroup")}:
        problems.append("ReconcileFunction's environment differs from AuditEventsFunction's")
    rules = _sweep_rules(stack)
    if len(rules) != 1:
        return [*problems, f"{len(rules)} schedules invoke ReconcileFunction, expected 1"]
    rule = stack.properties(rules[0])
    if rule.get("ScheduleExpression") != stack.parameters["ReconcileSchedule"]:
        problems.append(f"the sweep runs on {rule.get('ScheduleExpression')}, not ReconcileSchedule")
    [target] = rule["Targets"]
    if json.loads(target.get("Input", "{}")) != {"days": int(stack.parameters["ReconcileDays"])}:
        problems.append(f"the sweep is asked {target.get('Input')}, not ReconcileDays")
    return problems


@check
def event_source_wiring(stack: Stack) -> list[str]:
    """§9.4 (template side): the function is told exactly the topic it is subscribed to, and all its settings."""
    problems: list[str] = []
    function = stack.properties("AuditEventsFunction")
    environment = function.get("Environment", {}).get("Variables", {})
    if set(environment) != FUNCTION_ENVIRONMENT:
        problems.append(f"environment variables {sorted(set(environment) ^ FUNCTION_ENVIRONMENT)} differ")
    subscriptions = [stack.properties(lid) for lid in stack.of_type("AWS::SNS::Subscription")]
    subscribed = {s["TopicArn"] for s in subscriptions if s.get("Protocol") == "lambda"}
    if (
        subscribed != {stack.ref("AuditEventsTopic")}
        or environment.get("AUDIT_EVENTS_TOPIC_ARN") not in subscribed
    ):
        problems.append(f"subscribed to {sorted(subscribed)}, told AUDIT_EVENTS_TOPIC_ARN")
    expected_values = {
        "STATE_MACHINE_ARN": stack.ref("RemediationStateMachine"),
        "IDEMPOTENCY_TABLE_NAME": stack.ref("IdempotencyTable"),
        "REMEDIATION_TABLE_NAME": stack.ref("RemediationTable"),
        "QUARANTINE_QUEUE_URL": stack.ref("AuditEventsQuarantineQueue"),
        "REMEDIATION_MODE": stack.parameters["RemediationMode"],
        "MITIGATION_ACTION_NAME_PREFIX": f"{STACK_NAME}-",
    }
    problems += [
        f"{name}={environment.get(name)!r}, expected {value!r}"
        for name, value in expected_values.items()
        if environment.get(name) != value
    ]
    for subscription in subscriptions:
        dead_letter = subscription.get("RedrivePolicy", {}).get("deadLetterTargetArn")
        if dead_letter != stack.get_att("AuditEventsSubscriptionDLQ", "Arn"):
            problems.append(f"the subscription's dead-letter target is {dead_letter}")
    invoke_configs = [stack.properties(lid) for lid in stack.of_type("AWS::Lambda::EventInvokeConfig")]
    failure = stack.get_att("AuditEventsFailureQueue", "Arn")
    if not any(
        config.get("MaximumRetryAttempts") == 2
        and config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination") == failure
        for config in invoke_configs
    ):
        problems.append(
            "no EventInvokeConfig with 2 retries and AuditEventsFailureQueue as on-failure destination"
        )
    return problems


@check
def no_runtime_pass_role(stack: Stack) -> list[str]:
    """§9.5: the runtime roles cannot pass roles or create, change or delete mitigation actions."""
    problems: list[str] = []
    for role in RUNTIME_ROLES:
        for statement in stack.role_statements(role):
            if not statement.is_allow:
                continue
            if statement.not_actions:
                problems.append(f"{role} allows NotAction {sorted(statement.not_actions)}")
            for pattern in statement.actions:
                problems += [
                    f"{role} allows {pattern}, which covers {forbidden}"
                    for forbidden in FORBIDDEN_AT_RUN_TIME
                    if _matches(pattern, forbidden)
                ]
    return problems


@check
def no_wildcard_grants(stack: Stack) -> list[str]:
    """§9.6: no Allow of '*', '*:*' or a whole service ('iot:*') anywhere, and no Allow to every principal."""
    problems: list[str] = []
    for owner, statements in stack.policy_documents():
        for statement in statements:
            if not statement.is_allow:
                continue
            problems += [
                f"{owner} allows {action}"
                for action in statement.actions
                if action == "*" or action.endswith(":*") or action.startswith("*")
            ]
            if statement.not_actions:
                problems.append(f"{owner} allows NotAction {sorted(statement.not_actions)}")
            if statement.principals.get("*") or "*" in statement.principals.get("AWS", ()):
                problems.append(f"{owner} allows every principal")
    return problems


def _kill_switch_arn(stack: Stack) -> str:
    """Service Authorization Reference, Systems Manager: resource type `parameter` is
    arn:${Partition}:ssm:${Region}:${Account}:parameter/${ParameterNameWithoutLeadingSlash}."""
    return arn("ssm", "parameter/" + str(stack.ref("KillSwitchParameter")).lstrip("/"))


@check
def function_role_least_privilege(stack: Stack) -> list[str]:
    """§9.6: AuditEventsFunction's role holds exactly what the handler calls, on exactly its resources."""
    function = stack.properties("AuditEventsFunction")
    role = stack.role_of(function["Role"])
    idempotency = stack.get_att("IdempotencyTable", "Arn")
    history = stack.get_att("RemediationTable", "Arn")
    log_group = stack.get_att("AuditEventsLogGroup", "Arn")
    queues = {
        stack.get_att("AuditEventsQuarantineQueue", "Arn"),
        stack.get_att("AuditEventsFailureQueue", "Arn"),
    }
    expected = {
        "logs:CreateLogStream": {log_group},
        "logs:PutLogEvents": {log_group},
        "states:StartExecution": {stack.ref("RemediationStateMachine")},
        "ssm:GetParameter": {_kill_switch_arn(stack)},
        "dynamodb:GetItem": {idempotency, history},
        "dynamodb:PutItem": {idempotency, history},
        "dynamodb:UpdateItem": {idempotency, history},
        "dynamodb:DeleteItem": {idempotency},
        "sqs:SendMessage": queues,
        "xray:PutTraceSegments": {"*"},
        "xray:PutTelemetryRecords": {"*"},
    }
    problems = _compare_grants(role, grants(stack.role_statements(role)), expected)
    problems += [f"{role} has managed policy {name}" for name in stack.role_managed_policy_arns(role)]
    return problems


@check
def analysis_role_least_privilege(stack: Stack) -> list[str]:
    """§9.6: PreStartAnalysisFunction's role reads IoT (List calls only), and queries and writes attempts."""
    role = stack.role_of(stack.properties("PreStartAnalysisFunction")["Role"])
    history = stack.get_att("RemediationTable", "Arn")
    log_group = stack.get_att("PreStartAnalysisLogGroup", "Arn")
    reads = (
        "ListAuditFindings",
        "ListAuditSuppressions",
        "ListRelatedResourcesForAuditFinding",
        "ListThingsInThingGroup",
        "ListPrincipalThings",
        "ListTargetsForPolicy",
        "ListCertificatesByCA",
        "ListThings",
    )
    expected: dict[str, set[str]] = {f"iot:{name}": {"*"} for name in reads}
    expected |= {
        "logs:CreateLogStream": {log_group},
        "logs:PutLogEvents": {log_group},
        "dynamodb:Query": {history},
        "dynamodb:PutItem": {history},
        "xray:PutTraceSegments": {"*"},
        "xray:PutTelemetryRecords": {"*"},
    }
    problems = _compare_grants(role, grants(stack.role_statements(role)), expected)
    problems += [f"{role} has managed policy {name}" for name in stack.role_managed_policy_arns(role)]
    return problems


@check
def resource_state_role_least_privilege(stack: Stack) -> list[str]:
    """§9.6: ResourceStateFunction's role reads what the actions change (scoped to its resource type where the
    Service Authorization Reference has one), describes only this stack's actions, and writes its records."""
    role = stack.role_of(stack.properties("ResourceStateFunction")["Role"])
    history = stack.get_att("RemediationTable", "Arn")
    log_group = stack.get_att("ResourceStateLogGroup", "Arn")
    typed = {arn("iot", f"{kind}/*") for kind in ("cert", "cacert", "thing", "policy")}
    unscoped = (
        "ListAuditFindings",
        "DescribeAuditFinding",
        "ListAuditMitigationActionsExecutions",
        "ListPrincipalThings",
        "ListAttachedPolicies",
        "GetV2LoggingOptions",
    )
    expected: dict[str, set[str]] = {f"iot:{name}": {"*"} for name in unscoped}
    expected |= {
        f"iot:{name}": typed
        for name in (
            "DescribeCertificate",
            "DescribeCACertificate",
            "ListThingGroupsForThing",
            "GetPolicy",
            "GetPolicyVersion",
        )
    }
    expected |= {
        "iot:DescribeMitigationAction": {arn("iot", f"mitigationaction/{STACK_NAME}-*")},
        "logs:CreateLogStream": {log_group},
        "logs:PutLogEvents": {log_group},
        "dynamodb:Query": {history, f"{history}/index/ByResource"},
        "dynamodb:PutItem": {history},
        "dynamodb:UpdateItem": {history},
        "xray:PutTraceSegments": {"*"},
        "xray:PutTelemetryRecords": {"*"},
    }
    problems = _compare_grants(role, grants(stack.role_statements(role)), expected)
    problems += [f"{role} has managed policy {name}" for name in stack.role_managed_policy_arns(role)]
    return problems


@check
def reconcile_role_least_privilege(stack: Stack) -> list[str]:
    """§9.6: ReconcileFunction's role lists and describes audits, reads the decision log, and otherwise holds
    only what deciding an audit takes (AuditEventsFunction's calls for an audit, without its queues)."""
    role = stack.role_of(stack.properties("ReconcileFunction")["Role"])
    idempotency = stack.get_att("IdempotencyTable", "Arn")
    history = stack.get_att("RemediationTable", "Arn")
    log_group = stack.get_att("ReconcileLogGroup", "Arn")
    expected = {
        "logs:CreateLogStream": {log_group},
        "logs:PutLogEvents": {log_group},
        "iot:ListAuditTasks": {"*"},
        "iot:DescribeAuditTask": {"*"},
        "iot:ListThings": {"*"},
        "iot:ListThingsInThingGroup": {"*"},
        "states:StartExecution": {stack.ref("RemediationStateMachine")},
        "ssm:GetParameter": {_kill_switch_arn(stack)},
        "dynamodb:GetItem": {idempotency, history},
        "dynamodb:PutItem": {idempotency, history},
        "dynamodb:UpdateItem": {idempotency},
        "dynamodb:DeleteItem": {idempotency},
        "dynamodb:Query": {history},
        "xray:PutTraceSegments": {"*"},
        "xray:PutTelemetryRecords": {"*"},
    }
    problems = _compare_grants(role, grants(stack.role_statements(role)), expected)
    problems += [f"{role} has managed policy {name}" for name in stack.role_managed_policy_arns(role)]
    return problems


def _security_hub_sync(stack: Stack) -> bool:
    return bool(stack.parameters.get("SecurityHubSync") == "Enabled")


@check
def securityhub_sync_role_least_privilege(stack: Stack) -> list[str]:
    """§9.6: SecurityHubSyncFunction's role reads and updates Security Hub findings only when the sync is on,
    on the account's hub only (Service Authorization Reference: resource type `hub`), and never suppresses;
    only then too it reads the table's verification results and the audit findings of a waiting group."""
    role = stack.role_of(stack.properties("SecurityHubSyncFunction")["Role"])
    log_group = stack.get_att("SecurityHubSyncLogGroup", "Arn")
    expected: dict[str, set[str]] = {
        "logs:CreateLogStream": {log_group},
        "logs:PutLogEvents": {log_group},
        "xray:PutTraceSegments": {"*"},
        "xray:PutTelemetryRecords": {"*"},
    }
    statements = stack.role_statements(role)
    problems: list[str] = []
    if _security_hub_sync(stack):
        hub = arn("securityhub", "hub/default")
        expected |= {"securityhub:GetFindings": {hub}, "securityhub:BatchUpdateFindings": {hub}}
        # A verified task's results (its pre-state records) and a waiting group's findings (IoT: no resource type).
        expected |= {
            "dynamodb:Query": {stack.get_att("RemediationTable", "Arn")},
            "iot:ListAuditFindings": {"*"},
            "iot:DescribeAuditFinding": {"*"},
        }
        suppress = [
            s
            for s in statements
            if not s.is_allow
            and "securityhub:BatchUpdateFindings" in s.actions
            and s.condition_values("securityhub:ASFFSyntaxPath/Workflow.Status").get("StringEquals")
            == {"SUPPRESSED"}
        ]
        if not suppress:
            problems.append(f"{role} is not denied setting Workflow.Status SUPPRESSED")
    problems += _compare_grants(role, grants(statements), expected)
    problems += [f"{role} has managed policy {name}" for name in stack.role_managed_policy_arns(role)]
    return problems


@check
def rollback_role_least_privilege(stack: Stack) -> list[str]:
    """§9.6: RollbackFunction's role writes exactly what restoring a recorded field takes, each on its resource
    type (Service Authorization Reference, AWS IoT), its records and the reports topic; Security Hub only when
    the sync is on, never suppressing; account logging read and turned off (no resource type); and no
    iam:PassRole (a logging role is named again by hand)."""
    role = stack.role_of(stack.properties("RollbackFunction")["Role"])
    log_group = stack.get_att("RollbackLogGroup", "Arn")
    history = stack.get_att("RemediationTable", "Arn")
    cert, cacert, thing, group, policy = (
        arn("iot", f"{kind}/*") for kind in ("cert", "cacert", "thing", "thinggroup", "policy")
    )
    expected: dict[str, set[str]] = {
        "logs:CreateLogStream": {log_group},
        "logs:PutLogEvents": {log_group},
        "iot:DescribeMitigationAction": {arn("iot", f"mitigationaction/{STACK_NAME}-*")},
        "iot:DescribeCertificate": {cert},
        "iot:UpdateCertificate": {cert},
        "iot:DescribeCACertificate": {cacert},
        "iot:UpdateCACertificate": {cacert},
        "iot:DescribeThing": {thing},
        "iot:ListThingGroupsForThing": {thing},
        "iot:ListThingPrincipals": {thing},
        "iot:DescribeThingGroup": {group},
        "iot:ListPrincipalThings": {"*"},
        "iot:AddThingToThingGroup": {thing, group},
        "iot:RemoveThingFromThingGroup": {thing, group},
        "iot:GetPolicy": {policy},
        "iot:GetPolicyVersion": {policy},
        "iot:SetDefaultPolicyVersion": {policy},
        "iot:DeletePolicyVersion": {policy},
        "iot:GetV2LoggingOptions": {"*"},
        "iot:SetV2LoggingOptions": {"*"},
        "dynamodb:Query": {history},
        "dynamodb:UpdateItem": {history},
        "sns:Publish": {stack.ref("RemediationReportsTopic")},
        "xray:PutTraceSegments": {"*"},
        "xray:PutTelemetryRecords": {"*"},
    }
    statements = stack.role_statements(role)
    problems: list[str] = []
    if _security_hub_sync(stack):
        hub = arn("securityhub", "hub/default")
        expected |= {"securityhub:GetFindings": {hub}, "securityhub:BatchUpdateFindings": {hub}}
        if not any(
            not s.is_allow
            and "securityhub:BatchUpdateFindings" in s.actions
            and s.condition_values("securityhub:ASFFSyntaxPath/Workflow.Status").get("StringEquals")
            == {"SUPPRESSED"}
            for s in statements
        ):
            problems.append(f"{role} is not denied setting Workflow.Status SUPPRESSED")
    problems += _compare_grants(role, grants(statements), expected)
    problems += [f"{role} has managed policy {name}" for name in stack.role_managed_policy_arns(role)]
    return problems


@check
def state_machine_role_least_privilege(stack: Stack) -> list[str]:
    """§9.6: RemediationStateMachine's role holds exactly the six IoT actions, its table, its topic, logs, X-Ray."""
    role = stack.role_of(stack.properties("RemediationStateMachine")["RoleArn"])
    history = stack.get_att("RemediationTable", "Arn")
    iot = (
        "StartAuditMitigationActionsTask",
        "DescribeAuditMitigationActionsTask",
        "ListAuditMitigationActionsExecutions",
        "ListAuditFindings",
        "DescribeAuditTask",
        "CancelAuditMitigationActionsTask",
    )
    log_delivery = (
        "CreateLogDelivery",
        "GetLogDelivery",
        "UpdateLogDelivery",
        "DeleteLogDelivery",
        "ListLogDeliveries",
        "PutResourcePolicy",
        "DescribeResourcePolicies",
        "DescribeLogGroups",
    )
    expected: dict[str, set[str]] = {f"iot:{name}": {"*"} for name in iot}
    expected |= {f"logs:{name}": {"*"} for name in log_delivery}
    expected |= {f"dynamodb:{name}": {history} for name in ("PutItem", "UpdateItem", "GetItem", "Query")}
    expected |= {"sns:Publish": {stack.ref("RemediationReportsTopic")}}
    expected |= {"ssm:GetParameter": {_kill_switch_arn(stack)}}
    # Service Authorization Reference: AttachPolicy takes a thinggroup (or cert) resource, ListAttachedPolicies
    # and PutMetricData none (the latter is held to one namespace by its cloudwatch:namespace condition).
    expected |= {
        "iot:AttachPolicy": {stack.get_att("QuarantineThingGroup", "Arn")},
        "iot:ListAttachedPolicies": {"*"},
        "cloudwatch:PutMetricData": {"*"},
        "lambda:InvokeFunction": {
            stack.get_att("PreStartAnalysisFunction", "Arn"),
            stack.get_att("ResourceStateFunction", "Arn"),
            stack.get_att("ApprovalRequestFunction", "Arn"),
        }
        | ({stack.get_att("SecurityHubSyncFunction", "Arn")} if _security_hub_sync(stack) else set()),
        # Leaked mitigation task slots: which executions of this state machine still run (resource: stateMachine).
        "states:ListExecutions": {stack.ref("RemediationStateMachine")},
    }
    metric_statements = [s for s in stack.role_statements(role) if "cloudwatch:PutMetricData" in s.actions]
    if any(
        s.condition_values("cloudwatch:namespace").get("StringEquals") != {"IoTAuditRemediator"}
        for s in metric_statements
    ):
        problems = [f"{role} may put metrics outside the IoTAuditRemediator namespace"]
    else:
        problems = []
    expected |= {
        f"xray:{name}": {"*"}
        for name in ("PutTraceSegments", "PutTelemetryRecords", "GetSamplingRules", "GetSamplingTargets")
    }
    problems += _compare_grants(role, grants(stack.role_statements(role)), expected)
    problems += [f"{role} has managed policy {name}" for name in stack.role_managed_policy_arns(role)]
    return problems


def _expected_mitigation_grants(stack: Stack, params: dict[str, Any]) -> tuple[str, dict[str, set[str]]]:
    if "UpdateDeviceCertificateParams" in params:
        return "UPDATE_DEVICE_CERTIFICATE", {"iot:UpdateCertificate": {arn("iot", "cert/*")}}
    if "UpdateCACertificateParams" in params:
        return "UPDATE_CA_CERTIFICATE", {"iot:UpdateCACertificate": {arn("iot", "cacert/*")}}
    if "AddThingsToThingGroupParams" in params:
        groups = {
            arn("iot", f"thinggroup/{name}")
            for name in params["AddThingsToThingGroupParams"]["ThingGroupNames"]
        }
        return "ADD_THINGS_TO_THING_GROUP", {
            "iot:ListPrincipalThings": {"*"},
            "iot:AddThingToThingGroup": groups | {arn("iot", "thing/*")},
        }
    if "ReplaceDefaultPolicyVersionParams" in params:
        return "REPLACE_DEFAULT_POLICY_VERSION", {"iot:CreatePolicyVersion": {arn("iot", "policy/*")}}
    if "EnableIoTLoggingParams" in params:
        return "ENABLE_IOT_LOGGING", {
            "iot:SetV2LoggingOptions": {"*"},
            "iam:PassRole": {params["EnableIoTLoggingParams"]["RoleArnForLogging"]},
        }
    if "PublishFindingToSnsParams" in params:
        return "PUBLISH_FINDING_TO_SNS", {"sns:Publish": {params["PublishFindingToSnsParams"]["TopicArn"]}}
    return "UNKNOWN", {}


@check
def mitigation_roles_least_privilege(stack: Stack) -> list[str]:
    """§9.7: each mitigation action's role grants only what its action type needs (reference §2.3)."""
    problems: list[str] = []
    for action in MITIGATION_ACTIONS:
        if action not in stack.resources:
            problems.append(f"mitigation action {action} is missing")
            continue
        properties = stack.properties(action)
        if properties.get("ActionName") != f"{STACK_NAME}-{action}":
            problems.append(
                f"{action} is named {properties.get('ActionName')}, expected {STACK_NAME}-{action}"
            )
        params = properties["ActionParams"]
        if len(params) != 1:
            problems.append(f"{action} has {len(params)} action parameter sets")
        action_type, expected = _expected_mitigation_grants(stack, params)
        role = stack.role_of(properties["RoleArn"])
        statements = stack.role_statements(role)
        problems += _compare_grants(f"{role} ({action_type})", grants(statements), expected)
        problems += [f"{role} has managed policy {name}" for name in stack.role_managed_policy_arns(role)]
        for statement in statements:
            if statement.is_allow and "iam:PassRole" in statement.actions:
                passed_to = statement.condition_values("iam:PassedToService")
                if passed_to != {"StringEquals": {IOT_SERVICE}}:
                    problems.append(
                        f"{role} passes its logging role without iam:PassedToService = {IOT_SERVICE}"
                    )
    publish = stack.properties("PublishFindingToReportsAction")["ActionParams"]["PublishFindingToSnsParams"]
    if publish["TopicArn"] == stack.ref("AuditEventsTopic"):
        problems.append("PublishFindingToReportsAction publishes to the trigger topic (loop)")
    return problems


def _key_of(stack: Stack, key_reference: Any) -> str | None:
    if not isinstance(key_reference, str):
        return None
    logical_id = _ref_target(stack, key_reference)
    return logical_id if logical_id and stack.resources[logical_id]["Type"] == "AWS::KMS::Key" else None


def _crypto(statement: Statement) -> bool:
    return any(_matches(pattern, action) for pattern in statement.actions for action in KMS_CRYPTO)


def _key_principals(stack: Stack, key: str) -> list[tuple[str, Statement]]:
    entries: list[tuple[str, Statement]] = []
    for statement in stack.policy_statements(stack.resource(key)["Properties"]["KeyPolicy"]):
        if statement.is_allow and _crypto(statement):
            entries += [
                (principal, statement) for values in statement.principals.values() for principal in values
            ]
    return entries


def _via_services(statement: Statement) -> frozenset[str]:
    return statement.condition_values("kms:ViaService").get("StringEquals", frozenset())


@check
def encryption_at_rest(stack: Stack) -> list[str]:
    """§9.11: topics, queues and tables encrypted with this stack's keys; tables with point-in-time recovery."""
    problems: list[str] = []
    for logical_id in stack.of_type("AWS::SNS::Topic"):
        if not _key_of(stack, stack.properties(logical_id).get("KmsMasterKeyId")):
            problems.append(f"{logical_id} is not encrypted with a customer managed key of this stack")
    for logical_id in stack.of_type("AWS::SQS::Queue"):
        if not _key_of(stack, stack.properties(logical_id).get("KmsMasterKeyId")):
            problems.append(f"{logical_id} is not encrypted with a customer managed key of this stack")
    for logical_id in stack.of_type("AWS::DynamoDB::Table"):
        properties = stack.properties(logical_id)
        sse = properties.get("SSESpecification", {})
        if not (
            sse.get("SSEEnabled") is True
            and sse.get("SSEType") == "KMS"
            and _key_of(stack, sse.get("KMSMasterKeyId"))
        ):
            problems.append(f"{logical_id} is not encrypted with a customer managed key of this stack")
        if (
            properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
            is not True
        ):
            problems.append(f"{logical_id} has no point-in-time recovery")
    for logical_id in stack.of_type("AWS::KMS::Key"):
        if stack.properties(logical_id).get("EnableKeyRotation") is not True:
            problems.append(f"{logical_id} does not rotate")
    return problems


@check
def audit_events_key_policy(stack: Stack) -> list[str]:
    """§9.11: AuditEventsTopic's key lets only its publishers (through SNS) and SNS (for its DLQ) use it."""
    key = _key_of(stack, stack.properties("AuditEventsTopic").get("KmsMasterKeyId"))
    if key is None:
        return ["AuditEventsTopic has no key of this stack"]
    sns = f"sns.{REGION}.amazonaws.com"
    publishers = {stack.get_att("AuditNotificationRole", "Arn")}
    if stack.parameters.get("FindingPublisherRoleArn"):
        publishers.add(stack.parameters["FindingPublisherRoleArn"])
    root = f"arn:{PARTITION}:iam::{ACCOUNT}:root"
    problems: list[str] = []
    seen: set[str] = set()
    for principal, statement in _key_principals(stack, key):
        seen.add(principal)
        if principal in publishers:
            if _via_services(statement) != {sns}:
                problems.append(f"{key}: {principal} may use the key outside SNS")
        elif principal == "sns.amazonaws.com":
            # No source condition (no page says SNS sends one to KMS for an encrypted queue); what SNS may
            # write with the key is held by the DLQ's queue policy, checked with the queues.
            if statement.conditions or _crypto_beyond_decrypt(statement, allowed=("kms:GenerateDataKey*",)):
                problems.append(
                    f"{key}: SNS's use of the key is conditioned or goes beyond writing to the DLQ"
                )
        elif principal == root:
            if _via_services(statement) != {f"sqs.{REGION}.amazonaws.com"} or _crypto_beyond_decrypt(
                statement
            ):
                problems.append(f"{key}: the account may do more than read the DLQ through SQS")
        else:
            problems.append(f"{key} lets {principal} encrypt or decrypt")
    problems += [f"{key} does not let {publisher} publish" for publisher in sorted(publishers - seen)]
    users = {
        lid
        for lid in (*stack.of_type("AWS::SNS::Topic"), *stack.of_type("AWS::SQS::Queue"))
        if _key_of(stack, stack.properties(lid).get("KmsMasterKeyId")) == key
    }
    if users != {"AuditEventsTopic", "AuditEventsSubscriptionDLQ"}:
        problems.append(f"{key} encrypts {sorted(users)}, expected AuditEventsTopic and its DLQ only")
    return problems


def _crypto_beyond_decrypt(statement: Statement, allowed: tuple[str, ...] = ()) -> bool:
    """Whether the statement grants a cryptographic action other than kms:Decrypt and `allowed`."""
    return any(
        _matches(pattern, action) and not any(_matches(grant, action) for grant in allowed)
        for pattern in statement.actions
        for action in KMS_CRYPTO
        if action != "kms:Decrypt"
    )


@check
def remediation_key_policy(stack: Stack) -> list[str]:
    """§9.11: the other key is used by the runtime roles through their services, and by the services that publish."""
    key = _key_of(stack, stack.properties("RemediationReportsTopic").get("KmsMasterKeyId"))
    if key is None:
        return ["RemediationReportsTopic has no key of this stack"]
    role_arn = {
        role: stack.get_att(role, "Arn") for role in (*RUNTIME_ROLES, "PublishFindingToReportsActionRole")
    }
    allowed_services = {
        role_arn["AuditEventsFunctionRole"]: {
            f"sqs.{REGION}.amazonaws.com",
            f"dynamodb.{REGION}.amazonaws.com",
        },
        role_arn["RemediationStateMachineRole"]: {
            f"sns.{REGION}.amazonaws.com",
            f"dynamodb.{REGION}.amazonaws.com",
        },
        role_arn["PublishFindingToReportsActionRole"]: {f"sns.{REGION}.amazonaws.com"},
        role_arn["PreStartAnalysisFunctionRole"]: {f"dynamodb.{REGION}.amazonaws.com"},
        role_arn["ResourceStateFunctionRole"]: {f"dynamodb.{REGION}.amazonaws.com"},
        role_arn["ReconcileFunctionRole"]: {f"dynamodb.{REGION}.amazonaws.com"},
        role_arn["RollbackFunctionRole"]: {
            f"sns.{REGION}.amazonaws.com",
            f"dynamodb.{REGION}.amazonaws.com",
        },
        role_arn["ApprovalRequestFunctionRole"]: {
            f"sns.{REGION}.amazonaws.com",
            f"dynamodb.{REGION}.amazonaws.com",
        },
        role_arn["ApprovalExpiryFunctionRole"]: {f"dynamodb.{REGION}.amazonaws.com"},
        role_arn["QuarantineExpiryFunctionRole"]: {
            f"sns.{REGION}.amazonaws.com",
            f"dynamodb.{REGION}.amazonaws.com",
        },
        role_arn["SecurityHubSyncFunctionRole"]: {f"dynamodb.{REGION}.amazonaws.com"},
        f"arn:{PARTITION}:iam::{ACCOUNT}:root": {
            f"sqs.{REGION}.amazonaws.com",
            f"dynamodb.{REGION}.amazonaws.com",
        },
    }
    # The condition each service must carry. EventBridge none: the SNS guide ("Key management") does not support
    # source keys in a key policy for EventBridge-to-encrypted topics; its topic statement names the rule.
    # CloudWatch none either: no page says it sends source keys to KMS; its topic statement names the alarms.
    service_conditions = {
        "events.amazonaws.com": {},
        "cloudwatch.amazonaws.com": {},
        f"logs.{REGION}.amazonaws.com": None,
    }
    problems: list[str] = []
    for principal, statement in _key_principals(stack, key):
        if principal in allowed_services:
            via = _via_services(statement)
            if not via or not via <= allowed_services[principal]:
                problems.append(f"{key}: {principal} may use the key through {sorted(via) or 'any service'}")
        elif principal in service_conditions:
            expected = service_conditions[principal]
            if expected is None and not statement.conditions:
                problems.append(f"{key}: {principal} may use the key unconditionally")
            if expected is not None and dict(statement.conditions) != expected:
                problems.append(
                    f"{key}: {principal} is conditioned on {dict(statement.conditions)}, expected {expected}"
                )
        else:
            problems.append(f"{key} lets {principal} encrypt or decrypt")
    return problems


def _log_group(stack: Stack, name: str) -> str | None:
    for logical_id in stack.of_type("AWS::Logs::LogGroup"):
        if stack.properties(logical_id).get("LogGroupName") == name:
            return logical_id
    return None


@check
def logging_and_tracing(stack: Stack) -> list[str]:
    """§9.11/§9.13: every function and state machine logs to a retained, encrypted group and is traced."""
    problems: list[str] = []
    for logical_id in stack.of_type("AWS::Lambda::Function"):
        properties = stack.properties(logical_id)
        name = (
            properties.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{properties['FunctionName']}"
        )
        group = _log_group(stack, name)
        if group is None:
            problems.append(f"{logical_id} logs to {name}, which the stack does not create")
        if properties.get("TracingConfig", {}).get("Mode") != "Active":
            problems.append(f"{logical_id} is not traced")
    for logical_id in stack.of_type("AWS::StepFunctions::StateMachine"):
        properties = stack.properties(logical_id)
        logging = properties.get("LoggingConfiguration", {})
        if logging.get("Level") != "ALL" or logging.get("IncludeExecutionData") is not True:
            problems.append(f"{logical_id} logs at {logging.get('Level')} (expected ALL with execution data)")
        destinations = [
            d.get("CloudWatchLogsLogGroup", {}).get("LogGroupArn") for d in logging.get("Destinations", [])
        ]
        if not destinations or not all(stack.logical_id_of_arn(str(d)) for d in destinations):
            problems.append(f"{logical_id} logs to {destinations}, not to a log group of this stack")
        if properties.get("TracingConfiguration", {}).get("Enabled") is not True:
            problems.append(f"{logical_id} is not traced")
    for logical_id in stack.of_type("AWS::Logs::LogGroup"):
        properties = stack.properties(logical_id)
        if not properties.get("RetentionInDays"):
            problems.append(f"{logical_id} keeps logs forever")
        if not properties.get("KmsKeyId"):
            problems.append(f"{logical_id} is not encrypted with a customer managed key")
    return problems


@check
def standard_state_machine(stack: Stack) -> list[str]:
    """C28: the workflow is STANDARD (EXPRESS has no 90-day execution-name dedup, no redrive, 5-minute limit)."""
    machines = stack.of_type("AWS::StepFunctions::StateMachine")
    return [
        f"{logical_id} is {stack.properties(logical_id).get('StateMachineType', 'unspecified')}, not STANDARD"
        for logical_id in machines
        if stack.properties(logical_id).get("StateMachineType") != "STANDARD"
    ] or ([] if machines else ["no state machine"])


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_LITERAL_ARN = re.compile(r"arn:aws[a-z-]*:(?!states:::)[a-z0-9-]+:")


@check
def workflow_definition_wiring(stack: Stack) -> list[str]:
    """Every ARN and name in the ASL comes from DefinitionSubstitutions; JSONata is the query language."""
    raw = stack.resource("RemediationStateMachine")["Properties"]
    text = (
        str(stack.resolve(raw["DefinitionString"]))
        if "DefinitionString" in raw
        else json.dumps(raw["Definition"])
    )
    substitutions = set(raw.get("DefinitionSubstitutions", {}))
    problems = [
        f"the ASL uses ${{{name}}}, which DefinitionSubstitutions does not define"
        for name in sorted(set(_PLACEHOLDER.findall(text)) - substitutions)
    ]
    problems += [
        f"the ASL names an ARN literally: {match}" for match in sorted(set(_LITERAL_ARN.findall(text)))
    ]
    if json.loads(text).get("QueryLanguage") != "JSONata":
        problems.append("the ASL does not use JSONata")
    return problems


@check
def audit_setup(stack: Stack) -> list[str]:
    """Issue 5.1: the optional account audit configuration is retained and complete; the scheduled audit."""
    problems: list[str] = []
    template = stack.template
    if template["Parameters"]["ManageAccountAuditConfiguration"].get("Default") != "false":
        problems.append("the account-wide audit configuration is managed by default")
    resource = template["Resources"].get("AccountAuditConfiguration")
    if resource is None:
        return [*problems, "no AccountAuditConfiguration"]
    if resource.get("Condition") != "ManageAuditConfiguration":
        problems.append("AccountAuditConfiguration is not optional")
    if resource.get("DeletionPolicy") not in RETAINING_DELETION_POLICIES:
        problems.append(
            f"AccountAuditConfiguration is deleted with the stack ({resource.get('DeletionPolicy')})"
        )
    if "AccountAuditConfiguration" in stack.resources:
        properties = stack.properties("AccountAuditConfiguration")
        checks = properties["AuditCheckConfigurations"]
        if set(checks) != set(API_CHECK_NAMES):
            problems.append(f"checks configured: {sorted(set(checks) ^ set(API_CHECK_NAMES))} differ")
        target = properties.get("AuditNotificationTargetConfigurations", {}).get("Sns", {})
        if target != {
            "TargetArn": stack.ref("AuditEventsTopic"),
            "RoleArn": stack.get_att("AuditNotificationRole", "Arn"),
            "Enabled": True,
        }:
            problems.append(f"audit notifications go to {target}")
        audit_role = stack.role_of(properties["RoleArn"])
        managed = stack.role_managed_policy_arns(audit_role)
        if managed != [f"arn:{PARTITION}:iam::aws:policy/service-role/AWSIoTDeviceDefenderAudit"]:
            problems.append(f"{audit_role} has {managed}")
        if stack.role_statements(audit_role):
            problems.append(f"{audit_role} has inline permissions beyond AWSIoTDeviceDefenderAudit")
    managed = stack.condition("ManageAuditConfiguration")
    wanted = managed and stack.parameters["ScheduledAuditFrequency"] != "NONE"
    if ("ScheduledAudit" in stack.resources) != wanted:
        problems.append(
            f"ScheduledAudit present: {not wanted}, although the stack owns the configuration: {managed}"
        )
    if "ScheduledAudit" in stack.resources:
        scheduled = stack.properties("ScheduledAudit")
        enabled = {api for check, api in API_CHECK_NAMES.items() if stack.parameters.get(check) == "true"}
        if set(scheduled["TargetCheckNames"]) != enabled:
            problems.append(
                f"the scheduled audit runs {sorted(set(scheduled['TargetCheckNames']) ^ enabled)}"
            )
    return problems


RETAINING_DELETION_POLICIES = {"Retain", "RetainExceptOnCreate", "Snapshot"}
RETAINED = {"QuarantineThingGroup", "QuarantinePolicy", "AuditRole", "AccountAuditConfiguration"}


@check
def retained_resources_survive_only_a_successful_create(stack: Stack) -> list[str]:
    """A rolled-back first deploy leaves nothing behind that would block its retry (fixed names, account
    singletons): retained resources use RetainExceptOnCreate (CloudFormation, July 2023), and survive a
    replacement too (UpdateReplacePolicy Retain)."""
    problems: list[str] = []
    retained = set()
    for logical_id, resource in stack.template["Resources"].items():
        deletion = resource.get("DeletionPolicy", "Delete")
        if deletion in RETAINING_DELETION_POLICIES or resource.get("UpdateReplacePolicy") == "Retain":
            retained.add(logical_id)
            if deletion != "RetainExceptOnCreate":
                problems.append(f"{logical_id} has DeletionPolicy {deletion}, expected RetainExceptOnCreate")
            if resource.get("UpdateReplacePolicy") != "Retain":
                problems.append(f"{logical_id} has UpdateReplacePolicy {resource.get('UpdateReplacePolicy')}")
    if retained != RETAINED:
        problems.append(f"retained: {sorted(retained)}, expected {sorted(RETAINED)}")
    return problems


@check
def quarantine_cuts_devices_off(stack: Stack) -> list[str]:
    """Issue 5.1 / C37: the quarantine group carries a deny-all policy, which the workflow attaches before it quarantines."""
    problems: list[str] = []
    group_arn = stack.get_att("QuarantineThingGroup", "Arn")
    policy_name = stack.ref("QuarantinePolicy")
    document = stack.properties("QuarantinePolicy")["PolicyDocument"]
    statements = stack.policy_statements(document)
    if not any(s.effect == "Deny" and s.actions == {"iot:*"} and s.resources == {"*"} for s in statements):
        problems.append("QuarantinePolicy does not deny every IoT action")
    if any(s.is_allow for s in statements):
        problems.append("QuarantinePolicy allows something")
    # CloudFormation cannot attach an IoT policy to a thing group; the workflow attaches it and reads it back
    # before every task that quarantines, so it needs the names of the action, the group and the policy.
    substitutions = stack.resource("RemediationStateMachine")["Properties"].get("DefinitionSubstitutions", {})
    wanted = {
        "QuarantineThingsActionName": stack.ref("QuarantineThingsAction"),
        "QuarantineThingGroupArn": group_arn,
        "QuarantinePolicyName": policy_name,
    }
    problems += [
        f"the workflow is not given {name} = {value}"
        for name, value in wanted.items()
        if stack.resolve(substitutions.get(name)) != value
    ]
    quarantine = stack.properties("QuarantineThingsAction")["ActionParams"]["AddThingsToThingGroupParams"]
    if quarantine["ThingGroupNames"] != [stack.ref("QuarantineThingGroup")]:
        problems.append(f"QuarantineThingsAction moves things to {quarantine['ThingGroupNames']}")
    return problems


def _alarm_metrics(properties: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    metrics = (
        [properties]
        if "MetricName" in properties
        else [item["MetricStat"]["Metric"] for item in properties.get("Metrics", []) if "MetricStat" in item]
    )
    return [
        (
            metric["Namespace"],
            metric["MetricName"],
            {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
        )
        for metric in metrics
    ]


@check
def alarms(stack: Stack) -> list[str]:
    """Issue 5.5: every place a message can stop has an alarm, and every alarm reaches the reports topic."""
    problems: list[str] = []
    watched: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
    for logical_id in stack.of_type("AWS::CloudWatch::Alarm"):
        properties = stack.properties(logical_id)
        if properties.get("AlarmActions") != [stack.ref("RemediationReportsTopic")]:
            problems.append(f"{logical_id} notifies {properties.get('AlarmActions')}")
        if not str(properties.get("AlarmName", "")).startswith(f"{STACK_NAME}-"):
            problems.append(
                f"{logical_id}'s name does not start with the stack name the topic policy expects"
            )
        watched |= {(ns, name, tuple(sorted(dims.items()))) for ns, name, dims in _alarm_metrics(properties)}
    machine = stack.ref("RemediationStateMachine")
    required = [
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", (("QueueName", stack.get_att(queue, "QueueName")),))
        for queue in stack.of_type("AWS::SQS::Queue")
    ]
    required += [
        ("AWS/States", "ExecutionsFailed", (("StateMachineArn", machine),)),
        ("AWS/States", "ExecutionsTimedOut", (("StateMachineArn", machine),)),
        ("IoTAuditRemediator", "RulesInvalid", (("service", "iot-audit-remediator"),)),
        ("IoTAuditRemediator", "QuarantineBlocked", (("stack", STACK_NAME),)),
        ("IoTAuditRemediator", "AuditsReconciled", (("service", "iot-audit-remediator"),)),
        ("IoTAuditRemediator", "ReconcileErrors", (("service", "iot-audit-remediator"),)),
        ("AWS/Lambda", "Errors", (("FunctionName", stack.ref("ReconcileFunction")),)),
    ]
    problems += [
        f"no alarm on {namespace} {name} {dict(dims)}"
        for namespace, name, dims in required
        if (namespace, name, dims) not in watched
    ]
    return problems


@check
def dashboard(stack: Stack) -> list[str]:
    """Issue 5.5: the dashboard shows every service metric with the service dimension."""
    shown: set[str] = set()
    for logical_id in stack.of_type("AWS::CloudWatch::Dashboard"):
        body = json.loads(stack.properties(logical_id)["DashboardBody"])
        for widget in body["widgets"]:
            previous: list[str] = []
            for metric in widget.get("properties", {}).get("metrics", []):
                expression = str(metric[0].get("expression", "")) if isinstance(metric[0], dict) else ""
                # A SEARCH of the service's namespace shows a metric under every value of its other dimensions.
                if expression.startswith("SEARCH('{IoTAuditRemediator,") and (
                    'service="iot-audit-remediator"' in expression
                ):
                    shown.update(re.findall(r'MetricName="(\w+)"', expression))
                    continue
                row = [
                    p if p != "." else (previous[i] if i < len(previous) else p) for i, p in enumerate(metric)
                ]
                previous = row
                if row[0] == "IoTAuditRemediator" and row[2:4] == ["service", "iot-audit-remediator"]:
                    shown.add(row[1])
    return [f"the dashboard does not show {name}" for name in sorted(SERVICE_METRICS - shown)]


@check
def failed_executions_reported(stack: Stack) -> list[str]:
    """C26: FAILED, TIMED_OUT and ABORTED executions reach the reports topic, naming the execution."""
    for logical_id in stack.of_type("AWS::Events::Rule"):
        properties = stack.properties(logical_id)
        pattern = properties.get("EventPattern", {})
        detail = pattern.get("detail", {})
        if pattern.get("source") != ["aws.states"] or detail.get("stateMachineArn") != [
            stack.ref("RemediationStateMachine")
        ]:
            continue
        problems: list[str] = []
        if set(detail.get("status", [])) != {"FAILED", "TIMED_OUT", "ABORTED"}:
            problems.append(f"{logical_id} matches {detail.get('status')}")
        targets = properties.get("Targets", [])
        reports = [t for t in targets if t.get("Arn") == stack.ref("RemediationReportsTopic")]
        if not reports:
            problems.append(f"{logical_id} does not target the reports topic")
        for target in reports:
            paths = target.get("InputTransformer", {}).get("InputPathsMap", {})
            if "$.detail.executionArn" not in paths.values():
                problems.append(f"{logical_id}'s message does not carry the execution ARN")
            if not target.get("DeadLetterConfig", {}).get("Arn"):
                problems.append(f"{logical_id}'s target has no dead-letter queue")
        return problems
    return ["no EventBridge rule reports failed executions of RemediationStateMachine"]


@check
def suppressions_have_reasons(stack: Stack) -> list[str]:
    """Issue 5.3: every cfn-lint or checkov suppression in the template says why."""
    problems: list[str] = []
    for logical_id, resource in stack.written["Resources"].items():
        metadata = resource.get("Metadata", {})
        lint = metadata.get("cfn-lint", {})
        reasons = lint.get("reasons", {})
        for rule in lint.get("config", {}).get("ignore_checks", []):
            if len(str(reasons.get(rule, "")).strip()) < 20:
                problems.append(f"{logical_id} ignores {rule} without a reason")
        for skip in metadata.get("checkov", {}).get("skip", []):
            if len(str(skip.get("comment", "")).strip()) < 20:
                problems.append(f"{logical_id} skips {skip.get('id')} without a reason")
    return problems


@check
def kill_switch(stack: Stack) -> list[str]:
    """A11: one String parameter, released by default, only `released` or `pulled`, named in the outputs and
    given to the function and the workflow; every change of it reaches the reports topic."""
    properties = stack.properties("KillSwitchParameter")
    problems: list[str] = []
    if (properties.get("Type"), properties.get("Value")) != ("String", "released"):
        problems.append(
            f"the kill switch is {properties.get('Type')} {properties.get('Value')!r}, expected String 'released'"
        )
    pattern = re.compile(str(properties.get("AllowedPattern", "")))
    if not all(pattern.fullmatch(value) for value in ("released", "pulled")) or pattern.fullmatch("paused"):
        problems.append(
            f"the kill switch's AllowedPattern {pattern.pattern!r} does not admit exactly released/pulled"
        )
    name = stack.ref("KillSwitchParameter")
    if stack.resolve(stack.template["Outputs"]["KillSwitchParameterName"]["Value"]) != name:
        problems.append("the output KillSwitchParameterName does not name the parameter")
    environment = stack.properties("AuditEventsFunction")["Environment"]["Variables"]
    if stack.resolve(environment.get("KILL_SWITCH_PARAMETER_NAME")) != name:
        problems.append("AuditEventsFunction is not given the kill switch's name")
    substitutions = stack.properties("RemediationStateMachine").get("DefinitionSubstitutions", {})
    if stack.resolve(substitutions.get("KillSwitchParameterName")) != name:
        problems.append("the workflow is not given the kill switch's name")
    rule = stack.properties("KillSwitchChangedRule")
    pattern_document = rule.get("EventPattern", {})
    if (
        pattern_document.get("source") != ["aws.ssm"]
        or pattern_document.get("detail-type") != ["Parameter Store Change"]
        or stack.resolve(pattern_document.get("detail", {}).get("name")) != [name]
    ):
        problems.append(f"KillSwitchChangedRule does not match the parameter's changes: {pattern_document}")
    targets = [t for t in rule.get("Targets", []) if t.get("Arn") == stack.ref("RemediationReportsTopic")]
    if not targets or not all(t.get("DeadLetterConfig", {}).get("Arn") for t in targets):
        problems.append(
            "KillSwitchChangedRule does not publish to the reports topic with a dead-letter queue"
        )
    return problems


@check
def operator_policy_least_privilege(stack: Stack) -> list[str]:
    """§9.6: OperatorPolicy allows exactly what the remediator command line calls, on the stack's own resources,
    and the key only through DynamoDB."""
    statements = stack.policy_statements(stack.properties("OperatorPolicy")["PolicyDocument"])
    machine = stack.ref("RemediationStateMachine")
    machine_name = stack.get_att("RemediationStateMachine", "Name")
    history = stack.get_att("RemediationTable", "Arn")
    switch = f"arn:{PARTITION}:ssm:{REGION}:{ACCOUNT}:parameter/{STACK_NAME}/kill-switch"
    expected = {
        "cloudformation:DescribeStacks": {arn("cloudformation", f"stack/{STACK_NAME}/*")},
        "states:ListExecutions": {machine},
        "states:DescribeExecution": {arn("states", f"execution:{machine_name}:*")},
        "dynamodb:Query": {history, f"{history}/index/PendingApprovals", f"{history}/index/ByResource"},
        "dynamodb:GetItem": {history},
        "dynamodb:UpdateItem": {history},
        # Step Functions authorizes a callback by its task token: the answer names no resource.
        "states:SendTaskSuccess": {"*"},
        "states:SendTaskFailure": {"*"},
        "kms:Decrypt": {stack.get_att("RemediationKey", "Arn")},
        "ssm:GetParameter": {switch},
        "ssm:GetParameterHistory": {switch},
        "ssm:PutParameter": {switch},
        "iot:CreateAuditSuppression": {"*"},
        "iot:DeleteAuditSuppression": {"*"},
        "iot:ListAuditSuppressions": {"*"},
        "lambda:InvokeFunction": {
            stack.get_att("ReconcileFunction", "Arn"),
            stack.get_att("RollbackFunction", "Arn"),
        },
    }
    problems = _compare_grants("OperatorPolicy", grants(statements), expected)
    problems += [
        f"OperatorPolicy may use the key outside DynamoDB: {statement.conditions}"
        for statement in statements
        if "kms:Decrypt" in statement.actions
        and statement.condition_values("kms:ViaService").get("StringEquals")
        != {f"dynamodb.{REGION}.amazonaws.com"}
    ]
    return problems
