"""Schema migrations computed from model snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

__all__ = ["ChangedField", "FieldType", "MigrationSteps", "compute_migration"]


class FieldType(TypedDict):
    field: str
    type: Any


class ChangedField(TypedDict):
    field: str
    old_type: Any
    new_type: Any


class MigrationSteps(TypedDict):
    added: list[FieldType]
    removed: list[FieldType]
    changed: list[ChangedField]


def compute_migration(
    old_schema: Mapping[str, Any], new_schema: Mapping[str, Any]
) -> MigrationSteps:
    """Diff two ``{field: type}`` snapshots into added, removed and changed fields.

    Each list is sorted by field name; a field is *changed* when it is in both
    snapshots with types that compare unequal.
    """
    if not isinstance(old_schema, Mapping) or not isinstance(new_schema, Mapping):
        raise TypeError("compute_migration expects two mappings of field name to type")
    added: list[FieldType] = [
        {"field": name, "type": new_schema[name]}
        for name in sorted(new_schema)
        if name not in old_schema
    ]
    removed: list[FieldType] = [
        {"field": name, "type": old_schema[name]}
        for name in sorted(old_schema)
        if name not in new_schema
    ]
    changed: list[ChangedField] = [
        {"field": name, "old_type": old_schema[name], "new_type": new_schema[name]}
        for name in sorted(new_schema)
        if name in old_schema and old_schema[name] != new_schema[name]
    ]
    return {"added": added, "removed": removed, "changed": changed}
