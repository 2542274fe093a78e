"""Rendered manifests through the CLI, checked as a cluster would: schema, names, wiring."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

SPEC = """\
base:
  name: {name}
  namespace: shop
  region: eu-west-1
  instance_type: m6i.large
  min_instances: 2
  image: ghcr.io/acme/orders:1.4.2
  env:
    LOG_LEVEL: info
  secrets:
    DATABASE_URL: {{secret: orders-db, key: url}}
environments:
  prod:
    min_instances: 3
    max_instances: 12
    boot_seconds: 30
"""


def shipshape(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("shipshape")), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def render(tmp_path: Path, name: str = "orders") -> list[dict[str, Any]]:
    path = tmp_path / "deploy.yaml"
    path.write_text(SPEC.format(name=name), encoding="utf-8")
    result = shipshape("deploy", "render", str(path), "--env", "prod")
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def pod_specs(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["spec"]["template"]["spec"] for m in manifests if m["kind"] in {"Deployment", "Job"}]


def test_every_manifest_is_valid_for_the_latest_kubernetes(tmp_path: Path) -> None:
    version = kubernetes_validate.latest_version()
    for manifest in render(tmp_path):
        kubernetes_validate.validate(manifest, version, strict=True)


def test_names_are_valid_for_their_kinds(tmp_path: Path) -> None:
    for manifest in render(tmp_path, "a" * 63):
        name = manifest["metadata"]["name"]
        assert len(name) <= 63
        # a Service name is a DNS-1035 label; the others at least DNS-1123 labels here
        pattern = DNS1035_LABEL if manifest["kind"] == "Service" else DNS1123_LABEL
        assert pattern.match(name), (manifest["kind"], name)
        for value in manifest["metadata"]["labels"].values():
            assert len(value) <= 63


@pytest.mark.parametrize("name", ["1orders", "9"])
def test_a_name_that_cannot_name_a_service_is_rejected_before_rendering(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(SPEC.format(name=name), encoding="utf-8")
    result = shipshape("deploy", "render", str(path), "--env", "prod")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{path}:2: prod: name:" in result.stderr
    assert result.stdout == ""


def test_selectors_match_the_serving_pods_only(tmp_path: Path) -> None:
    manifests = render(tmp_path)
    kinds = {m["kind"]: m for m in manifests}
    served = kinds["Deployment"]["spec"]["template"]["metadata"]["labels"]
    job_labels = kinds["Job"]["spec"]["template"]["metadata"]["labels"]
    for selector in (
        kinds["Deployment"]["spec"]["selector"]["matchLabels"],
        kinds["Service"]["spec"]["selector"],
        kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= served.items()
        assert not selector.items() <= job_labels.items()
    target = kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == (
        "Deployment",
        kinds["Deployment"]["metadata"]["name"],
    )


def test_every_container_has_requests_a_memory_limit_and_a_restricted_context(
    tmp_path: Path,
) -> None:
    for pod in pod_specs(render(tmp_path)):
        for container in containers(pod):
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), container["name"]
            assert "memory" in resources.get("limits", {}), container["name"]
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_the_wait_container_runs_as_a_numeric_non_root_user(tmp_path: Path) -> None:
    # registry.k8s.io/kubectl runs as root: runAsNonRoot alone would keep every pod in Init
    [deployment] = [m for m in render(tmp_path) if m["kind"] == "Deployment"]
    [wait] = deployment["spec"]["template"]["spec"]["initContainers"]
    assert wait["securityContext"]["runAsUser"] > 0


def test_probes_point_at_livez_and_readyz_on_the_http_port(tmp_path: Path) -> None:
    [deployment] = [m for m in render(tmp_path) if m["kind"] == "Deployment"]
    [app] = deployment["spec"]["template"]["spec"]["containers"]
    ports = {port["name"] for port in app["ports"]}
    assert app["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert app["startupProbe"]["httpGet"]["path"] == "/livez"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert app[probe]["httpGet"]["port"] in ports
