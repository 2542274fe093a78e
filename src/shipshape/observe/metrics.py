"""Latency metrics: the percentile rule shared by every latency report."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import math
import os
import socket
import sys
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypedDict, TypeVar

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.core import Metric as PromMetric
from prometheus_client.registry import Collector

__all__ = [
    "Counter",
    "Gauge",
    "Histogram",
    "LatencyMetrics",
    "MetricsRegistry",
    "compute_latency_metrics",
    "percentile",
]


class LatencyMetrics(TypedDict):
    mean: float
    p50: float
    p95: float
    p99: float
    max: float


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The nearest-rank-below percentile: ``sorted_values[int(p / 100 * (n - 1))]``."""
    if not sorted_values:
        return 0.0
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    return float(sorted_values[int(p / 100 * (len(sorted_values) - 1))])


def compute_latency_metrics(times: Iterable[float]) -> LatencyMetrics:
    """Mean (rounded to 2 places), p50, p95, p99 and max of response ``times``.

    Percentiles index a sorted copy at ``int(p / 100 * (n - 1))``; empty input gives
    all ``0.0``. Raises ``ValueError`` for a value that is not a finite number.
    """
    values = _checked(times)
    ordered = sorted(values)
    if not ordered:
        return {"mean": 0.0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    return {
        # summed in the input's order, as the course's ``sum(times) / len(times)``: float
        # addition is not associative, and a sorted sum can round the other way
        "mean": round(sum(values) / len(values), 2),
        "p50": percentile(ordered, 50),
        "p95": percentile(ordered, 95),
        "p99": percentile(ordered, 99),
        "max": float(ordered[-1]),
    }


def _checked(times: Iterable[float]) -> list[float]:
    values = list(times)
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"time #{index} is not a number: {value!r}")
        if isinstance(value, int):
            if not -_FLOAT_MAX <= value <= _FLOAT_MAX:
                raise ValueError(f"time #{index} is too large to average: {value}")
        elif math.isnan(value):
            raise ValueError(f"time #{index} is not a number: {value!r}")
        elif math.isinf(value):
            raise ValueError(f"time #{index} is not a finite number: {value!r}")
    return values


_FLOAT_MAX = int(sys.float_info.max)


_M = TypeVar("_M", "Counter", "Gauge", "Histogram")


class Counter:
    """A monotonically increasing value per label tuple.

    Updates come from one thread (the event loop that runs the middleware); a
    scrape from another thread only reads.
    """

    __slots__ = ("documentation", "labelnames", "name", "values")

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, labels: tuple[str, ...] = (), amount: float = 1.0) -> None:
        values = self.values
        values[labels] = values.get(labels, 0.0) + amount


class Gauge:
    """A value that goes up and down (per process)."""

    __slots__ = ("documentation", "labelnames", "name", "values")

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.values: dict[tuple[str, ...], float] = {}

    def add(self, labels: tuple[str, ...], amount: float) -> None:
        values = self.values
        values[labels] = values.get(labels, 0.0) + amount

    def set(self, labels: tuple[str, ...], value: float) -> None:
        self.values[labels] = value


class Histogram:
    """Bucketed observations per label tuple; ``observe`` is a bisect and two adds."""

    __slots__ = ("bounds", "documentation", "labelnames", "name", "series")

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: tuple[str, ...] = (),
        buckets: Sequence[float] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    ) -> None:
        bounds = sorted(float(bound) for bound in buckets if bound != math.inf)
        if not bounds or len(set(bounds)) != len(bounds):
            raise ValueError("histogram buckets must be distinct and non-empty")
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.bounds = tuple(bounds)
        # per label tuple: [count per bucket..., count in +Inf bucket, sum]
        self.series: dict[tuple[str, ...], list[float]] = {}

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        row = self.series.get(labels)
        if row is None:
            row = self.series[labels] = [0.0] * (len(self.bounds) + 2)
        row[bisect_left(self.bounds, value)] += 1
        row[-1] += value


Metric = Counter | Gauge | Histogram

#: the key of a snapshot that holds the latest scrape request it answers
_ANSWERED = "#answered"


