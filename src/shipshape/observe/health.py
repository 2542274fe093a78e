"""Health classification: healthy, degraded, unhealthy."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import re
import shutil
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from shipshape.observe.logs import utc_timestamp

__all__ = [
    "HEALTH_STATUSES",
    "CheckResult",
    "HealthChecks",
    "HealthReport",
    "check_health",
    "disk_check",
    "health_body",
    "http_check",
    "redis_check",
    "safe_output",
    "sql_check",
    "worst_status",
]

Status = Literal["healthy", "degraded", "unhealthy"]
HEALTH_STATUSES: tuple[Status, ...] = ("healthy", "degraded", "unhealthy")
_RANK: dict[str, int] = {status: rank for rank, status in enumerate(HEALTH_STATUSES)}
_STATUS_OF: dict[str, Status] = {status: status for status in HEALTH_STATUSES}


class HealthReport(TypedDict):
    status: Status
    details: dict[str, Status]


def dependency_status(name: str, value: Any) -> Status:
    """The status string of one dependency entry: a string or a mapping with ``status``."""
    status = value.get("status") if isinstance(value, Mapping) else value
    if not isinstance(status, str) or status not in _RANK:
        raise ValueError(
            f"dependency {name!r}: unknown status {status!r}; "
            f"expected one of {', '.join(HEALTH_STATUSES)}"
        )
    return _STATUS_OF[status]


def worst_status(statuses: Mapping[str, Status]) -> Status:
    """Unhealthy beats degraded beats healthy; no dependencies is healthy."""
    worst = 0
    for status in statuses.values():
        worst = max(worst, _RANK[status])
    return HEALTH_STATUSES[worst]


def check_health(deps: Mapping[str, Any]) -> HealthReport:
    """Classify a service from its dependencies' statuses.

    Values are status strings or mappings with a ``status`` key. ``details`` maps each
    dependency to its status. Raises ``ValueError`` for an unknown status.
    """
    if not isinstance(deps, Mapping):
        raise TypeError(f"dependencies must be a mapping, not {type(deps).__name__}")
    details = {str(name): dependency_status(str(name), value) for name, value in deps.items()}
    return {"status": worst_status(details), "details": details}


# -- live dependency checks ------------------------------------------------------------

IETF_STATUS: dict[Status, str] = {"healthy": "pass", "degraded": "warn", "unhealthy": "fail"}
_URL_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
# a network address in an error message: ('10.0.0.5', 6379), 10.0.0.5:6379, [::1]:5432
_ADDRESS_PATTERN = re.compile(
    r"\(\s*'[^']*'\s*,\s*\d+\s*\)"
    r"|\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"
    r"|\[[0-9A-Fa-f:.]+\](?::\d+)?"
)
_CREDENTIAL_PATTERN = re.compile(r"(?i)(password|passwd|pwd|token|secret)\s*[=:]\s*\S+")

CheckFunc = Callable[[], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one dependency check."""

    status: Status
    output: str = ""
    duration_ms: float = 0.0
    component_type: str = "component"
    #: when the check finished (epoch seconds; 0 when not run through ``HealthChecks``)
    checked_at: float = 0.0


@dataclass(slots=True)
class _Check:
    name: str
    func: CheckFunc
    timeout: float | None
    component_type: str


