"""Deploy targets: the seed deploy-config check, the typed ``DeploySpec`` and its findings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, TypedDict

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shipshape.deploy.config import ConfigFileError, Document, merge_config
from shipshape.deploy.settings_schema import SECRET_KEY, URL_PASSWORD
from shipshape.findings import Finding, Rule, Severity

__all__ = [
    "DEPLOY_CONFIG_CODES",
    "DEPLOY_RULES",
    "DeployEnvironment",
    "DeployProblem",
    "DeploySpec",
    "MigrationSpec",
    "Probe",
    "Probes",
    "SecretRef",
    "ValidationResult",
    "deploy_environments",
    "deploy_findings",
    "port_problems",
    "spec_problems",
    "validate_deploy_config",
]

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


Name = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
# The service's name also names its Service, which must be a DNS-1035 label (a letter first)
ServiceName = Annotated[str, Field(pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")]
# Secrets are named by DNS-1123 subdomains: labels joined by dots, at most 253 characters
SecretName = Annotated[
    str,
    Field(
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    ),
]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
# Replicas, probe settings, backoff limits and deadlines are int32 fields in Kubernetes.
# Every whole number is strict, as min_instances is: true, 8000.0 or "8000" is refused
INT32_MAX = 2**31 - 1
Seconds = Annotated[int, Field(strict=True, ge=0, le=INT32_MAX)]
PositiveSeconds = Annotated[int, Field(strict=True, ge=1, le=INT32_MAX)]
Replicas = Annotated[int, Field(strict=True, ge=1, le=INT32_MAX)]
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _label_value(value: str) -> str:
    """A non-empty Kubernetes label value, as a node selector needs one."""
    if not value.strip():
        raise PydanticCustomError("label_value", "must not be empty (it selects the nodes)")
    if len(value) > 63 or not LABEL_VALUE.match(value):
        raise PydanticCustomError(
            "label_value",
            "{value} is not a Kubernetes label value (it selects the nodes): at most 63 "
            "letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
            {"value": repr(value)},
        )
    return value


def _quantity(value: Any) -> Any:
    """A YAML/TOML/JSON number (``cpu: 0.5``, ``memory: 134217728``) as a quantity string."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, int):
        return str(value)
    return format(Decimal(repr(value)).normalize(), "f")


