"""Fixtures of the unit suite."""

from collections.abc import Iterator

import pytest
from moto import mock_aws


@pytest.fixture(scope="module")
def offline_aws() -> Iterator[None]:
    """moto's in-memory AWS for a module whose fakes keep Powertools' idempotency records in DynamoDB
    (module-wide, so property tests may build fakes in every example)."""
    with mock_aws():
        yield
