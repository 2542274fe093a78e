"""What the layer keeps of each finished request: its metrics sample and access line.

The middleware hands over one tuple per request; the metrics updates and the JSON
lines are made from them in a batch, once per event-loop turn. The work is the same,
but done in a tight loop it costs less than spread between requests, where each
request's own code has pushed it out of the CPU's caches (``bench/RESULTS.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

from shipshape.observe.logs import encode_json, utc_timestamp, write_lines
from shipshape.observe.metrics import Counter, Histogram

__all__ = ["Entry", "RequestRecorder", "access_line"]

#: ``(ended_at, status, method, route, request_id, path, elapsed, client, sent_bytes,
#: trace_ids, rate_limited)``: the end (``time.perf_counter()``; one wall-clock read
#: per batch turns it into a timestamp), the response status, the method and route
#: labels, the request id, the raw path, the duration in seconds, the client address,
#: the response body bytes, ``(trace_id, span_id)`` or ``None``, and whether the rate
#: limit refused the request.
Entry = tuple[float, int, str, str, str, str, float, str, int, tuple[str, str] | None, bool]

_STATUS_TEXT = {status: str(status) for status in range(100, 600)}
_BATCH = 256


def access_line(entry: Entry, to_epoch: float = 0.0) -> bytes:
    """The JSON access line of one request (without the newline); ``to_epoch`` is what
    turns the entry's end into seconds since the epoch."""
    at, status, method, route, rid, path, elapsed, client, sent_bytes, trace_ids, denied = entry
    # the same head as every shipshape log line (``line_head``), spelled out as one
    # literal: this runs once per request
    line: dict[str, Any] = {
        "timestamp": utc_timestamp(at + to_epoch),
        "level": "INFO" if status < 400 else ("WARNING" if status < 500 else "ERROR"),
        "message": f"{method} {route} {status}",
        "request_id": rid,
        "method": method,
        "route": route,
        "path": path,
        "status": status,
        "duration_ms": round(elapsed * 1000, 3),
        "client": client,
        "bytes": sent_bytes,
    }
    if trace_ids is not None:
        line["trace_id"], line["span_id"] = trace_ids
    if denied:
        line["rate_limited"] = True
    return encode_json(line)


class RequestRecorder:
    """Records finished requests in ``http_requests_total`` and
    ``http_request_duration_seconds`` (when ``requests_total``/``duration`` are given)
    and as JSON access lines on ``fd`` (when ``access_log``).

    ``add`` queues a request's entry; ``flush`` records every queued one. A flush is
    scheduled at the end of the current event-loop turn, so nothing waits on a timer;
    it also happens once 256 entries are waiting, at once outside a running loop, and
    whenever the metrics are read (``/metrics``, shutdown). Lines are written in
    chunks of whole lines of at most ``chunk`` bytes (``PIPE_BUF``), so the lines of
    several workers never interleave. ``flush`` never raises: lines the descriptor
    refuses are counted in ``lines_lost`` and reported once on stderr.
    """

    __slots__ = (
        "_entries",
        "_scheduled",
        "_told",
        "access_log",
        "chunk",
        "duration",
        "fd",
        "lines_lost",
        "requests_total",
    )

    def __init__(
        self,
        *,
        requests_total: Counter | None,
        duration: Histogram | None,
        access_log: bool,
        fd: int = 1,
        chunk: int = 4096,
    ) -> None:
        self.requests_total = requests_total
        self.duration = duration
        self.access_log = access_log
        self.fd = fd
        self.chunk = chunk
        self._entries: list[Entry] = []
        self._scheduled = False
        self._told = False
        #: access lines dropped because the file descriptor refused them
        self.lines_lost = 0

    def add(self, entry: Entry) -> None:
        self._entries.append(entry)
        if self._scheduled:
            if len(self._entries) >= _BATCH:
                self.flush()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        entries, self._entries = self._entries, []
        if not entries:
            return
        requests_total, duration = self.requests_total, self.duration
        if requests_total is not None and duration is not None:
            inc, observe = requests_total.inc, duration.observe
            for _, status, method, route, _, _, elapsed, *_ in entries:
                inc((method, route, _STATUS_TEXT.get(status) or str(status)))
                observe((method, route), elapsed)
        if self.access_log:
            to_epoch = time.time() - time.perf_counter()
            lines = [access_line(entry, to_epoch) + b"\n" for entry in entries]
            try:
                write_lines(self.fd, lines, self.chunk)
            except OSError as error:  # stdout full, closed, a broken pipe
                self._lost(len(lines), error)

    def _lost(self, count: int, error: OSError) -> None:
        """Access lines that could not be written are counted (``lines_lost``) and said
        once on stderr; requests, metrics and ``/metrics`` go on regardless."""
        self.lines_lost += count
        if self._told:
            return
        self._told = True
        message = f"shipshape: access lines cannot be written to fd {self.fd}: {error}\n"
        with contextlib.suppress(OSError):
            os.write(2, message.encode("utf-8", "replace"))
