"""Reading one SNS delivery: the envelope and its provenance, then the message, decoded once.

Everything that is not a well-formed message from our topic, account and Region is a
RejectedMessageError whose reason says in plain words what is wrong.
"""

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import SnsModel, SnsRecordModel
from pydantic import TypeAdapter, ValidationError

from audit_remediator import plain_errors
from audit_remediator.errors import RejectedMessageError
from audit_remediator.models.notifications import (
    AuditCompletionNotification,
    DetectViolation,
    FindingNotification,
    InboundMessage,
)
from audit_remediator.settings import AuditEventsSettings

# SNS refuses messages over 256 KiB, so anything larger did not come through the topic.
MAX_MESSAGE_BYTES = 256 * 1024
MAX_ERRORS_IN_REASON = 3


def _describe(error: ValidationError) -> str:
    """The problems in plain words: where in the message, and what is wrong (never pydantic's tags)."""
    return plain_errors.describe(error, limit=MAX_ERRORS_IN_REASON)


def _message_error_reason(error: ValidationError) -> RejectedMessageError:
    first = error.errors(include_url=False, include_input=False)[0]
    if first["type"] in {"json_invalid", "string_unicode"}:
        return RejectedMessageError("malformed-json", "the message " + plain_errors.phrase(first))
    # Only the message as a whole (no field of it) being of the wrong shape makes it unrecognised.
    whole_message = len(first["loc"]) <= 1
    if whole_message and first["type"] in {"unrecognised_message", "model_type", "model_attributes_type"}:
        return RejectedMessageError("unrecognised-message", "the message " + plain_errors.phrase(first))
    tag = first["loc"][0] if first["loc"] else None
    if tag == "detect":
        return RejectedMessageError(
            "detect-violation", "Device Defender Detect alarms are not audit findings"
        )
    if tag == "audit":
        return RejectedMessageError("invalid-audit-notification", _describe(error), kind="audit")
    if tag == "finding":
        return RejectedMessageError("invalid-finding-notification", _describe(error), kind="finding")
    return RejectedMessageError("unrecognised-message", _describe(error))


def envelope(event: Any, settings: AuditEventsSettings) -> SnsRecordModel:
    """The single SNS record, once it is shown to come from our topic (security property 4)."""
    if not isinstance(event, dict):
        raise RejectedMessageError(
            "not-an-sns-event", f"the event is {plain_errors.json_kind(event)}, not an object"
        )
    records_in = event.get("Records")
    for number, raw in enumerate(records_in if isinstance(records_in, list) else [], start=1):
        # Powertools' SNS model iterates `Sns` before validating it: null or a number raises TypeError.
        if isinstance(raw, dict) and "Sns" in raw and not isinstance(raw["Sns"], dict):
            raise RejectedMessageError(
                "not-an-sns-event",
                f"Records, item {number}, Sns: should be an object, not {plain_errors.json_kind(raw['Sns'])}",
            )
    try:
        records = parse(event=event, model=SnsModel).Records
    except ValidationError as error:
        raise RejectedMessageError("not-an-sns-event", _describe(error)) from error
    except (TypeError, AttributeError) as error:
        raise RejectedMessageError(
            "not-an-sns-event", "the event is not shaped as SNS delivers one"
        ) from error
    if len(records) != 1:
        raise RejectedMessageError(
            "not-an-sns-event", f"{len(records)} records; SNS delivers one per invocation"
        )
    record = records[0]
    if record.Sns.TopicArn != settings.audit_events_topic_arn:
        raise RejectedMessageError("foreign-topic", f"published to {record.Sns.TopicArn}")
    if not record.EventSubscriptionArn.startswith(settings.audit_events_topic_arn + ":"):
        raise RejectedMessageError("foreign-subscription", f"subscription {record.EventSubscriptionArn}")
    # surrogatepass: a forged event can carry lone surrogates, which plain UTF-8 cannot encode.
    if len(str(record.Sns.Message).encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise RejectedMessageError("message-too-large", f"the message exceeds {MAX_MESSAGE_BYTES} bytes")
    return record


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Reject what a last-key-wins parser would read differently from a first-key-wins one."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice in one object")
        seen.add(key)
    return dict(pairs)


@cache
def _inbound_messages() -> TypeAdapter[Any]:
    # The decoded message, validated as Python data: Powertools' parser would read a str as JSON again.
    return TypeAdapter(InboundMessage)


def parse_message(text: str) -> AuditCompletionNotification | FindingNotification:
    """The SNS message, decoded once and validated; anything else is a RejectedMessageError."""
    try:
        text.encode("utf-8")
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except RecursionError as error:
        raise RejectedMessageError("malformed-json", "nested too deeply") from error
    except UnicodeError as error:
        raise RejectedMessageError("malformed-json", f"not valid Unicode text: {error}") from error
    except ValueError as error:
        raise RejectedMessageError("malformed-json", str(error)) from error
    try:
        message = _inbound_messages().validate_python(data)
    except ValidationError as error:
        raise _message_error_reason(error) from error
    except RecursionError as error:
        raise RejectedMessageError("malformed-json", "nested too deeply") from error
    if isinstance(message, DetectViolation):
        raise RejectedMessageError("detect-violation", "Device Defender Detect alarms are not audit findings")
    if not isinstance(message, AuditCompletionNotification | FindingNotification):
        raise RejectedMessageError("unrecognised-message", "not an audit-completion or per-finding message")
    return message


def check_origin(
    message: AuditCompletionNotification | FindingNotification, settings: AuditEventsSettings
) -> None:
    if isinstance(message, AuditCompletionNotification):
        if message.account_id != settings.account_id:
            raise RejectedMessageError(
                "foreign-account", f"audit of account {message.account_id}", kind="audit"
            )
        return
    if message.non_compliant_resource is None:
        return
    identifier = message.non_compliant_resource.resource_identifier
    if identifier.account is not None and identifier.account != settings.account_id:
        raise RejectedMessageError(
            "foreign-account", f"finding about account {identifier.account}", kind="finding"
        )
    for arn in (identifier.device_certificate_arn, identifier.role_alias_arn):
        parts = arn.split(":") if arn else []
        if len(parts) >= 5 and parts[3] != settings.region:
            raise RejectedMessageError(
                "foreign-region", f"finding about a resource in {parts[3]}", kind="finding"
            )
        if len(parts) >= 5 and parts[4] != settings.account_id:
            raise RejectedMessageError("foreign-account", f"finding about account {parts[4]}", kind="finding")
