"""The ASGI production layer."""

from __future__ import annotations

from shipshape.service.app import ProductionApp, production
from shipshape.service.settings import (
    HealthSettings,
    LogSettings,
    MetricsSettings,
    RateLimitPolicy,
    RateLimitSettings,
    ServiceSettings,
    TracingSettings,
)

__all__ = [
    "HealthSettings",
    "LogSettings",
    "MetricsSettings",
    "ProductionApp",
    "RateLimitPolicy",
    "RateLimitSettings",
    "ServiceSettings",
    "TracingSettings",
    "production",
]