# Label values in a node selector; quantities as Kubernetes writes them ("500m", "0.5", "512Mi")
LabelValue = Annotated[str, AfterValidator(_label_value)]
# apimachinery's quantity grammar, without a minus sign (requests and limits are never
# negative): a number (``1``, ``0.5``, ``1.``, ``.5``) then a binary suffix, a decimal
# suffix (lowercase ``k``; ``m`` is milli) or an exponent (``1e3``, ``5E-1``)
QUANTITY_PATTERN = (
    r"^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
    r"([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)
Cpu = Annotated[str, BeforeValidator(_quantity), Field(pattern=QUANTITY_PATTERN)]
Memory = Annotated[str, BeforeValidator(_quantity), Field(pattern=QUANTITY_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Probe(_Strict):
    """One HTTP probe; its failure window is ``initial_delay + period * failure_threshold``."""

    path: Annotated[str, Field(pattern=r"^/")]
    period_seconds: PositiveSeconds = 10
    timeout_seconds: PositiveSeconds = 2
    failure_threshold: PositiveSeconds = 3
    initial_delay_seconds: Seconds = 0

    @property
    def window_seconds(self) -> int:
        return self.initial_delay_seconds + self.period_seconds * self.failure_threshold


class Probes(_Strict):
    """The three probes; a probe given in part keeps its own defaults for the rest."""

    liveness: Probe = Probe(path="/livez", period_seconds=10, failure_threshold=3)
    readiness: Probe = Probe(path="/readyz", period_seconds=5, failure_threshold=2)
    startup: Probe = Probe(path="/livez", period_seconds=5, failure_threshold=24)

    @model_validator(mode="before")
    @classmethod
    def _defaults_under_each_probe(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        merged = dict(data)
        for kind, given in data.items():
            field = cls.model_fields.get(str(kind))
            if field is not None and isinstance(given, Mapping):
                merged[kind] = {**field.get_default().model_dump(), **given}
        return merged


class SecretRef(_Strict):
    """An environment variable read from key ``key`` of the Kubernetes Secret ``secret``."""

    secret: SecretName
    key: Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]+$")]


class MigrationSpec(_Strict):
    """The Job that applies migrations before the new pods start serving."""

    enabled: bool = True
    command: list[str] = ["shipshape", "migrate", "apply"]
    timeout_seconds: PositiveSeconds = 600
    backoff_limit: Seconds = 2
    wait_image: str = "registry.k8s.io/kubectl:v1.31.0"

    @field_validator("command")
    @classmethod
    def _names_a_command(cls, command: list[str]) -> list[str]:
        if not command or not command[0].strip():
            raise PydanticCustomError(
                "empty_command",
                "must name the program to run first (an empty command runs the image's "
                "default command instead of the migrations)",
            )
        return command


class DeploySpec(BaseModel):
    """A typed deploy specification: one environment of one service."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ServiceName = "app"
    namespace: Name = "default"
    region: LabelValue
    instance_type: LabelValue
    min_instances: Replicas
    max_instances: Replicas | None = None
    cpu: Cpu = "500m"
    memory: Memory = "512Mi"
    image: str | None = None
    port: Annotated[int, Field(strict=True, ge=1, le=65535)] = 8000
    env: dict[EnvName, str] = {}
    secrets: dict[EnvName, SecretRef] = {}
    boot_seconds: Seconds = 10
    target_cpu_percent: Annotated[int, Field(strict=True, ge=1, le=100)] = 70
    probes: Probes = Probes()
    migrate: MigrationSpec = MigrationSpec()

    @model_validator(mode="before")
    @classmethod
    def _max_defaults_to_min(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("max_instances") is None:
            return {**data, "max_instances": data.get("min_instances")}
        return data

    @field_validator("image", mode="before")
    @classmethod
    def _blank_image_is_no_image(cls, image: Any) -> Any:
        return None if isinstance(image, str) and not image.strip() else image

    @property
    def replicas_max(self) -> int:
        return self.max_instances if self.max_instances is not None else self.min_instances


DEPLOY_CONFIG_CODES.update(
    {
        "max_instances_below_min": "`max_instances` is below `min_instances`",
        "startup_window_shorter_than_boot": (
            "the startup probe gives up before the service has booted"
        ),
        "liveness_stricter_than_readiness": (
            "liveness fails sooner than readiness: pods restart before leaving rotation"
        ),
        "liveness_probes_readiness_path": (
            "liveness checks the readiness path: a dependency outage restarts every pod"
        ),
        "probe_timeout_not_below_period": "a probe's timeout is not shorter than its period",
        "single_instance": "one instance: every deploy, drain or crash is downtime",
        "secret_in_plain_env": "a secret-looking variable holds a literal value",
        "env_defined_twice": "a variable is set in both `env` and `secrets`",
        "image_not_pinned": "the image has no tag or uses `latest`",
        "port_not_exposed": "the deploy port is not a port the Dockerfile EXPOSEs",
        "image_invalid": "the image is not a valid image reference: the kubelet cannot pull it",
    }
)

_E, _W = Severity.error, Severity.warning
_RULE_TABLE: list[tuple[str, str, Severity, str]] = [
    ("SS-DEP001", "missing_region", _E, "add `region: <cloud region>`"),
    ("SS-DEP002", "missing_instance_type", _E, "add `instance_type: <machine type>`"),
    ("SS-DEP003", "missing_min_instances", _E, "add `min_instances: 2`"),
    ("SS-DEP004", "region_must_be_string", _E, "write the region as a string"),
    ("SS-DEP005", "instance_type_must_be_string", _E, "write the type as a string"),
    (
        "SS-DEP006",
        "min_instances_must_be_positive_integer",
        _E,
        "use a whole number >= 1 (not true/false)",
    ),
    ("SS-DEP010", "max_instances_below_min", _E, "raise max_instances to at least min_instances"),
    (
        "SS-DEP011",
        "startup_window_shorter_than_boot",
        _E,
        "raise probes.startup.failure_threshold so period * threshold covers boot_seconds",
    ),
    (
        "SS-DEP012",
        "liveness_stricter_than_readiness",
        _E,
        "give liveness a longer failure window (and timeout) than readiness",
    ),
    (
        "SS-DEP013",
        "liveness_probes_readiness_path",
        _W,
        "point liveness at /livez (process alive), readiness at /readyz (dependencies)",
    ),
    (
        "SS-DEP014",
        "probe_timeout_not_below_period",
        _W,
        "make timeout_seconds smaller than period_seconds",
    ),
    ("SS-DEP015", "single_instance", _W, "run min_instances >= 2"),
    ("SS-DEP016", "secret_in_plain_env", _E, "move it to `secrets:` as a Secret reference"),
    ("SS-DEP017", "env_defined_twice", _E, "keep the name in either `env:` or `secrets:`"),
    ("SS-DEP018", "image_not_pinned", _W, "deploy an exact tag or an @sha256 digest"),
    (
        "SS-DEP019",
        "port_not_exposed",
        _W,
        "make `port:` and the Dockerfile's EXPOSE (and the server's --port) agree",
    ),
    (
        "SS-DEP020",
        "image_invalid",
        _E,
        "write [registry/]repository[:tag][@digest], the repository path in lowercase, no spaces",
    ),
]

DEPLOY_RULES: dict[str, Rule] = {
    name: Rule(id=rule_id, name=name, severity=severity, why=DEPLOY_CONFIG_CODES[name], fix=fix)
    for rule_id, name, severity, fix in _RULE_TABLE
}


@dataclass(frozen=True, slots=True)
class DeployProblem:
    """One finding about one environment; ``code`` is a documented name, ``path`` a key path."""

    code: str
    env: str
    message: str
    path: tuple[str, ...] = ()

    @property
    def rule(self) -> Rule:
        return DEPLOY_RULES[self.code]


@dataclass(frozen=True, slots=True)
class DeployEnvironment:
    """One environment of a deploy file: its merged raw mapping and where each key was written."""

    name: str
    config: Mapping[str, Any]
    document: Document
    prefixes: tuple[tuple[str, ...], ...]

    def line_of(self, path: tuple[str, ...]) -> int | None:
        for prefix in self.prefixes:
            if (*prefix, *path) in self.document.lines:
                return self.document.lines[(*prefix, *path)]
        for prefix in self.prefixes:
            line = self.document.line_of((*prefix, *path))
            if line is not None and prefix:
                return line
        return self.document.line_of(path)


def deploy_environments(document: Document) -> list[DeployEnvironment]:
    """Split a deploy file into environments.

    Either one spec, or ``environments: {name: spec}`` with an optional ``base:`` spec that
    every environment is merged onto (the ``merge_config`` rule).
    """
    data = document.data
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else type(data).__name__
        raise ConfigFileError(document.file, f"a deploy file must be a mapping, got {kind}")
    if "environments" not in data:
        return [DeployEnvironment("default", data, document, ((),))]
    unknown = sorted(set(data) - {"environments", "base"})
    if unknown:
        line = document.lines.get((str(unknown[0]),))
        raise ConfigFileError(
            document.file,
            f"unknown top-level key {unknown[0]!r} (next to `environments` only `base` is allowed)",
            line,
        )
    base = data.get("base") or {}
    environments = data["environments"]
    if not isinstance(base, Mapping):
        raise ConfigFileError(
            document.file, "`base` must be a mapping", document.lines.get(("base",))
        )
    if not isinstance(environments, Mapping) or not environments:
        line = document.lines.get(("environments",))
        raise ConfigFileError(document.file, "`environments` must be a non-empty mapping", line)
    result = []
    for name, section in environments.items():
        if not isinstance(section, Mapping):
            line = document.lines.get(("environments", str(name)))
            raise ConfigFileError(document.file, f"environment {name!r} must be a mapping", line)
        prefixes = (("environments", str(name)), ("base",))
        result.append(DeployEnvironment(str(name), merge_config(base, section), document, prefixes))
    return result


def parse_spec(environment: DeployEnvironment) -> DeploySpec:
    """The typed spec; a schema error names the file, line, environment and key."""
    try:
        return DeploySpec.model_validate(environment.config)
    except ValidationError as error:
        first = error.errors()[0]
        path = tuple(str(part) for part in first["loc"])
        key = ".".join(path) or "(spec)"
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigFileError(
            environment.document.file,
            f"{environment.name}: {key}: {message}",
            environment.line_of(path),
        ) from None


def spec_problems(spec: DeploySpec, env: str) -> list[DeployProblem]:
    """Cross-field checks of a typed spec: pure, ordered as :data:`DEPLOY_RULES`."""
    problems: list[DeployProblem] = []
    probes = spec.probes

    def add(code: str, message: str, *path: str) -> None:
        problems.append(DeployProblem(code, env, message, path))

    if spec.max_instances is not None and spec.max_instances < spec.min_instances:
        add(
            "max_instances_below_min",
            f"max_instances {spec.max_instances} is below min_instances {spec.min_instances}",
            "max_instances",
        )
    if probes.startup.window_seconds < spec.boot_seconds:
        add(
            "startup_window_shorter_than_boot",
            f"the startup probe gives up after {probes.startup.window_seconds}s "
            f"but boot takes {spec.boot_seconds}s",
            "probes",
            "startup",
        )
    live, ready = probes.liveness, probes.readiness
    if (
        live.period_seconds * live.failure_threshold
        < ready.period_seconds * ready.failure_threshold
        or live.timeout_seconds < ready.timeout_seconds
    ):
        add(
            "liveness_stricter_than_readiness",
            f"liveness fails after {live.period_seconds * live.failure_threshold}s "
            f"(timeout {live.timeout_seconds}s), readiness after "
            f"{ready.period_seconds * ready.failure_threshold}s "
            f"(timeout {ready.timeout_seconds}s)",
            "probes",
            "liveness",
        )
    if live.path == ready.path:
        add(
            "liveness_probes_readiness_path",
            f"liveness and readiness both probe {live.path}",
            "probes",
            "liveness",
        )
    for kind in ("liveness", "readiness", "startup"):
        probe: Probe = getattr(probes, kind)
        if probe.timeout_seconds >= probe.period_seconds:
            add(
                "probe_timeout_not_below_period",
                f"{kind} timeout {probe.timeout_seconds}s >= period {probe.period_seconds}s",
                "probes",
                kind,
            )
    if spec.min_instances == 1:
        add("single_instance", "min_instances is 1", "min_instances")
    for name, value in spec.env.items():
        # never the value itself in a message: it is the secret
        if SECRET_KEY.search(name) and value.strip():
            add("secret_in_plain_env", f"env {name} holds a literal secret", "env", name)
        elif any(match.group(2) for match in URL_PASSWORD.finditer(value)):
            add(
                "secret_in_plain_env",
                f"env {name} holds a URL with a literal password",
                "env",
                name,
            )
    for name in sorted(set(spec.env) & set(spec.secrets)):
        add("env_defined_twice", f"{name} is in both env and secrets", "env", name)
    if spec.image is not None:
        if (reason := image_reference_problem(spec.image)) is not None:
            add("image_invalid", f"image {spec.image!r} {reason}", "image")
        elif not _image_pinned(spec.image):
            add("image_not_pinned", f"image {spec.image!r} is not pinned", "image")
    if (reason := image_reference_problem(spec.migrate.wait_image)) is not None:
        message = f"migrate.wait_image {spec.migrate.wait_image!r} {reason}"
        add("image_invalid", message, "migrate", "wait_image")
    return problems


# The distribution/reference grammar (what Docker, containerd and the kubelet parse)
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*"
# the digests the kubelet accepts: a registered algorithm and its exact lowercase hex
_DIGEST = r"(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})"
IMAGE_REFERENCE = re.compile(
    rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::[\w][\w.-]{{0,127}})?(?:@{_DIGEST})?",
    re.ASCII,
)


def image_reference_problem(image: str) -> str | None:
    """Why ``image`` is not an image reference the kubelet can pull, or None if it is."""
    if image != image.strip():
        return "has leading or trailing whitespace"
    if any(char.isspace() for char in image):
        return "contains whitespace"
    match = IMAGE_REFERENCE.fullmatch(image)
    if match is None:
        name, at, digest = image.partition("@")
        if IMAGE_REFERENCE.fullmatch(name.lower() + at + digest):
            return "has uppercase letters in its repository path (it must be lowercase)"
        return "is not [registry/]repository[:tag][@digest]"
    if len(match.group("domain") or "") + len(match.group("path")) + 1 > 255:
        return "has a repository name longer than 255 characters"
    return None


def port_problems(spec: DeploySpec, env: str, exposed: set[int]) -> list[DeployProblem]:
    """The spec's port against the ports an image EXPOSEs (nothing to say when none)."""
    if not exposed or spec.port in exposed:
        return []
    ports = ", ".join(str(port) for port in sorted(exposed))
    message = f"port {spec.port} is not EXPOSEd by the Dockerfile ({ports})"
    return [DeployProblem("port_not_exposed", env, message, ("port",))]


def _image_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and not last.endswith(":latest")


def environment_problems(environment: DeployEnvironment) -> list[DeployProblem]:
    """Seed codes first (exactly as ``validate_deploy_config``), then schema, then cross-field."""
    seed = deploy_config_errors(environment.config)
    if seed:
        return [
            DeployProblem(code, environment.name, DEPLOY_CONFIG_CODES[code], (_seed_key(code),))
            for code in seed
        ]
    return spec_problems(parse_spec(environment), environment.name)


def _seed_key(code: str) -> str:
    for name in REQUIRED_FIELDS:
        if name in code:
            return name
    return ""


def deploy_findings(
    document: Document, exposed_ports: AbstractSet[int] = frozenset()
) -> list[Finding]:
    """Every problem of every environment of a deploy file, as findings with ``SS-DEP`` codes.

    ``exposed_ports`` are the ports the service's Dockerfile EXPOSEs, when it is known.
    """
    findings = []
    for environment in deploy_environments(document):
        problems = environment_problems(environment)
        if exposed_ports and not deploy_config_errors(environment.config):
            spec = parse_spec(environment)
            problems += port_problems(spec, environment.name, set(exposed_ports))
        for problem in problems:
            rule = problem.rule
            findings.append(
                Finding(
                    code=rule.id,
                    severity=rule.severity,
                    message=f"[{problem.env}] {problem.message} ({problem.code})",
                    file=document.file,
                    line=environment.line_of(problem.path),
                    fix=rule.fix,
                )
            )
    return findings
