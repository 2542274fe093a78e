"""Deploy specs: the seed contract, the typed spec, environments and cross-field codes."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from shipshape import validate_deploy_config
from shipshape.deploy.config import ConfigFileError, parse_document
from shipshape.deploy.target import (
    DEPLOY_CONFIG_CODES,
    DEPLOY_RULES,
    DeploySpec,
    deploy_environments,
    deploy_findings,
    environment_problems,
    parse_spec,
    spec_problems,
)
from shipshape.findings import Severity

GOOD = {
    "name": "orders",
    "region": "eu-west-1",
    "instance_type": "m6i.large",
    "min_instances": 2,
    "max_instances": 4,
    "image": "ghcr.io/acme/orders:1.4.2",
}


def codes(spec: dict[str, Any]) -> list[str]:
    return [problem.code for problem in spec_problems(DeploySpec.model_validate(spec), "prod")]


class TestSeedContract:
    def test_valid_minimal_config(self) -> None:
        config = {"region": "us-east-1", "instance_type": "t3.small", "min_instances": 1}
        assert validate_deploy_config(config) == {"valid": True, "errors": []}

    def test_all_missing_in_documented_order(self) -> None:
        assert validate_deploy_config({}) == {
            "valid": False,
            "errors": ["missing_region", "missing_instance_type", "missing_min_instances"],
        }

    def test_type_errors_in_documented_order(self) -> None:
        config = {"region": 1, "instance_type": None, "min_instances": 0}
        assert validate_deploy_config(config)["errors"] == [
            "region_must_be_string",
            "instance_type_must_be_string",
            "min_instances_must_be_positive_integer",
        ]

    def test_missing_comes_before_type_errors(self) -> None:
        assert validate_deploy_config({"region": 5, "min_instances": 1})["errors"] == [
            "missing_instance_type",
            "region_must_be_string",
        ]

    @pytest.mark.parametrize("value", [True, False, 1.0, "1", -3, 0])
    def test_bool_float_and_non_positive_are_not_positive_integers(self, value: object) -> None:
        config = {"region": "r", "instance_type": "t", "min_instances": value}
        assert validate_deploy_config(config)["errors"] == [
            "min_instances_must_be_positive_integer"
        ]

    def test_extra_keys_are_allowed(self) -> None:
        config = {"region": "r", "instance_type": "t", "min_instances": 3, "anything": [1]}
        assert validate_deploy_config(config)["valid"] is True

    @pytest.mark.parametrize("value", [None, [], "region: x", 3])
    def test_non_mapping_raises_type_error(self, value: Any) -> None:
        with pytest.raises(TypeError):
            validate_deploy_config(value)

    def test_every_code_is_documented_with_a_rule(self) -> None:
        assert set(DEPLOY_CONFIG_CODES) == set(DEPLOY_RULES)
        ids = [rule.id for rule in DEPLOY_RULES.values()]
        assert len(ids) == len(set(ids))


class TestCrossFieldRules:
    def test_a_good_spec_has_no_findings(self) -> None:
        assert codes(GOOD) == []

    def test_max_below_min(self) -> None:
        assert codes({**GOOD, "min_instances": 3, "max_instances": 2}) == [
            "max_instances_below_min"
        ]

    def test_max_defaults_to_min(self) -> None:
        spec = DeploySpec.model_validate({**GOOD, "max_instances": None})
        assert spec.max_instances == 2

    def test_startup_window_shorter_than_boot(self) -> None:
        startup = {"path": "/livez", "period_seconds": 10, "failure_threshold": 3}
        spec = {**GOOD, "boot_seconds": 90, "probes": {"startup": startup}}
        assert codes(spec) == ["startup_window_shorter_than_boot"]
        spec["probes"] = {"startup": {**startup, "failure_threshold": 9}}
        assert codes(spec) == []

    def test_liveness_stricter_than_readiness(self) -> None:
        probes = {"liveness": {"path": "/livez", "period_seconds": 5, "failure_threshold": 1}}
        assert codes({**GOOD, "probes": probes}) == ["liveness_stricter_than_readiness"]

    def test_liveness_with_shorter_timeout_is_stricter(self) -> None:
        probes = {
            "liveness": {"path": "/livez", "timeout_seconds": 1},
            "readiness": {"path": "/readyz", "timeout_seconds": 3},
        }
        assert codes({**GOOD, "probes": probes}) == ["liveness_stricter_than_readiness"]

    def test_liveness_on_readiness_path(self) -> None:
        probes = {"liveness": {"path": "/readyz"}}
        assert codes({**GOOD, "probes": probes}) == ["liveness_probes_readiness_path"]

    def test_timeout_not_below_period(self) -> None:
        probes = {"readiness": {"path": "/readyz", "period_seconds": 2, "timeout_seconds": 2}}
        assert "probe_timeout_not_below_period" in codes({**GOOD, "probes": probes})

    def test_single_instance_is_a_warning(self) -> None:
        assert codes({**GOOD, "min_instances": 1, "max_instances": 3}) == ["single_instance"]
        assert DEPLOY_RULES["single_instance"].severity is Severity.warning

    def test_secret_in_plain_env_and_defined_twice(self) -> None:
        spec = {
            **GOOD,
            "env": {"DB_PASSWORD": "hunter2", "LOG_LEVEL": "info", "API_TOKEN": ""},
            "secrets": {"DB_PASSWORD": {"secret": "db", "key": "password"}},
        }
        assert codes(spec) == ["secret_in_plain_env", "env_defined_twice"]

    @pytest.mark.parametrize(
        ("name", "url"),
        [
            ("DATABASE_URL", "postgresql://app:s3cret@db/app"),
            ("REDIS_URL", "redis://:s3cret@cache:6379/0"),
            ("BROKERS", "amqp://guest:s3cret@mq-1:5672,amqp://guest:s3cret@mq-2:5672"),
        ],
    )
    def test_a_url_with_a_literal_password_is_a_secret_in_plain_env(
        self, name: str, url: str
    ) -> None:
        spec = DeploySpec.model_validate({**GOOD, "env": {name: url}})
        [problem] = spec_problems(spec, "prod")
        assert (problem.code, problem.path) == ("secret_in_plain_env", ("env", name))
        assert name in problem.message
        assert "s3cret" not in problem.message

    @pytest.mark.parametrize(
        "url",
        [
            "postgresql://app@db/app",
            "postgresql://app:@db/app",
            "redis://cache:6379/0",
            "https://api.example.com:8443/v1",
        ],
    )
    def test_a_url_without_a_password_is_fine(self, url: str) -> None:
        assert codes({**GOOD, "env": {"SERVICE_URL": url}}) == []

    def test_a_secret_name_holding_a_url_password_is_one_finding(self) -> None:
        assert codes({**GOOD, "env": {"SENTRY_DSN": "https://k:s3cret@sentry.io/1"}}) == [
            "secret_in_plain_env"
        ]

    @pytest.mark.parametrize(
        ("image", "pinned"),
        [
            ("acme/orders", False),
            ("acme/orders:latest", False),
            ("registry:5000/orders", False),
            ("registry:5000/orders:1.2", True),
            ("acme/orders@sha256:" + "a" * 64, True),
        ],
    )
    def test_image_pinning(self, image: str, pinned: bool) -> None:
        assert (codes({**GOOD, "image": image}) == []) is pinned


def parse(config: dict[str, Any]) -> DeploySpec:
    """``config`` written as a YAML deploy file ``d.yaml`` and parsed as the CLI does."""
    [environment] = deploy_environments(parse_document(yaml.safe_dump(config), "d.yaml"))
    return parse_spec(environment)


class TestKubernetesLimits:
    @pytest.mark.parametrize(
        ("override", "key"),
        [
            ({"min_instances": 3_000_000_000}, "min_instances"),
            ({"min_instances": 99999999999999999999999999}, "min_instances"),
            ({"max_instances": 2**31}, "max_instances"),
            (
                {
                    "probes": {
                        "liveness": {"path": "/livez", "initial_delay_seconds": 3_000_000_000}
                    }
                },
                "probes.liveness.initial_delay_seconds",
            ),
            (
                {"probes": {"readiness": {"period_seconds": 2**31}}},
                "probes.readiness.period_seconds",
            ),
            ({"probes": {"startup": {"timeout_seconds": 2**31}}}, "probes.startup.timeout_seconds"),
            (
                {"probes": {"startup": {"failure_threshold": 2**31}}},
                "probes.startup.failure_threshold",
            ),
            ({"migrate": {"timeout_seconds": 2**31}}, "migrate.timeout_seconds"),
            ({"migrate": {"backoff_limit": 2**31}}, "migrate.backoff_limit"),
        ],
    )
    def test_integers_past_int32_are_refused_by_field(
        self, override: dict[str, Any], key: str
    ) -> None:
        with pytest.raises(ConfigFileError, match=rf"^d\.yaml:\d+: default: {key}: .*2147483647"):
            parse({**GOOD, **override})

    def test_int32_max_itself_is_accepted(self) -> None:
        top = 2**31 - 1
        probe = {"period_seconds": top, "failure_threshold": top, "initial_delay_seconds": top}
        spec = parse(
            {
                **GOOD,
                "min_instances": top,
                "max_instances": top,
                "probes": {"liveness": probe},
                "migrate": {"timeout_seconds": top, "backoff_limit": top},
            }
        )
        assert spec.replicas_max == spec.probes.liveness.failure_threshold == top

    @pytest.mark.parametrize("key", ["region", "instance_type"])
    @pytest.mark.parametrize(
        "value", ["eu west 1", "-eu-west-1", "eu-west-1.", "eu/west", "a" * 64, "", "  "]
    )
    def test_node_selector_values_must_be_label_values(self, key: str, value: str) -> None:
        with pytest.raises(ConfigFileError, match=rf"^d\.yaml:\d+: default: {key}: "):
            parse({**GOOD, key: value})

    @pytest.mark.parametrize("value", ["eu-west-1", "Standard_D2s_v3", "m6i.large", "a" * 63, "x"])
    def test_label_values_that_kubernetes_accepts(self, value: str) -> None:
        spec = parse({**GOOD, "region": value, "instance_type": value})
        assert (spec.region, spec.instance_type) == (value, value)


class TestFieldForms:
    @pytest.mark.parametrize("image", ["", "   "])
    def test_a_blank_image_is_no_image(self, image: str) -> None:
        spec = parse({**GOOD, "image": image})
        assert spec.image is None
        assert spec_problems(spec, "default") == []

    @pytest.mark.parametrize(
        ("cpu", "memory", "expected"),
        [
            (0.5, 134217728, ("0.5", "134217728")),
            (1, 1.5, ("1", "1.5")),
            (2.0, 1e9, ("2", "1000000000")),
            (0.001, "512Mi", ("0.001", "512Mi")),
        ],
    )
    def test_resources_may_be_numbers(
        self, cpu: object, memory: object, expected: tuple[str, str]
    ) -> None:
        spec = parse({**GOOD, "cpu": cpu, "memory": memory})
        assert (spec.cpu, spec.memory) == expected

    @pytest.mark.parametrize(
        "quantity",
        [
            "128k",
            "1Pi",
            "1Ei",
            "1e9",
            "1E3",
            "5e-1",
            "2E+2",
            "0.5",
            ".5",
            "1.",
            "+1",
            "250m",
            "100u",
            "1n",
            "1P",
            "1E",
            "512Mi",
            "1.5Gi",
            "1T",
        ],
    )
    def test_every_kubernetes_quantity_is_accepted(self, quantity: str) -> None:
        spec = parse({**GOOD, "cpu": quantity, "memory": quantity})
        assert (spec.cpu, spec.memory) == (quantity, quantity)

    @pytest.mark.parametrize(
        "quantity",
        [
            "1 Mi",
            "",
            "1Mi ",
            "128K",
            "1KB",
            "1kb",
            "1mi",
            "1Zi",
            "-1",
            "1e",
            "1e1.5",
            ".",
            "e3",
            "0x10",
            "1,5",
        ],
    )
    def test_what_kubernetes_refuses_as_a_quantity_is_refused(self, quantity: str) -> None:
        for key in ("cpu", "memory"):
            with pytest.raises(ConfigFileError, match=rf"^d\.yaml:\d+: default: {key}: "):
                parse({**GOOD, key: quantity})

    @pytest.mark.parametrize(("key", "value"), [("cpu", True), ("cpu", -1), ("memory", -0.5)])
    def test_resources_that_are_not_quantities(self, key: str, value: object) -> None:
        with pytest.raises(ConfigFileError, match=rf"^d\.yaml:\d+: default: {key}: "):
            parse({**GOOD, key: value})

    def test_a_probe_given_in_part_keeps_its_documented_defaults(self) -> None:
        spec = parse(
            {
                **GOOD,
                "probes": {
                    "liveness": {"period_seconds": 20},
                    "readiness": {"timeout_seconds": 1},
                    "startup": {"failure_threshold": 30},
                },
            }
        )
        live, ready, startup = spec.probes.liveness, spec.probes.readiness, spec.probes.startup
        assert (live.path, live.period_seconds, live.failure_threshold) == ("/livez", 20, 3)
        assert (ready.path, ready.period_seconds, ready.timeout_seconds) == ("/readyz", 5, 1)
        assert (startup.path, startup.period_seconds, startup.failure_threshold) == (
            "/livez",
            5,
            30,
        )

    @pytest.mark.parametrize("command", [[], [""], ["  ", "migrate"]])
    def test_a_migration_command_must_name_a_program(self, command: list[str]) -> None:
        with pytest.raises(ConfigFileError, match=r"^d\.yaml:\d+: default: migrate\.command: "):
            parse({**GOOD, "migrate": {"command": command}})


YAML_FILE = """\
base:
  name: orders
  region: eu-west-1
  instance_type: m6i.large
  min_instances: 2
  env:
    LOG_LEVEL: info
