"""Property-based API tests of the example service with schemathesis.

Every operation of the example's OpenAPI schema is exercised with generated
requests through the full production layer: no 5xx, and every response conforms
to the schema (status codes, content types, bodies).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from shipshape.examples.orders import create_app, metadata
from shipshape.service import ServiceSettings, production

_DB = Path(tempfile.mkdtemp(prefix="shipshape-schemathesis-")) / "orders.db"
_APP = create_app(f"sqlite:///{_DB}")
_SERVICE = production(
    _APP,
    ServiceSettings(
        drain_seconds=0,
        tracing={"enabled": False},
        logs={"configure_logging": False, "access_log": False},
        ratelimit={"enabled": False},
    ),
)

schema = schemathesis.openapi.from_asgi("/openapi.json", _SERVICE)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_example_service_conforms_to_its_schema(case: schemathesis.Case[Any]) -> None:
    # schemathesis calls the app without a lifespan, so the tables are made here
    metadata.create_all(_APP.state.engine)
    case.call_and_validate()
