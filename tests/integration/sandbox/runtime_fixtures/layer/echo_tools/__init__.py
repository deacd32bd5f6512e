"""The echo function's layer: settings cached at module level, as real layers do."""

import os
from functools import cache


class EchoError(Exception):
    """Raised when an event asks the function to fail."""


@cache
def settings() -> dict[str, str]:
    return {"mode": os.environ["MODE"], "topicArn": os.environ["TOPIC_ARN"]}
