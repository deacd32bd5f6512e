"""Setting attributes of moto's (or any) modules and classes, and putting them back exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

_MISSING: Final = object()


@dataclass
class Patch:
    owner: Any
    name: str
    original: Any

    def restore(self) -> None:
        if self.original is _MISSING:
            delattr(self.owner, self.name)
        else:
            setattr(self.owner, self.name, self.original)


def patch_attribute(patches: list[Patch], owner: Any, name: str, value: Any) -> None:
    """Sets owner.name, remembering what to put back (class attributes from the class's own dict)."""
    original = owner.__dict__.get(name, _MISSING) if isinstance(owner, type) else getattr(owner, name)
    patches.append(Patch(owner, name, original))
    setattr(owner, name, value)
