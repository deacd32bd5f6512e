"""The readings of SetV2LoggingOptions the emulator can play where AWS is silent (see
sandbox.device_defender.logging_options)."""

import enum


class RoleOmitted(enum.Enum):
    """What SetV2LoggingOptions does to the stored role when a request names none."""

    # The request replaces the options whole: the stored role is gone.
    REPLACES = "replaces"
    # Members the request leaves out keep their stored values, the role among them.
    KEEPS = "keeps"