def safe_output(error: BaseException, secrets: Iterable[str] = ()) -> str:
    """An error summary fit for a public body: no URLs, no credentials."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    text = _URL_PATTERN.sub("<url>", text)
    text = _ADDRESS_PATTERN.sub("<address>", text)
    text = _CREDENTIAL_PATTERN.sub(r"\1=<redacted>", text)
    return text.splitlines()[0][:200] if text else ""


def _as_result(value: Any, component_type: str) -> CheckResult:
    if isinstance(value, CheckResult):
        if value.component_type == "component":  # the check's own type, where it has one
            return dataclasses.replace(value, component_type=component_type)
        return value
    if value is None or value is True:
        return CheckResult("healthy", component_type=component_type)
    if value is False:
        return CheckResult("unhealthy", "check returned false", component_type=component_type)
    return CheckResult(dependency_status("check", value), component_type=component_type)


class HealthChecks:
    """Dependency checks run concurrently, each with a timeout, results cached briefly.

    A check is an ``async`` callable returning ``None``/``True`` (healthy), ``False``
    (unhealthy), a status string, or a ``CheckResult``; raising makes it unhealthy.
    Concurrent probes share one run, and a run's report is reused for
    ``cache_seconds`` so probes cannot stampede a database.
    """

    def __init__(
        self,
        *,
        timeout: float = 2.0,
        cache_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._checks: dict[str, _Check] = {}
        self._cached: tuple[float, dict[str, CheckResult]] | None = None
        self._running: asyncio.Future[dict[str, CheckResult]] | None = None
        self._secrets: list[str] = []

    def __len__(self) -> int:
        return len(self._checks)

    def names(self) -> list[str]:
        return list(self._checks)

    def add(
        self,
        name: str,
        func: CheckFunc,
        *,
        timeout: float | None = None,
        component_type: str = "component",
        secrets: Iterable[str] = (),
    ) -> None:
        if name in self._checks:
            raise ValueError(f"a health check named {name!r} is already registered")
        self._checks[name] = _Check(name, func, timeout, component_type)
        self._secrets.extend(secret for secret in secrets if secret)
        self._cached = None

    def check(
        self, name: str | None = None, *, timeout: float | None = None
    ) -> Callable[[CheckFunc], CheckFunc]:
        """Register an ``async def`` as a check: ``@checks.check("payments")``."""

        def register(func: CheckFunc) -> CheckFunc:
            self.add(name or func.__name__, func, timeout=timeout)
            return func

        return register

    async def results(self) -> dict[str, CheckResult]:
        """Every check's latest result: cached, or from the one run in flight, or fresh.

        The run is a task of its own, so a probe that gives up (its client left) never
        cancels the run other probes are waiting for.
        """
        cached = self._cached
        if cached is not None and self._clock() - cached[0] < self.cache_seconds:
            return cached[1]
        running = self._running
        if running is None or running.done():
            running = self._running = asyncio.ensure_future(self._run_all())
        return await asyncio.shield(running)

    async def _run_all(self) -> dict[str, CheckResult]:
        checks = list(self._checks.values())
        outcomes = await asyncio.gather(*(self._run(check) for check in checks))
        results = {check.name: outcome for check, outcome in zip(checks, outcomes, strict=True)}
        self._cached = (self._clock(), results)
        return results

    async def _run(self, check: _Check) -> CheckResult:
        started = time.perf_counter()
        timeout = check.timeout if check.timeout is not None else self.timeout
        try:
            async with asyncio.timeout(timeout):
                value = await check.func()
            result = _as_result(value, check.component_type)
        except TimeoutError:
            result = CheckResult(
                "unhealthy", f"timed out after {timeout:g}s", component_type=check.component_type
            )
        except Exception as error:
            result = CheckResult(
                "unhealthy", safe_output(error, self._secrets), component_type=check.component_type
            )
        elapsed = (time.perf_counter() - started) * 1000
        return CheckResult(
            result.status, result.output, round(elapsed, 3), result.component_type, time.time()
        )

    async def aclose(self) -> None:
        """Release what the checks hold (engines, clients)."""
        for check in self._checks.values():
            close = getattr(check.func, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    async def report(self) -> HealthReport:
        results = await self.results()
        return check_health({name: result.status for name, result in results.items()})


def health_body(
    report: HealthReport,
    results: Mapping[str, CheckResult],
    *,
    service_id: str,
    checked_at: str,
    notes: Iterable[str] = (),
) -> dict[str, Any]:
    """The IETF ``application/health+json`` body, with our statuses alongside.

    ``status`` is pass/warn/fail; ``health`` and ``details`` carry healthy/degraded/
    unhealthy per dependency (the seed ``check_health`` shape).
    """
    checks: dict[str, list[dict[str, Any]]] = {}
    for name, result in results.items():
        entry: dict[str, Any] = {
            "componentType": result.component_type,
            "status": IETF_STATUS[result.status],
            "health": result.status,
            "observedValue": result.duration_ms,
            "observedUnit": "ms",
            # when this reading was taken (a cached one keeps its time)
            "time": utc_timestamp(result.checked_at) if result.checked_at else checked_at,
        }
        if result.output:
            entry["output"] = result.output
        checks[f"{name}:responseTime"] = [entry]
    body: dict[str, Any] = {
        "status": IETF_STATUS[report["status"]],
        "health": report["status"],
        "serviceId": service_id,
        "details": report["details"],
        "checks": checks,
    }
    if notes:
        body["notes"] = list(notes)
    return body


# -- built-in checks --------------------------------------------------------------------


class sql_check:
    """``SELECT 1`` through SQLAlchemy on a thread of its own; one small engine, reused.

    A ping still blocked from an earlier run (a blackholed database) is not joined by
    another: the check answers unhealthy at once instead of piling up threads.
    """

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        # a connection attempt gives up within the check's timeout, so a ping that hung
        # (a database that accepts and then never answers) cannot block the next checks
        seconds = max(1, math.ceil(timeout))
        connect_args: dict[str, Any] = {}
        backend = make_url(url).get_backend_name()
        if backend == "postgresql":
            connect_args["connect_timeout"] = seconds
        elif backend in {"mysql", "mariadb"}:
            connect_args.update(connect_timeout=seconds, read_timeout=seconds)
        self.engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=1,
            max_overflow=0,
            pool_timeout=seconds,
            connect_args=connect_args,
        )
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sql-check")
        self._pending: asyncio.Future[None] | None = None

    def _ping(self) -> None:
        from sqlalchemy import text

        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    async def __call__(self) -> CheckResult | None:
        if self._pending is not None and not self._pending.done():
            return CheckResult(
                "unhealthy",
                "the previous check is still waiting for the database",
                component_type="datastore",
            )
        pending = asyncio.get_running_loop().run_in_executor(self._executor, self._ping)
        pending.add_done_callback(_consume_outcome)
        self._pending = pending
        await asyncio.shield(pending)
        return None

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.engine.dispose()


def _consume_outcome(future: asyncio.Future[None]) -> None:
    """Mark a ping's outcome as seen, even when the probe that started it gave up."""
    if not future.cancelled():
        future.exception()


