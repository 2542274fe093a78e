"""The public surface of ``shipshape``: a name entering or leaving ``__all__`` is a
visible decision, made here."""

from __future__ import annotations

import importlib.metadata
import inspect

import shipshape

# Keep sorted. Add a name here in the same change that exports and documents it.
EXPORTED = [
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

# The twelve seed functions and their exact parameter lists (issue 2).
SEED_SIGNATURES = {
    "validate_dockerfile": ["text"],
    "validate_deploy_config": ["config"],
    "merge_config": ["defaults", "overrides"],
    "compute_migration": ["old_schema", "new_schema"],
    "format_log_entries": ["entries"],
    "compute_latency_metrics": ["times"],
    "find_critical_path": ["spans"],
    "check_health": ["deps"],
    "round_robin_balance": ["servers", "num_requests"],
    "lru_cache_sim": ["capacity", "accesses"],
    "token_bucket_limiter": ["capacity", "refill_rate", "timestamps"],
    "failover_decisions": ["servers"],
}


def test_exported_list_is_sorted_and_unique() -> None:
    assert sorted(set(EXPORTED)) == EXPORTED


def test_all_is_exactly_the_documented_surface() -> None:
    assert sorted(shipshape.__all__) == EXPORTED
    assert len(shipshape.__all__) == len(set(shipshape.__all__))


def test_every_exported_name_exists() -> None:
    missing = [name for name in shipshape.__all__ if not hasattr(shipshape, name)]
    assert missing == []


def test_public_functions_are_not_private_implementation_names() -> None:
    for name in shipshape.__all__:
        member = getattr(shipshape, name)
        if inspect.isfunction(member) or inspect.isclass(member):
            assert not member.__name__.startswith("_"), name


def test_the_twelve_seed_functions_are_exported() -> None:
    assert len(SEED_SIGNATURES) == 12
    assert set(SEED_SIGNATURES) <= set(shipshape.__all__)


def test_seed_functions_keep_their_exact_parameters() -> None:
    for name, parameters in SEED_SIGNATURES.items():
        function = getattr(shipshape, name)
        signature = inspect.signature(function)
        assert list(signature.parameters) == parameters, name
        kinds = {parameter.kind for parameter in signature.parameters.values()}
        assert kinds == {inspect.Parameter.POSITIONAL_OR_KEYWORD}, name
        assert all(p.default is inspect.Parameter.empty for p in signature.parameters.values())


def test_seed_functions_are_documented() -> None:
    for name in SEED_SIGNATURES:
        assert inspect.getdoc(getattr(shipshape, name)), name


def test_version_matches_the_installed_distribution() -> None:
    assert shipshape.__version__ == importlib.metadata.version("shipshape")


def test_importing_shipshape_loads_no_optional_driver() -> None:
    import subprocess
    import sys

    code = (
        "import sys, shipshape\n"
        "shipshape.lru_cache_sim(1, [1])\n"
        "print(sorted(m for m in ('redis', 'fastapi', 'sqlalchemy') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
