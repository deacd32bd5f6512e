"""Creates a SAM template's resources in the sandbox, the way CloudFormation would.

`deployment` runs one stack: `sandbox.cloudformation` translates and resolves the template, and the
handlers in `resources` (one module per service, the `RESOURCE_HANDLERS` table) create each resource.
A resource type without a handler is an error naming the type. `existing` refuses a name the template fixes
when the account has it (AlreadyExists); `teardown` rolls a failed create back and deletes a stack, honouring
DeletionPolicy, through each type's delete handler (`RESOURCE_DELETERS`).
"""

from sandbox.cloudformation.errors import DeployError
from sandbox.cloudformation.stack import Stack
from sandbox.deployer.deployment import Deployment
from sandbox.deployer.errors import PhysicalNameTooLongError, UnsupportedResourceTypeError
from sandbox.deployer.resources import supported_resource_types

__all__ = [
    "DeployError",
    "Deployment",
    "PhysicalNameTooLongError",
    "Stack",
    "UnsupportedResourceTypeError",
    "supported_resource_types",
]