class redis_check:
    """``PING`` with redis.asyncio; one client, reused."""

    def __init__(self, url: str, *, timeout: float = 1.0) -> None:
        import redis.asyncio as redis_asyncio

        self.client = redis_asyncio.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )

    async def __call__(self) -> None:
        await self.client.ping()

    async def aclose(self) -> None:
        await self.client.aclose()


# set while an HTTP check runs: httpx logs every request's full URL at INFO, and a
# check's URL may carry a password or a token
_in_http_check: ContextVar[bool] = ContextVar("shipshape_in_http_check", default=False)


class _QuietHttpChecks(logging.Filter):
    """Drops httpx's request lines for the requests of HTTP health checks."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _in_http_check.get()


_HTTP_CHECK_FILTER = _QuietHttpChecks()


def http_check(url: str, *, degraded_after_ms: float = 1000.0, timeout: float = 5.0) -> CheckFunc:
    """A GET that must answer 2xx/3xx within ``timeout`` seconds; slower than
    ``degraded_after_ms`` is degraded. The check's requests are not logged (httpx's
    ``HTTP Request: GET <url>`` line would print the URL, credentials included)."""
    import httpx

    httpx_logger = logging.getLogger("httpx")
    if _HTTP_CHECK_FILTER not in httpx_logger.filters:
        httpx_logger.addFilter(_HTTP_CHECK_FILTER)

    async def check() -> CheckResult:
        started = time.perf_counter()
        quiet = _in_http_check.set(True)
        try:
            async with httpx.AsyncClient(follow_redirects=False, timeout=timeout) as client:
                response = await client.get(url)
        finally:
            _in_http_check.reset(quiet)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code >= 400:
            return CheckResult("unhealthy", f"HTTP {response.status_code}", component_type="http")
        if elapsed > degraded_after_ms:
            return CheckResult("degraded", f"slow: {elapsed:.0f} ms", component_type="http")
        return CheckResult("healthy", component_type="http")

    return check


def disk_check(path: str, min_free_bytes: int) -> CheckFunc:
    """Unhealthy below ``min_free_bytes`` free, degraded below twice that."""

    async def check() -> CheckResult:
        usage = shutil.disk_usage(path)
        free_mib = usage.free // (1024 * 1024)
        if usage.free < min_free_bytes:
            return CheckResult("unhealthy", f"{free_mib} MiB free", component_type="system")
        if usage.free < 2 * min_free_bytes:
            return CheckResult("degraded", f"{free_mib} MiB free", component_type="system")
        return CheckResult("healthy", component_type="system")

    return check
