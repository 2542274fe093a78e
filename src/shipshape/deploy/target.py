"""Deploy targets: validation of deploy configurations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

__all__ = ["DEPLOY_CONFIG_CODES", "ValidationResult", "validate_deploy_config"]

REQUIRED_FIELDS = ("region", "instance_type", "min_instances")

DEPLOY_CONFIG_CODES: dict[str, str] = {
    "missing_region": "`region` is required",
    "missing_instance_type": "`instance_type` is required",
    "missing_min_instances": "`min_instances` is required",
    "region_must_be_string": "`region` must be a string",
    "instance_type_must_be_string": "`instance_type` must be a string",
    "min_instances_must_be_positive_integer": "`min_instances` must be an integer >= 1",
}


class ValidationResult(TypedDict):
    valid: bool
    errors: list[str]


def is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def deploy_config_errors(config: Mapping[str, Any]) -> list[str]:
    """The seed codes, in their documented order: missing fields first, then types."""
    if not isinstance(config, Mapping):
        raise TypeError(f"deploy config must be a mapping, not {type(config).__name__}")
    errors = [f"missing_{name}" for name in REQUIRED_FIELDS if name not in config]
    if "region" in config and not isinstance(config["region"], str):
        errors.append("region_must_be_string")
    if "instance_type" in config and not isinstance(config["instance_type"], str):
        errors.append("instance_type_must_be_string")
    if "min_instances" in config and not is_positive_int(config["min_instances"]):
        errors.append("min_instances_must_be_positive_integer")
    return errors


def validate_deploy_config(config: Mapping[str, Any]) -> ValidationResult:
    """Check ``region`` (str), ``instance_type`` (str) and ``min_instances`` (int >= 1).

    Extra keys are allowed; ``bool`` is not an integer here. Raises ``TypeError`` for a
    non-mapping.
    """
    errors = deploy_config_errors(config)
    return {"valid": not errors, "errors": errors}
