"""The readings of SetV2LoggingOptions the emulator can play where the API reference is silent (see
sandbox.device_defender.logging_options)."""

import enum


class RoleOmitted(enum.Enum):
    """What SetV2LoggingOptions does with a request that names no role."""

    # The request replaces the options whole: the stored role is gone.
    REPLACES = "replaces"
    # Members the request leaves out keep their stored values, the role among them.
    KEEPS = "keeps"
    # The role is required after all: the request is refused.
    REFUSED = "refused"
