"""Findings: what every checker reports, with a stable code and a severity."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = ["Finding", "Severity"]


class Severity(IntEnum):
    """Ordered so that ``--fail-level`` compares with ``>=``."""

    info = 1
    warning = 2
    error = 3

    @classmethod
    def parse(cls, name: str) -> Severity:
        try:
            return cls[name.lower()]
        except KeyError:
            choices = ", ".join(member.name for member in cls)
            raise ValueError(f"unknown severity {name!r}; expected one of {choices}") from None


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in one file: ``code`` is stable and documented once."""

    code: str
    severity: Severity
    message: str
    file: str
    line: int | None = None
    fix: str | None = None
