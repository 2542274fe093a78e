"""Rendered manifests: valid against the Kubernetes schemas, and doing what the spec says."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from shipshape.deploy.kubernetes import migration_job_name, render_kubernetes, to_yaml_stream
from shipshape.deploy.target import DeploySpec

K8S_VERSION = "1.31.0"

SPEC = DeploySpec.model_validate(
    {
        "name": "orders",
        "namespace": "shop",
        "region": "eu-west-1",
        "instance_type": "m6i.large",
        "min_instances": 2,
        "max_instances": 6,
        "cpu": "250m",
        "memory": "256Mi",
        "image": "ghcr.io/acme/orders:1.4.2",
        "port": 8080,
        "env": {"LOG_LEVEL": "info"},
        "secrets": {"DATABASE_URL": {"secret": "orders-db", "key": "url"}},
        "boot_seconds": 20,
    }
)


def by_kind(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {manifest["kind"]: manifest for manifest in manifests}


@pytest.mark.parametrize("migrate", [True, False])
def test_every_manifest_is_valid_against_the_strict_schema(migrate: bool) -> None:
    spec = SPEC.model_copy(update={"migrate": SPEC.migrate.model_copy(update={"enabled": migrate})})
    for manifest in render_kubernetes(spec):
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def test_apply_order_puts_the_migration_job_before_the_deployment() -> None:
    kinds = [manifest["kind"] for manifest in render_kubernetes(SPEC)]
    assert kinds == [
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Job",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    ]


def test_deployment_probes_resources_and_placement() -> None:
    deployment = by_kind(render_kubernetes(SPEC))["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= SPEC.boot_seconds
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "256Mi"}
    assert container["env"] == [
        {"name": "LOG_LEVEL", "value": "info"},
        {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "orders-db", "key": "url"}},
        },
    ]
    assert pod["nodeSelector"] == {
        "topology.kubernetes.io/region": "eu-west-1",
        "node.kubernetes.io/instance-type": "m6i.large",
    }
    assert "replicas" not in deployment["spec"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_new_pods_wait_for_this_releases_migration_job() -> None:
    manifests = by_kind(render_kubernetes(SPEC))
    job = manifests["Job"]
    assert job["metadata"]["name"] == migration_job_name(SPEC)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "shipshape",
        "migrate",
        "apply",
    ]
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == SPEC.image
    assert "ttlSecondsAfterFinished" not in job["spec"]
    [wait] = manifests["Deployment"]["spec"]["template"]["spec"]["initContainers"]
    assert f"job/{migration_job_name(SPEC)}" in wait["command"]
    assert "--namespace=shop" in wait["command"]
    role = manifests["Role"]
    assert role["rules"][0]["resources"] == ["jobs"]
    assert manifests["RoleBinding"]["subjects"][0]["name"] == "orders"


def test_a_changed_job_gets_a_new_name_an_unchanged_one_keeps_it() -> None:
    newer = SPEC.model_copy(update={"image": "ghcr.io/acme/orders:1.5.0"})
    assert migration_job_name(newer) != migration_job_name(SPEC)
    more_env = SPEC.model_copy(update={"env": {"LOG_LEVEL": "debug"}})
    assert migration_job_name(more_env) != migration_job_name(SPEC)
    more_pods = SPEC.model_copy(update={"max_instances": 20})
    assert migration_job_name(more_pods) == migration_job_name(SPEC)
    assert len(migration_job_name(SPEC.model_copy(update={"name": "a" * 63}))) <= 63


def test_service_selects_only_serving_pods_not_the_migration_job() -> None:
    manifests = by_kind(render_kubernetes(SPEC))
    selector = manifests["Service"]["spec"]["selector"]
    job_labels = manifests["Job"]["spec"]["template"]["metadata"]["labels"]
    pod_labels = manifests["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert not selector.items() <= job_labels.items()


def test_autoscaler_and_disruption_budget() -> None:
    manifests = by_kind(render_kubernetes(SPEC))
    hpa = manifests["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert manifests["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1


def test_without_migrations_there_is_no_job_and_no_wait() -> None:
    spec = SPEC.model_copy(update={"migrate": SPEC.migrate.model_copy(update={"enabled": False})})
    manifests = by_kind(render_kubernetes(spec))
    assert "Job" not in manifests
    assert "initContainers" not in manifests["Deployment"]["spec"]["template"]["spec"]


@pytest.mark.parametrize("image", [None, "", "  "])
def test_an_image_is_required(image: str | None) -> None:
    with pytest.raises(ValueError, match="image: required"):
        render_kubernetes(SPEC.model_copy(update={"image": image}))


def test_the_largest_accepted_numbers_still_fit_the_schema() -> None:
    top = 2**31 - 1
    probe = {"period_seconds": top, "failure_threshold": top, "initial_delay_seconds": top}
    spec = DeploySpec.model_validate(
        {
            **SPEC.model_dump(exclude={"probes", "migrate"}),
            "min_instances": top,
            "max_instances": top,
            "probes": {"liveness": probe, "startup": probe},
            "migrate": {"timeout_seconds": top, "backoff_limit": top},
        }
    )
    manifests = by_kind(render_kubernetes(spec))
    for manifest in manifests.values():
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
    assert manifests["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == top


def test_numeric_resources_render_as_quantity_strings() -> None:
    spec = DeploySpec.model_validate({**SPEC.model_dump(), "cpu": 0.25, "memory": 268435456})
    [container] = by_kind(render_kubernetes(spec))["Deployment"]["spec"]["template"]["spec"][
        "containers"
    ]
    assert container["resources"]["requests"] == {"cpu": "0.25", "memory": "268435456"}


def test_yaml_stream_round_trips_without_aliases() -> None:
    manifests = render_kubernetes(SPEC)
    stream = to_yaml_stream(manifests)
    assert "&id" not in stream
    assert list(yaml.safe_load_all(stream)) == manifests
