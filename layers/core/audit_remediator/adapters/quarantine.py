"""The quarantine queue: a copy of every rejected message, kept for a person to look at."""

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from audit_remediator.errors import AwsCallError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# SQS takes 256 KiB per message; the envelope around the event needs a little room.
MAX_EVENT_CHARS = 240 * 1024


class QuarantineQueue:
    def __init__(self, client: "SQSClient", queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def keep(self, event: Any, reason: str, message_id: str | None) -> None:
        try:
            body = json.dumps(event, separators=(",", ":"), default=str)
        except (TypeError, ValueError, RecursionError):
            body = repr(event)
        document: dict[str, Any] = {
            "reason": reason,
            "snsMessageId": message_id,
            "receivedAt": int(time.time()),
            "eventSha256": hashlib.sha256(body.encode(errors="replace")).hexdigest(),
            "eventChars": len(body),
        }
        if len(body) > MAX_EVENT_CHARS:
            document["truncated"] = True
            body = body[:MAX_EVENT_CHARS]
        document["event"] = body
        try:
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(document))
        except (ClientError, BotoCoreError) as error:
            raise AwsCallError(f"quarantining a rejected message failed: {error}") from error
