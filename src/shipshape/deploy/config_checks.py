"""Production-readiness findings about configuration layers (``SS-CFG…``).

Debug on in production, secrets written in plain config files, and secrets that keep a
default or placeholder value in production. Production is resolved from the files alone
(no process environment, no ``.env``, no secrets directory): the report describes the
project, not the machine it runs on, and a key that only the deploy environment supplies
is not a finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shipshape.deploy.config import CONFIG_SUFFIXES, read_document
from shipshape.deploy.settings_layers import (
    ResolvedSettings,
    SettingsEntry,
    SettingsError,
    resolve_settings,
)
from shipshape.deploy.settings_schema import SECRET_KEY, URL_PASSWORD, secret_paths
from shipshape.findings import Finding, Rule, Severity

__all__ = ["CONFIG_RULES", "PLACEHOLDER_SECRETS", "PRODUCTION_ENVS", "config_findings"]

PRODUCTION_ENVS = ("prod", "production")

PLACEHOLDER_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "password",
        "default",
        "insecure",
        "example",
        "test",
        "dev",
        "admin",
        "todo",
        "xxx",
        "12345",
        "123456",
    }
)

_E, _W = Severity.error, Severity.warning
CONFIG_RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule(
            "SS-CFG001",
            "debug_in_production",
            _E,
            "debug is on in a production environment: tracebacks and internals leak",
            "set debug: false in config/<prod>.* (or leave it to the model default)",
        ),
        Rule(
            "SS-CFG002",
            "debug_logging_in_production",
            _W,
            "production logs at DEBUG level: noisy, slow, and may log secrets",
            "log at info or warning in production",
        ),
        Rule(
            "SS-CFG003",
            "secret_in_config_file",
            _E,
            "a secret is written in a plain config file, so it lands in git and images",
            "supply it from the environment or the secrets directory; remove it from the file",
        ),
        Rule(
            "SS-CFG004",
            "default_secret_in_production",
            _E,
            "production runs with the model's default or a placeholder secret",
            "set a real secret for production via the secrets directory or environment",
        ),
    )
}


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return value is True


def _finding(name: str, message: str, file: str, line: int | None) -> Finding:
    rule = CONFIG_RULES[name]
    return Finding(rule.id, rule.severity, f"{message} ({name})", file, line, rule.fix)


def _secret_file_findings(
    files: Sequence[Path], prod_envs: Sequence[str], model: type[BaseModel] | None
) -> list[Finding]:
    model_secrets = secret_paths(model) if model is not None else set()
    findings = []
    for file in files:
        document = read_document(file)
        if not isinstance(document.data, dict):
            continue
        severity_note = file.stem in {"base", *prod_envs}
        stack: list[tuple[tuple[str, ...], Any]] = [((), document.data)]
        while stack:
            path, value = stack.pop()
            if isinstance(value, dict):
                stack.extend(((*path, str(key)), item) for key, item in value.items())
                continue
            secret = path in model_secrets or any(SECRET_KEY.search(part) for part in path)
            in_url = not secret and _holds_url_password(value)
            if (secret and isinstance(value, str) and value.strip()) or in_url:
                finding = _finding(
                    "secret_in_config_file",
                    f"{'.'.join(path)} holds a literal secret"
                    + (" (the password of a URL)" if in_url else ""),
                    str(file),
                    document.lines.get(path),
                )
                if not severity_note:
                    finding = Finding(
                        finding.code,
                        Severity.info,
                        finding.message + f" in the {file.stem} environment",
                        finding.file,
                        finding.line,
                        finding.fix,
                    )
                findings.append(finding)
    return sorted(findings, key=lambda f: (f.file, f.line or 0))


def _holds_url_password(value: Any) -> bool:
    """A ``scheme://user:password@host`` in a string, or in a list of strings."""
    if isinstance(value, str):
        return URL_PASSWORD.search(value) is not None
    if isinstance(value, list | tuple):
        return any(isinstance(item, str) and URL_PASSWORD.search(item) for item in value)
    return False


def _resolve_production(
    model: type[BaseModel] | None, env: str, root: Path, config_dir: str
) -> ResolvedSettings[Any]:
    """Production from its files; only keys that no file sets may be missing."""
    options: dict[str, Any] = {
        "root": root,
        "config_dir": config_dir,
        "dotenv": None,
        "environ": {},
        "secrets_dir": None,
    }
    try:
        return resolve_settings(model, env, **options)
    except SettingsError as error:
        if model is None or any(p.kind != "missing" for p in error.problems):
            raise
    return resolve_settings(model, env, validate=False, **options)


def _entry_where(entry: SettingsEntry, fallback: str) -> tuple[str, int | None]:
    origin = entry.origin
    if origin.source is None or origin.source.startswith("$"):
        return fallback, None
    return origin.source, origin.line


def _production_findings(resolved: ResolvedSettings[Any], fallback: str) -> list[Finding]:
    findings = []
    for entry in resolved.entries():
        last = entry.key.rsplit(".", 1)[-1].lower()
        file, line = _entry_where(entry, fallback)
        where = f"[{resolved.env}] {entry.key}"
        if last == "debug" and _truthy(entry.value):
            findings.append(_finding("debug_in_production", f"{where} is on", file, line))
        if (
            last in {"log_level", "loglevel", "level"}
            and isinstance(entry.value, str)
            and entry.value.strip().lower() == "debug"
        ):
            findings.append(
                _finding("debug_logging_in_production", f"{where} is debug", file, line)
            )
        if not entry.secret or not isinstance(entry.value, str) or not entry.value:
            continue
        if entry.value.strip().lower() in PLACEHOLDER_SECRETS:
            message = f"{where} is the placeholder {entry.value.strip()!r}"
            findings.append(_finding("default_secret_in_production", message, file, line))
        elif entry.origin.layer == "defaults":
            message = f"{where} keeps the model's default value"
            findings.append(_finding("default_secret_in_production", message, file, line))
    return findings


def config_findings(
    root: str | Path,
    *,
    model: type[BaseModel] | None = None,
    config_dir: str = "config",
    prod_envs: Sequence[str] = PRODUCTION_ENVS,
) -> tuple[list[Finding], list[str]]:
    """Findings about ``root/config_dir`` and the files that were read.

    Raises ``SettingsError`` or ``ConfigFileError`` (both ``ValueError``) on unreadable or
    invalid layers, naming the file, line and key.
    """
    base = Path(root)
    directory = base / config_dir
    if not directory.is_dir():
        return [], []
    config_files = sorted(
        file for file in directory.iterdir() if file.suffix in CONFIG_SUFFIXES and file.is_file()
    )
    findings = _secret_file_findings(config_files, prod_envs, model)
    present = {file.stem for file in config_files}
    envs = [env for env in prod_envs if env in present] or [prod_envs[0]]
    files = [str(file) for file in config_files]
    for env in envs:
        resolved = _resolve_production(model, env, base, config_dir)
        files += [file for file in resolved.files if file not in files]
        findings += _production_findings(resolved, str(directory))
    return findings, files