class MetricsRegistry:
    """Our metrics, exposed in the Prometheus text format through prometheus_client.

    With ``multiprocess_dir`` set (``--workers N``), each process snapshots its values
    to ``<dir>/<pid>-<token>.json`` every ``flush_interval`` seconds and at exit, and a
    scrape of any worker merges every process's latest snapshot with its own live
    values. Counters and histograms of exited workers keep counting; gauges only count
    live processes.

    A scrape first asks every other worker for a fresh snapshot (``refresh``): each
    process listens on a Unix datagram socket next to its snapshot file, and answers
    from its event loop, after the hooks given to ``before_snapshot`` (the requests it
    has finished but not yet recorded), so a scrape counts every request any worker
    answered before it.
    """

    def __init__(self, multiprocess_dir: str | None = None, flush_interval: float = 0.25) -> None:
        self.metrics: dict[str, Metric] = {}
        self.multiprocess_dir = Path(multiprocess_dir) if multiprocess_dir else None
        self.flush_interval = flush_interval
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        self._flush_lock = threading.Lock()
        self._file: Path | None = None
        self._socket: socket.socket | None = None
        self._socket_path: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hooks: list[Callable[[], None]] = []
        self._answered = 0

    def counter(self, name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> Counter:
        return self._register(Counter(name, documentation, labelnames))

    def gauge(self, name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> Gauge:
        return self._register(Gauge(name, documentation, labelnames))

    def histogram(
        self,
        name: str,
        documentation: str,
        labelnames: tuple[str, ...] = (),
        buckets: Sequence[float] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    ) -> Histogram:
        return self._register(Histogram(name, documentation, labelnames, buckets))

    def _register(self, metric: _M) -> _M:
        if metric.name in self.metrics:
            raise ValueError(f"metric {metric.name!r} is already registered")
        self.metrics[metric.name] = metric
        return metric

    def before_snapshot(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` (in the event loop) before a snapshot another worker asked for."""
        self._hooks.append(hook)

    # -- snapshots for several worker processes ---------------------------------------

    def snapshot(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, metric in list(self.metrics.items()):
            items: list[tuple[tuple[str, ...], Any]] = list(
                metric.series.items() if isinstance(metric, Histogram) else metric.values.items()
            )
            data[name] = [[list(labels), value] for labels, value in items]
        data[_ANSWERED] = self._answered
        return data

    def start(self) -> None:
        """Start the snapshot thread (a no-op without a multiprocess directory); called
        in the event loop, it also answers other workers' scrapes from that loop."""
        if self.multiprocess_dir is None or self._flusher is not None:
            return
        self.multiprocess_dir.mkdir(parents=True, exist_ok=True)
        self._file = self.multiprocess_dir / f"{os.getpid()}-{os.urandom(6).hex()}.json"
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._listen()
        self._stop.clear()
        self._flusher = threading.Thread(target=self._flush_loop, name="metrics-flush", daemon=True)
        self._flusher.start()
        atexit.register(self.stop)

    def _listen(self) -> None:
        """Bind the socket other workers' scrapes ask on; without one (a directory path
        too long for a Unix socket), others see this worker's periodic snapshots."""
        assert self._file is not None
        path = self._file.with_suffix(".sock")
        listener = None
        try:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            listener.bind(str(path))
        except (OSError, AttributeError):
            if listener is not None:
                listener.close()
            return
        self._socket, self._socket_path = listener, path

    def stop(self) -> None:
        if self._flusher is None:
            return
        self._stop.set()
        if self._socket_path is not None:
            with (
                contextlib.suppress(OSError),
                socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as waker,
            ):
                waker.sendto(b"0", str(self._socket_path))
        self._flusher.join(timeout=2)
        self._flusher = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._socket_path is not None:
            with contextlib.suppress(OSError):
                self._socket_path.unlink()
            self._socket_path = None
        self._loop = None
        self.flush()

    def _flush_loop(self) -> None:
        while not self._stop.is_set():
            asked = self._wait_for_request()
            if self._stop.is_set():
                return
            if asked:
                self._answer(asked)
            else:
                self.flush()

    def _wait_for_request(self) -> int:
        """The latest scrape request that arrives within ``flush_interval``, else 0."""
        listener = self._socket
        if listener is None:
            self._stop.wait(self.flush_interval)
            return 0
        asked = 0
        try:
            listener.settimeout(self.flush_interval)
            message = listener.recv(64)
            listener.setblocking(False)
            while True:  # every request waiting now is answered by one snapshot
                asked = max(asked, _request_time(message))
                message = listener.recv(64)
        except (TimeoutError, BlockingIOError):
            return asked
        except OSError:
            self._stop.wait(self.flush_interval)
            return asked

    def _answer(self, asked: int) -> None:
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._answer_in_loop, asked)
                return
            except RuntimeError:  # the loop is closed
                self._loop = None
        self._answered = max(self._answered, asked)
        self.flush()

    def _answer_in_loop(self, asked: int) -> None:
        for hook in self._hooks:
            with contextlib.suppress(Exception):
                hook()
        self._answered = max(self._answered, asked)
        self.flush()

    async def refresh(self, timeout: float = 0.5) -> None:
        """Ask every other live worker for a fresh snapshot and wait (at most
        ``timeout`` seconds) until each has written it; a no-op for one process."""
        directory = self.multiprocess_dir
        if self._file is None or directory is None:
            return
        asked = time.time_ns()
        message = str(asked).encode("ascii")
        waiting: list[Path] = []
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.setblocking(False)
            for path in directory.glob("*.sock"):
                if path == self._socket_path:
                    continue
                try:
                    sender.sendto(message, str(path))
                except (ConnectionRefusedError, FileNotFoundError):
                    with contextlib.suppress(OSError):
                        path.unlink()  # its worker is gone
                    continue
                except OSError:  # its queue is full: it has scrapes of its own to answer
                    continue
                waiting.append(path.with_suffix(".json"))
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
            waiting = [file for file in waiting if _answered(file) < asked]

    def flush(self) -> None:
        """Write this process's snapshot (atomically) to its own file."""
        if self._file is None:
            return
        temporary = self._file.with_suffix(".tmp")
        with self._flush_lock:
            try:
                temporary.write_bytes(orjson.dumps(self.snapshot()))
                temporary.replace(self._file)
            except OSError:
                return

    def _snapshots(self) -> list[tuple[bool, dict[str, Any]]] | None:
        """Every process's latest snapshot (this one's written just now), or ``None``
        when this registry is not shared. Files are named ``<pid>-<token>.json`` so a
        reused pid never overwrites an exited worker's counts; every file only grows,
        so a sum over files never goes down between scrapes.
        """
        if self._file is None or self.multiprocess_dir is None:
            return None
        self.flush()
        snapshots = []
        for file in self.multiprocess_dir.glob("*.json"):
            try:
                pid = int(file.stem.split("-", 1)[0])
                data = orjson.loads(file.read_bytes())
            except (ValueError, OSError, orjson.JSONDecodeError):
                continue
            if isinstance(data, dict):
                snapshots.append((_alive(pid), data))
        return snapshots

    # -- exposition ---------------------------------------------------------------------

    def collect(self) -> Iterator[PromMetric]:
        snapshots = self._snapshots()
        for name, metric in list(self.metrics.items()):
            if isinstance(metric, Histogram):
                if snapshots is None:
                    rows = [[list(labels), row] for labels, row in metric.series.items()]
                    yield self._histogram_family(metric, [rows])
                else:
                    yield self._histogram_family(
                        metric, [data.get(name, []) for _, data in snapshots]
                    )
                continue
            if snapshots is None:
                merged: dict[tuple[str, ...], float] = dict(metric.values)
            else:
                merged = {}
                for alive, data in snapshots:
                    if isinstance(metric, Gauge) and not alive:
                        continue
                    for labels, value in _pairs(data.get(name)):
                        if isinstance(value, int | float):
                            merged[labels] = merged.get(labels, 0.0) + value
            family: PromMetric
            if isinstance(metric, Counter):
                family = CounterMetricFamily(
                    name.removesuffix("_total"), metric.documentation, labels=metric.labelnames
                )
            else:
                family = GaugeMetricFamily(name, metric.documentation, labels=metric.labelnames)
            for labels, value in sorted(merged.items()):
                if len(labels) == len(metric.labelnames):
                    family.add_metric(list(labels), value)
            yield family

    def _histogram_family(
        self, metric: Histogram, sources: list[list[Any]]
    ) -> HistogramMetricFamily:
        width = len(metric.bounds) + 2
        merged: dict[tuple[str, ...], list[float]] = {}
        for rows in sources:
            for labels, row in _pairs(rows):
                if (
                    not isinstance(row, list)
                    or len(row) != width
                    or not all(isinstance(count, int | float) for count in row)
                ):
                    continue
                current = merged.get(labels)
                merged[labels] = (
                    list(row)
                    if current is None
                    else [a + b for a, b in zip(current, row, strict=True)]
                )
        family = HistogramMetricFamily(metric.name, metric.documentation, labels=metric.labelnames)
        bounds = [*(_bound_text(bound) for bound in metric.bounds), "+Inf"]
        for labels, row in sorted(merged.items()):
            if len(labels) != len(metric.labelnames):
                continue
            cumulative, buckets = 0.0, []
            for bound, count in zip(bounds, row[:-1], strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            family.add_metric(list(labels), buckets, row[-1])
        return family

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric (all workers merged)."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Adapter(self))
        return generate_latest(registry)


class _Adapter(Collector):
    def __init__(self, registry: MetricsRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[PromMetric]:
        return self.registry.collect()


def _pairs(rows: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
    """``(labels, value)`` pairs of a snapshot list, skipping malformed entries."""
    if not isinstance(rows, list):
        return
    for entry in rows:
        if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], list):
            yield tuple(str(label) for label in entry[0]), entry[1]


def _request_time(message: bytes) -> int:
    try:
        return max(0, int(message))
    except ValueError:
        return 0


def _answered(file: Path) -> int:
    """The latest scrape request a worker's snapshot file answers (0: none, unreadable)."""
    try:
        data = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return 0
    value = data.get(_ANSWERED) if isinstance(data, dict) else None
    return value if isinstance(value, int) else 0


def _bound_text(bound: float) -> str:
    return repr(float(bound))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
