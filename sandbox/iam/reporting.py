"""What IAM refused, in one line an operator can act on: which role (by the stack's logical id when
it is one of the stack's), which action on which resource, and IAM's reason."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sandbox.iam.enforcement import Denial


def _who(caller: str, logical_ids: Mapping[str, str]) -> str:
    if ":assumed-role/" in caller:
        role_name = caller.split(":assumed-role/", 1)[1].split("/", 1)[0]
        for physical, logical in logical_ids.items():
            if physical.endswith(f":role/{role_name}") or physical == role_name:
                return logical
        return f"role {role_name}"
    return caller


def denial_line(denial: Denial, logical_ids: Mapping[str, str] | None = None) -> str:
    who = _who(denial.caller, logical_ids or {})
    return f"{who} was denied {denial.action} on {denial.resource} ({denial.code}: {denial.reason})"


def denial_lines(denials: Iterable[Denial], physical_ids: Mapping[str, str] | None = None) -> list[str]:
    """One line per distinct refusal, in the order they happened."""
    logical_ids = {physical: logical for logical, physical in (physical_ids or {}).items()}
    lines: list[str] = []
    for denial in denials:
        line = denial_line(denial, logical_ids)
        if line not in lines:
            lines.append(line)
    return lines
