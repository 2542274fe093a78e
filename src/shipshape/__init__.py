"""shipshape: the production layer for Pydantic services.

The twelve seed functions of the course are the exact, documented contract; the
production capabilities are built on the same cores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipshape.deploy.config import merge_config
from shipshape.deploy.dockerfile import validate_dockerfile
from shipshape.deploy.migrate import compute_migration
from shipshape.deploy.target import validate_deploy_config
from shipshape.observe.health import check_health
from shipshape.observe.logs import format_log_entries
from shipshape.observe.metrics import compute_latency_metrics
from shipshape.observe.tracing import find_critical_path
from shipshape.scale.balance import round_robin_balance
from shipshape.scale.cache import lru_cache_sim
from shipshape.scale.failover import failover_decisions
from shipshape.scale.ratelimit import token_bucket_limiter

__version__ = "0.1.0"

if TYPE_CHECKING:
    from shipshape.deploy.dockerfile import lint_dockerfile, lint_path
    from shipshape.deploy.kubernetes import render_kubernetes
    from shipshape.deploy.settings_layers import (
        FeatureFlags,
        SettingsError,
        load_settings,
        resolve_settings,
    )
    from shipshape.deploy.target import DeploySpec
    from shipshape.findings import Finding, Rule, Severity
    from shipshape.observe.critical_path import critical_paths
    from shipshape.observe.health import CheckResult, HealthChecks
    from shipshape.observe.trace_formats import read_traces
    from shipshape.scale.cache import LRUCache, TieredCache, cache_response, cached_model
    from shipshape.scale.failover import plan_failover
    from shipshape.scale.transport import AsyncBalancingTransport, BalancingTransport
    from shipshape.service import ProductionApp, ServiceSettings, production
    from shipshape.stores import (
        Decision,
        MemoryStore,
        RateLimitStore,
        StoreError,
        StoreUnavailable,
        open_store,
    )

# The production API, imported on first use so that `import shipshape` and the CLI
# stay light: name -> module that defines it.
_LAZY = {
    "production": "shipshape.service",
    "ProductionApp": "shipshape.service",
    "ServiceSettings": "shipshape.service",
    "HealthChecks": "shipshape.observe.health",
    "CheckResult": "shipshape.observe.health",
    "critical_paths": "shipshape.observe.critical_path",
    "read_traces": "shipshape.observe.trace_formats",
    "Finding": "shipshape.findings",
    "Severity": "shipshape.findings",
    "Rule": "shipshape.findings",
    "lint_dockerfile": "shipshape.deploy.dockerfile",
    "lint_path": "shipshape.deploy.dockerfile",
    "DeploySpec": "shipshape.deploy.target",
    "render_kubernetes": "shipshape.deploy.kubernetes",
    "load_settings": "shipshape.deploy.settings_layers",
    "resolve_settings": "shipshape.deploy.settings_layers",
    "FeatureFlags": "shipshape.deploy.settings_layers",
    "SettingsError": "shipshape.deploy.settings_layers",
    "LRUCache": "shipshape.scale.cache",
    "TieredCache": "shipshape.scale.cache",
    "cached_model": "shipshape.scale.cache",
    "cache_response": "shipshape.scale.cache",
    "BalancingTransport": "shipshape.scale.transport",
    "AsyncBalancingTransport": "shipshape.scale.transport",
    "plan_failover": "shipshape.scale.failover",
    "open_store": "shipshape.stores",
    "MemoryStore": "shipshape.stores",
    "RateLimitStore": "shipshape.stores",
    "Decision": "shipshape.stores",
    "StoreError": "shipshape.stores",
    "StoreUnavailable": "shipshape.stores",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shipshape' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AsyncBalancingTransport",
    "BalancingTransport",
    "CheckResult",
    "Decision",
    "DeploySpec",
    "FeatureFlags",
    "Finding",
    "HealthChecks",
    "LRUCache",
    "MemoryStore",
    "ProductionApp",
    "RateLimitStore",
    "Rule",
    "ServiceSettings",
    "SettingsError",
    "Severity",
    "StoreError",
    "StoreUnavailable",
    "TieredCache",
    "__version__",
    "cache_response",
    "cached_model",
    "check_health",
    "compute_latency_metrics",
    "compute_migration",
    "critical_paths",
    "failover_decisions",
    "find_critical_path",
    "format_log_entries",
    "lint_dockerfile",
    "lint_path",
    "load_settings",
    "lru_cache_sim",
    "merge_config",
    "open_store",
    "plan_failover",
    "production",
    "read_traces",
    "render_kubernetes",
    "resolve_settings",
    "round_robin_balance",
    "token_bucket_limiter",
    "validate_deploy_config",
    "validate_dockerfile",
]
