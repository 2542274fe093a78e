"""shipshape: the production layer for Pydantic services.

The twelve seed functions of the course are the exact, documented contract; the
production capabilities are built on the same cores.
"""

from __future__ import annotations

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

__all__ = [
    "__version__",
    "check_health",
    "compute_latency_metrics",
    "compute_migration",
    "failover_decisions",
    "find_critical_path",
    "format_log_entries",
    "lru_cache_sim",
    "merge_config",
    "round_robin_balance",
    "token_bucket_limiter",
    "validate_deploy_config",
    "validate_dockerfile",
]