environments:
  dev:
    min_instances: 1
    env:
      DEBUG: "1"
  prod:
    min_instances: 3
    max_instances: 2
"""


class TestEnvironments:
    def test_single_spec_is_the_default_environment(self) -> None:
        document = parse_document("region: r\ninstance_type: t\nmin_instances: 2\n", "d.yaml")
        [environment] = deploy_environments(document)
        assert environment.name == "default"
        assert environment_problems(environment) == []

    def test_base_merges_under_each_environment_without_wiping_siblings(self) -> None:
        environments = deploy_environments(parse_document(YAML_FILE, "deploy.yaml"))
        dev, prod = environments
        assert dev.config["env"] == {"DEBUG": "1", "LOG_LEVEL": "info"}
        assert dev.config["region"] == "eu-west-1"
        assert prod.config["min_instances"] == 3

    def test_findings_carry_codes_and_lines_of_the_environment(self) -> None:
        findings = deploy_findings(parse_document(YAML_FILE, "deploy.yaml"))
        assert [(f.code, f.line) for f in findings] == [("SS-DEP015", 10), ("SS-DEP010", 15)]
        assert "[prod]" in findings[1].message
        assert findings[1].severity is Severity.error

    def test_toml_environments_report_lines(self) -> None:
        text = (
            "[base]\nregion = 'r'\ninstance_type = 't'\nmin_instances = 2\n\n"
            "[environments.prod]\nmax_instances = 1\n"
        )
        [finding] = deploy_findings(parse_document(text, "deploy.toml"))
        assert (finding.code, finding.line) == ("SS-DEP010", 7)

    def test_seed_codes_come_first_and_alone(self) -> None:
        document = parse_document("region: 3\nmin_instances: true\n", "d.yaml")
        [environment] = deploy_environments(document)
        assert [p.code for p in environment_problems(environment)] == [
            "missing_instance_type",
            "region_must_be_string",
            "min_instances_must_be_positive_integer",
        ]

    def test_unknown_key_names_file_line_environment_and_key(self) -> None:
        text = YAML_FILE + "    replicas: 3\n"
        prod = deploy_environments(parse_document(text, "deploy.yaml"))[1]
        with pytest.raises(ConfigFileError) as caught:
            parse_spec(prod)
        assert str(caught.value) == "deploy.yaml:16: prod: replicas: unknown key"

    def test_wrong_type_in_nested_field(self) -> None:
        text = "region: r\ninstance_type: t\nmin_instances: 2\nprobes:\n  liveness:\n    path: x\n"
        [environment] = deploy_environments(parse_document(text, "d.yaml"))
        with pytest.raises(ConfigFileError, match=r"^d\.yaml:6: default: probes\.liveness\.path"):
            parse_spec(environment)

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("- a\n", "a deploy file must be a mapping, got list"),
            ("", "a deploy file must be a mapping, got empty"),
            ("environments: {}\n", "`environments` must be a non-empty mapping"),
            ("environments:\n  prod: 3\n", "environment 'prod' must be a mapping"),
            ("environments: {a: {}}\nextra: 1\n", "unknown top-level key 'extra'"),
        ],
    )
    def test_malformed_layouts(self, text: str, message: str) -> None:
        with pytest.raises(ConfigFileError, match=message):
            deploy_environments(parse_document(text, "d.yaml"))


class TestParsers:
    @pytest.mark.parametrize(
        ("name", "text", "where"),
        [
            ("a.yaml", "a: 1\nb: c: d\n", "a.yaml:2: invalid YAML"),
            ("a.toml", "a = 1\nb = \n", "a.toml:2: invalid TOML"),
            ("a.json", '{"a": 1,\n "b": }', "a.json:2: invalid JSON"),
        ],
    )
    def test_syntax_errors_name_file_and_line(self, name: str, text: str, where: str) -> None:
        with pytest.raises(ConfigFileError) as caught:
            parse_document(text, name)
        assert str(caught.value).startswith(where)

    def test_key_lines_for_each_format(self) -> None:
        yaml_doc = parse_document("a:\n  b: 1\n  c:\n    d: 2\n", "x.yaml")
        assert yaml_doc.lines == {("a",): 1, ("a", "b"): 2, ("a", "c"): 3, ("a", "c", "d"): 4}
        toml_doc = parse_document('a = 1\n[b.c]\nd = 2\n"e.f".g = 3\n', "x.toml")
        assert toml_doc.lines[("b", "c", "d")] == 3
        assert toml_doc.lines[("b", "c", "e.f", "g")] == 4
        json_doc = parse_document('{\n  "a": {\n    "b": 1\n  }\n}', "x.json")
        assert json_doc.lines[("a", "b")] == 3

    @given(st.text(max_size=300), st.sampled_from(["x.yaml", "x.toml", "x.json"]))
    def test_random_text_parses_or_fails_with_a_config_file_error(
        self, text: str, name: str
    ) -> None:
        errors: list[str] = []
        try:
            for environment in deploy_environments(parse_document(text, name)):
                environment_problems(environment)
        except ConfigFileError as error:
            errors.append(str(error))
        assert all(message.startswith(f"{name}") for message in errors)
