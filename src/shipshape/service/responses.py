"""Small raw-ASGI responses the layer sends itself (probes, 413, 429, 500)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shipshape.observe.logs import encode_json
from shipshape.service._types import Send

__all__ = ["PROBLEM_JSON", "problem", "send_json", "send_problem"]

PROBLEM_JSON = b"application/problem+json"


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    headers: Iterable[tuple[bytes, bytes]] = (),
    *,
    head: bool = False,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})


async def send_json(
    send: Send,
    status: int,
    value: Any,
    content_type: bytes = b"application/json",
    headers: Iterable[tuple[bytes, bytes]] = (),
    *,
    head: bool = False,
) -> None:
    await send_bytes(send, status, encode_json(value), content_type, headers, head=head)


async def send_problem(
    send: Send,
    status: int,
    title: str,
    detail: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
    **extra: Any,
) -> None:
    """An RFC 9457 ``application/problem+json`` response."""
    await send_json(send, status, problem(status, title, detail, **extra), PROBLEM_JSON, headers)


def problem(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The body of an RFC 9457 problem, as every answer of the layer's own has it."""
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
