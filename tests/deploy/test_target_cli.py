"""``shipshape deploy validate`` and ``render`` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from shipshape.cli import app

runner = CliRunner()

DEPLOY_YAML = """\
base:
  name: orders
  region: eu-west-1
  instance_type: m6i.large
  min_instances: 2
  image: ghcr.io/acme/orders:1.4.2
  secrets:
    DATABASE_URL: {secret: orders-db, key: url}
environments:
  dev:
    min_instances: 1
  prod:
    min_instances: 3
    max_instances: 10
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_validate_reports_each_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", DEPLOY_YAML)
    result = runner.invoke(app, ["deploy", "validate", path, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid"] is True
    assert [env["env"] for env in report["environments"]] == ["dev", "prod"]
    [warning] = report["environments"][0]["findings"]
    assert (warning["code"], warning["id"], warning["line"]) == ("single_instance", "SS-DEP015", 11)


def test_a_json_file_keeps_integers_beyond_64_bits_exact_as_stdin_does(tmp_path: Path) -> None:
    # read as a float, 99999999999999999999 made SS-DEP006 "must be an integer >= 1"
    spec = {"name": "orders", "region": "eu-west-1", "instance_type": "m6i.large"}
    text = json.dumps(spec)[:-1] + ', "min_instances": 99999999999999999999}'
    path = write(tmp_path, "deploy.json", text)
    from_file = runner.invoke(app, ["deploy", "validate", path])
    from_stdin = runner.invoke(app, ["deploy", "validate", "-"], input=text)
    assert from_file.exit_code == from_stdin.exit_code == 2, from_file.output
    assert "less than or equal to 2147483647" in from_file.stderr
    assert "less than or equal to 2147483647" in from_stdin.stderr


def test_fail_level_warning_turns_warnings_into_exit_1(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", DEPLOY_YAML)
    result = runner.invoke(app, ["deploy", "validate", path, "--fail-level", "warning"])
    assert result.exit_code == 1
    assert "single_instance" in result.stdout


def test_validate_exits_1_on_seed_codes_with_seed_json(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.json", '{"region": 1, "min_instances": 0}')
    result = runner.invoke(app, ["deploy", "validate", path, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["errors"] == [
        "missing_instance_type",
        "region_must_be_string",
        "min_instances_must_be_positive_integer",
    ]


def test_validate_one_environment_and_an_unknown_one(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", DEPLOY_YAML)
    result = runner.invoke(app, ["deploy", "validate", path, "--env", "prod"])
    assert result.exit_code == 0
    assert "[prod]: valid" in result.stdout
    result = runner.invoke(app, ["deploy", "validate", path, "--env", "qa"])
    assert result.exit_code == 2
    assert "no environment 'qa' (found: dev, prod)" in result.stderr


def test_bad_input_exits_2_with_file_and_line(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.toml", "region = 'r'\nmin_instances = \n")
    result = runner.invoke(app, ["deploy", "validate", broken])
    assert result.exit_code == 2
    assert f"{broken}:2: invalid TOML" in result.stderr
    unknown = write(tmp_path, "unknown.yaml", DEPLOY_YAML + "    replica_count: 3\n")
    result = runner.invoke(app, ["deploy", "validate", unknown])
    assert result.exit_code == 2
    assert f"{unknown}:15: prod: replica_count: unknown key" in result.stderr
    result = runner.invoke(app, ["deploy", "validate", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "no such file" in result.stderr
    assert "Traceback" not in result.output


def test_render_prod_to_a_valid_yaml_stream(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", DEPLOY_YAML)
    result = runner.invoke(app, ["deploy", "render", path, "--env", "prod"])
    assert result.exit_code == 0, result.output
    manifests = list(yaml.safe_load_all(result.stdout))
    assert [m["kind"] for m in manifests][3:5] == ["Job", "Deployment"]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, "1.31.0", strict=True)
    hpa = manifests[6]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)


def test_render_to_a_directory(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", DEPLOY_YAML)
    out = tmp_path / "k8s"
    result = runner.invoke(app, ["deploy", "render", path, "--env", "dev", "-o", str(out)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names[3:5] == ["03-job-" + names[3][7:], "04-deployment-orders.yaml"]
    assert len(names) == 8


def test_render_needs_an_environment_when_there_are_several(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", DEPLOY_YAML)
    result = runner.invoke(app, ["deploy", "render", path])
    assert result.exit_code == 2
    assert "pick one with --env" in result.stderr


def test_render_refuses_a_spec_with_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path, "deploy.yaml", DEPLOY_YAML.replace("max_instances: 10", "max_instances: 1")
    )
    result = runner.invoke(app, ["deploy", "render", path, "--env", "prod"])
    assert result.exit_code == 1
    assert f"{path}:14: SS-DEP010 max_instances_below_min" in result.stderr
    assert result.stdout == ""


def test_render_without_image_is_bad_input(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", "region: r\ninstance_type: t\nmin_instances: 2\n")
    result = runner.invoke(app, ["deploy", "render", path])
    assert result.exit_code == 2
    assert f"{path}: default: image: required" in result.stderr


SINGLE = """\
name: orders
region: eu-west-1
instance_type: m6i.large
min_instances: 2
image: ghcr.io/acme/orders:1.4.2
"""


def single_with(line: str) -> str:
    """SINGLE with ``line`` in place of the line of the same key, or added at the end."""
    key = line.split(":", maxsplit=1)[0] + ":"
    rows = SINGLE.splitlines()
    if any(row.startswith(key) for row in rows):
        rows = [line if row.startswith(key) else row for row in rows]
    else:
        rows.append(line)
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("image", ['""', "'  '"])
def test_a_blank_image_is_a_missing_image(tmp_path: Path, image: str) -> None:
    path = write(tmp_path, "deploy.yaml", single_with(f"image: {image}"))
    result = runner.invoke(app, ["deploy", "validate", path])
    assert result.exit_code == 0, result.output
    assert "image_not_pinned" not in result.stdout
    result = runner.invoke(app, ["deploy", "render", path])
    assert result.exit_code == 2
    assert f"{path}:5: default: image: required to render manifests" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ("min_instances: 3000000000", ":4: default: min_instances:"),
        ("min_instances: 99999999999999999999999999", ":4: default: min_instances:"),
        ("max_instances: 2147483648", ":6: default: max_instances:"),
        (
            "probes: {liveness: {path: /livez, initial_delay_seconds: 3000000000}}",
            ":6: default: probes.liveness.initial_delay_seconds:",
        ),
        ("migrate: {backoff_limit: 2147483648}", ":6: default: migrate.backoff_limit:"),
    ],
)
def test_numbers_kubernetes_cannot_store_are_bad_input(
    tmp_path: Path, line: str, where: str
) -> None:
    assert_bad_input(tmp_path, line, f"{where} Input should be less than or equal to 2147483647")


def assert_bad_input(tmp_path: Path, line: str, message: str) -> None:
    """SINGLE with ``line`` is exit 2 for validate and render, ``path`` + ``message``."""
    path = write(tmp_path, "deploy.yaml", single_with(line))
    for command in ("validate", "render"):
        result = runner.invoke(app, ["deploy", command, path])
        assert result.exit_code == 2, result.output
        assert f"{path}{message}" in result.stderr
        assert result.stdout == ""


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ("region: eu west 1", ":2: default: region: 'eu west 1' is not a Kubernetes label value"),
        ("region: ''", ":2: default: region: must not be empty"),
        ("instance_type: m6i large", ":3: default: instance_type: 'm6i large' is not"),
    ],
)
def test_node_selector_values_are_checked(tmp_path: Path, line: str, where: str) -> None:
    path = write(tmp_path, "deploy.yaml", single_with(line))
    for command in ("validate", "render"):
        result = runner.invoke(app, ["deploy", command, path])
        assert result.exit_code == 2, result.output
        assert f"{path}{where}" in result.stderr


def test_a_password_in_a_url_is_never_rendered_or_printed(tmp_path: Path) -> None:
    env = (
        "env:\n"
        "  DATABASE_URL: postgresql://app:s3cret@db/app\n"
        "  REDIS_URL: redis://:pw-in-url@cache:6379/0\n"
    )
    path = write(tmp_path, "deploy.yaml", SINGLE + env)
    result = runner.invoke(app, ["deploy", "validate", path, "--json"])
    assert result.exit_code == 1
    [environment] = json.loads(result.stdout)["environments"]
    assert [(f["id"], f["line"]) for f in environment["findings"]] == [
        ("SS-DEP016", 7),
        ("SS-DEP016", 8),
    ]
    result = runner.invoke(app, ["deploy", "render", path])
    assert result.exit_code == 1
    assert f"{path}:7: SS-DEP016 secret_in_plain_env: env DATABASE_URL" in result.stderr
    assert result.stdout == ""
    for command in (["validate", path], ["validate", path, "--json"], ["render", path]):
        result = runner.invoke(app, ["deploy", *command])
        assert "s3cret" not in result.output
        assert "pw-in-url" not in result.output


def test_resources_given_as_numbers_render_as_quantities(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", single_with("cpu: 0.5") + "memory: 128974848\n")
    result = runner.invoke(app, ["deploy", "render", path])
    assert result.exit_code == 0, result.output
    manifests = list(yaml.safe_load_all(result.stdout))
    for manifest in manifests:
        kubernetes_validate.validate(manifest, "1.31.0", strict=True)
    [deployment] = [m for m in manifests if m["kind"] == "Deployment"]
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {
        "requests": {"cpu": "0.5", "memory": "128974848"},
        "limits": {"memory": "128974848"},
    }


def test_a_probe_override_need_not_repeat_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", single_with("probes: {liveness: {period_seconds: 20}}"))
    result = runner.invoke(app, ["deploy", "render", path])
    assert result.exit_code == 0, result.output
    [deployment] = [m for m in yaml.safe_load_all(result.stdout) if m["kind"] == "Deployment"]
    liveness = deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    assert liveness["httpGet"]["path"] == "/livez"
    assert (liveness["periodSeconds"], liveness["failureThreshold"]) == (20, 3)


def test_an_empty_migration_command_is_bad_input(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", single_with("migrate: {command: []}"))
    for command in ("validate", "render"):
        result = runner.invoke(app, ["deploy", command, path])
        assert result.exit_code == 2, result.output
        assert f"{path}:6: default: migrate.command: must name the program" in result.stderr
        assert result.stdout == ""


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ('" orders:1 "', "has leading or trailing whitespace"),
        ('"orders:1 --privileged"', "contains whitespace"),
        ("Ghcr.io/Acme/Orders:1", "has uppercase letters in its repository path"),
        ("ghcr.io/acme/orders:-1", "is not [registry/]repository[:tag][@digest]"),
        ("ghcr.io/acme/orders@sha256:abc", "is not [registry/]repository[:tag][@digest]"),
        # the kubelet checks the digest against its algorithm: 64 lowercase hex for sha256
        ("orders@sha256:" + "a" * 63, "is not [registry/]repository[:tag][@digest]"),
        ("orders@sha256:" + "a" * 65, "is not [registry/]repository[:tag][@digest]"),
        ("orders@sha256:" + "A" * 64, "is not [registry/]repository[:tag][@digest]"),
        ("orders@md5:" + "a" * 32, "is not [registry/]repository[:tag][@digest]"),
        ("ghcr.io/acme//orders:1", "is not [registry/]repository[:tag][@digest]"),
    ],
)
def test_an_image_the_kubelet_cannot_parse_is_an_error_and_is_not_rendered(
    tmp_path: Path, image: str, reason: str
) -> None:
    path = write(tmp_path, "deploy.yaml", single_with(f"image: {image}"))
    result = runner.invoke(app, ["deploy", "validate", path, "--json"])
    assert result.exit_code == 1, result.output
    [finding] = json.loads(result.stdout)["environments"][0]["findings"]
    assert (finding["code"], finding["id"], finding["line"]) == ("image_invalid", "SS-DEP020", 5)
    assert reason in finding["message"]
    result = runner.invoke(app, ["deploy", "render", path])
    assert result.exit_code == 1
    assert f"{path}:5: SS-DEP020 image_invalid" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "image",
    [
        "Ghcr.io/acme/orders:V1.2",
        "localhost:5000/acme/orders:1",
        "[::1]:5000/orders:1",
        "ghcr.io/acme/my__orders-api.v2:1",
        "orders:1@sha256:" + "a" * 64,
        "orders@sha512:" + "0" * 128,
    ],
)
def test_valid_image_references_pass(tmp_path: Path, image: str) -> None:
    path = write(tmp_path, "deploy.yaml", single_with(f'image: "{image}"'))
    result = runner.invoke(app, ["deploy", "validate", path, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["environments"][0]["findings"] == []


def test_an_invalid_migration_wait_image_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", single_with("migrate: {wait_image: Kubectl:1}"))
    result = runner.invoke(app, ["deploy", "validate", path, "--json"])
    assert result.exit_code == 1, result.output
    [finding] = json.loads(result.stdout)["environments"][0]["findings"]
    assert (finding["id"], finding["line"]) == ("SS-DEP020", 6)
    assert finding["message"].startswith("migrate.wait_image 'Kubectl:1' has uppercase letters")


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ("port: true", ":6: default: port:"),
        ('port: "8000"', ":6: default: port:"),
        ("port: 8000.0", ":6: default: port:"),
        ("target_cpu_percent: false", ":6: default: target_cpu_percent:"),
        ("target_cpu_percent: '70'", ":6: default: target_cpu_percent:"),
        ("boot_seconds: true", ":6: default: boot_seconds:"),
        ("probes: {startup: {period_seconds: '5'}}", ":6: default: probes.startup.period_seconds:"),
        ("migrate: {backoff_limit: true}", ":6: default: migrate.backoff_limit:"),
    ],
)
def test_true_false_and_strings_are_not_whole_numbers(
    tmp_path: Path, line: str, where: str
) -> None:
    assert_bad_input(tmp_path, line, f"{where} Input should be a valid integer")
