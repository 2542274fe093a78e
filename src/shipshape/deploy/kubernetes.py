"""Render a :class:`DeploySpec` to Kubernetes manifests.

Ordering without Helm hooks: the migration Job is named after a hash of what it runs, so
each release gets a fresh Job; every new pod has an init container that waits for that
Job to complete. One ``kubectl apply`` therefore migrates first, and old pods keep serving
(``maxUnavailable: 0``) until the new ones are ready.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import yaml

from shipshape.deploy.target import DeploySpec, Probe

__all__ = ["IMAGE_REQUIRED", "migration_job_name", "render_kubernetes", "to_yaml_stream"]

Manifest = dict[str, Any]

SERVER = "server"
MIGRATION = "migration"
WAIT_USER = 65532  # "nonroot" of the distroless images kubectl is built on
IMAGE_REQUIRED = "required to render manifests (set `image:` in the deploy spec)"


def _labels(spec: DeploySpec, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": spec.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "shipshape",
    }


def _selector(spec: DeploySpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/component": SERVER}


def _metadata(spec: DeploySpec, name: str, component: str) -> dict[str, Any]:
    return {"name": name, "namespace": spec.namespace, "labels": _labels(spec, component)}


def migration_job_name(spec: DeploySpec) -> str:
    """``<name>-migrate-<hash of the Job's spec>``.

    Jobs are immutable, so any change to what the Job runs (image, command, env, secrets,
    resources) makes a new Job; re-applying an unchanged release keeps the completed one.
    """
    job_spec = _migration_job_spec(spec, spec.image or "")
    digest = hashlib.sha256(orjson.dumps(job_spec, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{spec.name[:46].rstrip('-')}-migrate-{digest[:8]}"


def _probe(probe: Probe) -> dict[str, Any]:
    return {
        "httpGet": {"path": probe.path, "port": "http"},
        "initialDelaySeconds": probe.initial_delay_seconds,
        "periodSeconds": probe.period_seconds,
        "timeoutSeconds": probe.timeout_seconds,
        "failureThreshold": probe.failure_threshold,
    }


def _env(spec: DeploySpec) -> list[dict[str, Any]]:
    plain: list[dict[str, Any]] = [
        {"name": name, "value": value} for name, value in sorted(spec.env.items())
    ]
    secret: list[dict[str, Any]] = [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": ref.secret, "key": ref.key}}}
        for name, ref in sorted(spec.secrets.items())
    ]
    return plain + secret


def _security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _container(spec: DeploySpec, image: str) -> dict[str, Any]:
    return {
        "name": spec.name,
        "image": image,
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "env": _env(spec),
        "resources": {
            "requests": {"cpu": spec.cpu, "memory": spec.memory},
            "limits": {"memory": spec.memory},
        },
        "startupProbe": _probe(spec.probes.startup),
        "livenessProbe": _probe(spec.probes.liveness),
        "readinessProbe": _probe(spec.probes.readiness),
        "securityContext": _security_context(),
    }


def _node_selector(spec: DeploySpec) -> dict[str, str]:
    return {
        "topology.kubernetes.io/region": spec.region,
        "node.kubernetes.io/instance-type": spec.instance_type,
    }


def _rbac(spec: DeploySpec) -> list[Manifest]:
    """The pods' ServiceAccount may read Jobs, so the init container can wait on one."""
    role = f"{spec.name[:52].rstrip('-')}-job-reader"
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _metadata(spec, spec.name, SERVER),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _metadata(spec, role, SERVER),
            "rules": [
                {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _metadata(spec, role, SERVER),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [
                {"kind": "ServiceAccount", "name": spec.name, "namespace": spec.namespace}
            ],
        },
    ]


def _migration_job_spec(spec: DeploySpec, image: str) -> dict[str, Any]:
    migrate = spec.migrate
    container = {
        "name": "migrate",
        "image": image,
        "command": list(migrate.command),
        "env": _env(spec),
        "resources": {
            "requests": {"cpu": spec.cpu, "memory": spec.memory},
            "limits": {"memory": spec.memory},
        },
        "securityContext": _security_context(),
    }
    return {
        "backoffLimit": migrate.backoff_limit,
        "activeDeadlineSeconds": migrate.timeout_seconds,
        "template": {
            "metadata": {"labels": _labels(spec, MIGRATION)},
            "spec": {
                "restartPolicy": "Never",
                "serviceAccountName": spec.name,
                "nodeSelector": _node_selector(spec),
                "containers": [container],
            },
        },
    }


def _migration_job(spec: DeploySpec, image: str) -> Manifest:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(spec, migration_job_name(spec), MIGRATION),
        "spec": _migration_job_spec(spec, image),
    }


def _deployment(spec: DeploySpec, image: str) -> Manifest:
    pod: dict[str, Any] = {
        "serviceAccountName": spec.name,
        "nodeSelector": _node_selector(spec),
        "containers": [_container(spec, image)],
    }
    if spec.migrate.enabled:
        job = migration_job_name(spec)
        pod["initContainers"] = [
            {
                "name": "wait-for-migrations",
                "image": spec.migrate.wait_image,
                "command": [
                    "kubectl",
                    "wait",
                    "--for=condition=complete",
                    f"job/{job}",
                    f"--namespace={spec.namespace}",
                    f"--timeout={spec.migrate.timeout_seconds}s",
                ],
                "resources": {
                    "requests": {"cpu": "10m", "memory": "32Mi"},
                    "limits": {"memory": "64Mi"},
                },
                # the kubectl image runs as root: name a user, or runAsNonRoot refuses it
                "securityContext": {
                    **_security_context(),
                    "runAsUser": WAIT_USER,
                    "runAsGroup": WAIT_USER,
                },
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(spec, spec.name, SERVER),
        "spec": {
            "selector": {"matchLabels": _selector(spec)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {"metadata": {"labels": _labels(spec, SERVER)}, "spec": pod},
        },
    }


def render_kubernetes(spec: DeploySpec) -> list[Manifest]:
    """Manifests in apply order: RBAC, migration Job, Deployment, Service, HPA, PDB.

    The Deployment leaves ``replicas`` to the HorizontalPodAutoscaler (min..max instances).
    Raises ``ValueError`` when the spec has no image (or a blank one).
    """
    image = spec.image
    if image is None or not image.strip():
        raise ValueError(f"image: {IMAGE_REQUIRED}")
    manifests: list[Manifest] = []
    if spec.migrate.enabled:
        manifests += [*_rbac(spec), _migration_job(spec, image)]
    else:
        manifests.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": _metadata(spec, spec.name, SERVER),
            }
        )
    manifests += [
        _deployment(spec, image),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _metadata(spec, spec.name, SERVER),
            "spec": {
                "type": "ClusterIP",
                "selector": _selector(spec),
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": _metadata(spec, spec.name, SERVER),
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": spec.name,
                },
                "minReplicas": spec.min_instances,
                "maxReplicas": max(spec.replicas_max, spec.min_instances),
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "averageUtilization": spec.target_cpu_percent,
                            },
                        },
                    }
                ],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _metadata(spec, spec.name, SERVER),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": _selector(spec)}},
        },
    ]
    return manifests


def to_yaml_stream(manifests: list[Manifest]) -> str:
    """A multi-document YAML stream, in apply order."""
    return yaml.safe_dump_all(manifests, sort_keys=False, explicit_start=True)
