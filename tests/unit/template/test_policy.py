"""template.yaml holds every security and operability property, with default and with all optional parameters."""

import pytest

from tests.unit.template import approval_policy, quarantine_policy  # noqa: F401  (register their checks)
from tests.unit.template.policy import CHECKS
from tests.unit.template.stack import Stack


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_the_template_holds(name: str, stack: Stack) -> None:
    # Given the template after the Serverless transform, When the property is checked
    violations = CHECKS[name](stack)
    # Then nothing violates it
    assert violations == []
