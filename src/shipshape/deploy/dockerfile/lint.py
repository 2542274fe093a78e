"""The rule engine: run the rules, honour inline and pyproject ignores, and the seed check."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, TypedDict

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from shipshape.deploy.dockerfile.parse import (
    DockerfileSyntaxError,
    ParsedDockerfile,
    check_syntax,
    parse_dockerfile,
)
from shipshape.deploy.dockerfile.rules import RULES, RULES_BY_ID, SEED_CODES, LintContext
from shipshape.deploy.project import ProjectError, find_pyproject, load_section
from shipshape.findings import Finding, Rule, Severity

__all__ = [
    "DockerfileResult",
    "LintError",
    "LintSettings",
    "lint_dockerfile",
    "lint_path",
    "load_settings",
    "rule_table",
    "run_rules",
    "validate_dockerfile",
]

_IGNORE = re.compile(r"shipshape:\s*ignore(-file)?\s*=\s*([A-Za-z0-9_,\s-]+)")
_RULE_ID = re.compile(r"SS-[A-Z]+\d+", re.I)


class DockerfileResult(TypedDict):
    valid: bool
    errors: list[str]


class LintError(ValueError):
    """A file that cannot be linted; ``str()`` is ``file:line: what is wrong``."""

    def __init__(self, file: str, message: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.message = message
        super().__init__(f"{file}:{line}: {message}" if line is not None else f"{file}: {message}")


def _severity(value: object) -> object:
    return Severity.parse(value) if isinstance(value, str) else value


SeverityName = Annotated[Severity, BeforeValidator(_severity)]


class LintSettings(BaseModel):
    """``[tool.shipshape.dockerfile]``: rules to skip, severities to change, the fail level."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    ignore: frozenset[str] = frozenset()
    fail_level: SeverityName = Field(default=Severity.info, alias="fail-level")
    severity: dict[str, SeverityName] = Field(default_factory=dict)

    @field_validator("ignore", mode="before")
    @classmethod
    def _known_ids(cls, value: object) -> object:
        if isinstance(value, list | tuple | set | frozenset):
            unknown = sorted(str(v) for v in value if str(v).upper() not in RULES_BY_ID)
            if unknown:
                raise ValueError(f"unknown rule id(s) {', '.join(unknown)}")
            return frozenset(str(v).upper() for v in value)
        return value

    @field_validator("severity", mode="before")
    @classmethod
    def _known_severity_ids(cls, value: object) -> object:
        if isinstance(value, dict):
            unknown = sorted(str(k) for k in value if str(k).upper() not in RULES_BY_ID)
            if unknown:
                raise ValueError(f"unknown rule id(s) {', '.join(unknown)}")
            return {str(k).upper(): v for k, v in value.items()}
        return value


def load_settings(pyproject: Path) -> LintSettings:
    """``[tool.shipshape.dockerfile]`` of ``pyproject``; raises :class:`ProjectError` if bad."""
    return load_section(pyproject, LintSettings, "dockerfile")


def rule_table() -> list[Rule]:
    """Every Dockerfile rule, in id order: id, name, severity, why, fix."""
    return [rule.rule for rule in RULES]


def run_rules(
    context: LintContext, ids: Iterable[str] | None = None
) -> list[tuple[str, int | None, str]]:
    """``(rule id, line, message)`` from each rule in ``ids`` (default: all), in id order."""
    wanted = set(ids) if ids is not None else None
    found: list[tuple[str, int | None, str]] = []
    for rule in RULES:
        if wanted is None or rule.rule.id in wanted:
            found.extend((rule.rule.id, line, message) for line, message in rule.check(context))
    return found


def _ids(text: str) -> set[str]:
    return {match.upper() for match in _RULE_ID.findall(text)}


