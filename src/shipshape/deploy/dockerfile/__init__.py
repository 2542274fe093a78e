"""Dockerfiles: a Python-aware linter (``SS-DF…`` rules), the seed check and a generator.

    from shipshape.deploy.dockerfile import lint_path, lint_dockerfile, rule_table

    findings = lint_path("Dockerfile")           # settings from [tool.shipshape.dockerfile]
    findings = lint_dockerfile(text, "Dockerfile")  # pure: no file system

The seed :func:`validate_dockerfile` runs rules SS-DF001 to SS-DF005 of the same engine.
"""

from __future__ import annotations

from shipshape.deploy.dockerfile.lint import (
    DockerfileResult,
    LintError,
    LintSettings,
    lint_dockerfile,
    lint_path,
    load_settings,
    rule_table,
    validate_dockerfile,
)
from shipshape.deploy.dockerfile.parse import (
    DockerfileSyntaxError,
    Instruction,
    ParsedDockerfile,
    Stage,
    parse_dockerfile,
)
from shipshape.deploy.dockerfile.rules import RULES, SEED_CODES, is_slim_image

SEED_DOCKERFILE_CODES: dict[str, str] = {
    "missing_from": "no FROM instruction",
    "base_image_not_slim": "final base image is not slim, alpine or distroless",
    "missing_workdir": "final stage sets no WORKDIR",
    "missing_expose": "final stage EXPOSEs no port",
    "missing_cmd": "final stage has neither CMD nor ENTRYPOINT",
}

__all__ = [
    "RULES",
    "SEED_CODES",
    "SEED_DOCKERFILE_CODES",
    "DockerfileResult",
    "DockerfileSyntaxError",
    "Instruction",
    "LintError",
    "LintSettings",
    "ParsedDockerfile",
    "Stage",
    "is_slim_image",
    "lint_dockerfile",
    "lint_path",
    "load_settings",
    "parse_dockerfile",
    "rule_table",
    "validate_dockerfile",
]