def _inline_ignores(parsed: ParsedDockerfile) -> tuple[dict[int, set[str]], set[str]]:
    """Ids ignored per instruction line, and ids ignored for the whole file."""
    comment_at = {c.line: c.value for c in parsed.comments}
    whole_file: set[str] = set()
    for comment in parsed.comments:
        match = _IGNORE.search(comment.value)
        if match and match.group(1):
            whole_file |= _ids(match.group(2))
    per_line: dict[int, set[str]] = {}
    instructions = [*parsed.preamble, *(i for s in parsed.stages for i in s.instructions)]
    stage_lines = [(s.line, s.line) for s in parsed.stages]
    spans = [(i.line, i.end_line) for i in instructions] + stage_lines
    for start, end in spans:
        texts = [comment_at[n] for n in range(start, end + 1) if n in comment_at]
        texts.append(parsed.lines[start - 1] if start - 1 < len(parsed.lines) else "")
        above = start - 1
        while above in comment_at:
            texts.append(comment_at[above])
            above -= 1
        ids: set[str] = set()
        for text in texts:
            match = _IGNORE.search(text)
            if match and not match.group(1):
                ids |= _ids(match.group(2))
        if ids:
            per_line[start] = ids
    return per_line, whole_file


def lint_dockerfile(
    text: str,
    path: str = "Dockerfile",
    settings: LintSettings | None = None,
    *,
    context_dir: Path | None = None,
) -> list[Finding]:
    """Lint Dockerfile ``text``; findings name ``path``; :class:`LintError` if not a Dockerfile.

    ``context_dir`` is the build context: with it, ``.dockerignore``, requirement
    files and lock files are checked too.
    """
    settings = settings or LintSettings()
    parsed = parse_dockerfile(text)
    try:
        check_syntax(parsed)
    except DockerfileSyntaxError as error:
        raise LintError(path, error.message, error.line) from None
    context = LintContext(parsed, context_dir, Path(path))
    per_line, whole_file = _inline_ignores(parsed)
    skipped = settings.ignore | whole_file
    findings: list[Finding] = []
    seen: set[tuple[str, int | None, str]] = set()
    for rule_id, line, message in run_rules(context, [r.rule.id for r in RULES]):
        if rule_id in skipped or (line is not None and rule_id in per_line.get(line, ())):
            continue
        if (rule_id, line, message) in seen:
            continue
        seen.add((rule_id, line, message))
        rule = RULES_BY_ID[rule_id].rule
        findings.append(
            Finding(
                code=rule_id,
                severity=settings.severity.get(rule_id, rule.severity),
                message=message,
                file=path,
                line=line,
                fix=rule.fix,
            )
        )
    return findings


def _read(path: Path) -> str:
    name = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LintError(name, "no such file") from None
    except IsADirectoryError:
        raise LintError(name, "is a directory, expected a Dockerfile") from None
    except PermissionError:
        raise LintError(name, "permission denied") from None
    except OSError as error:
        raise LintError(name, error.strerror or str(error)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise LintError(name, f"not UTF-8 text ({error.reason}): not a Dockerfile?", line) from None


def lint_path(
    path: str | Path, settings: LintSettings | None = None, *, context_dir: Path | None = None
) -> list[Finding]:
    """Lint the Dockerfile at ``path`` (a folder means its ``Dockerfile``).

    Settings default to ``[tool.shipshape.dockerfile]`` of the nearest pyproject.toml;
    the build context defaults to the Dockerfile's folder.
    """
    file = Path(path)
    if file.is_dir():
        file = file / "Dockerfile"
    text = _read(file)
    if context_dir is not None and not context_dir.is_dir():
        raise LintError(str(context_dir), "build context is not a directory")
    if settings is None:
        pyproject = find_pyproject(file.parent)
        try:
            settings = load_settings(pyproject) if pyproject else LintSettings()
        except ProjectError as error:
            raise LintError(error.file, error.message, error.line) from None
    return lint_dockerfile(text, str(file), settings, context_dir=context_dir or file.parent)


def validate_dockerfile(text: str) -> DockerfileResult:
    """Check a Dockerfile's final stage for a slim base, WORKDIR, EXPOSE and CMD/ENTRYPOINT.

    Instructions are case-insensitive, comments and blank lines are ignored and
    ``\\`` continuations are joined. Codes, in this order: ``missing_from``,
    ``base_image_not_slim``, ``missing_workdir``, ``missing_expose``, ``missing_cmd``.
    Runs the linter's rules SS-DF001 to SS-DF005 on the same parse.
    """
    if not isinstance(text, str):
        raise TypeError(f"Dockerfile text must be a str, not {type(text).__name__}")
    found = run_rules(LintContext(parse_dockerfile(text)), SEED_CODES)
    errors = [SEED_CODES[rule_id] for rule_id, _, _ in found]
    return {"valid": not errors, "errors": errors}
