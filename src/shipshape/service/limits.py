"""Rate-limit plumbing of the production layer: client keys, policies, headers."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable, MutableMapping
from typing import Any

from shipshape.service.settings import RateLimitSettings
from shipshape.stores.base import Decision

__all__ = ["ClientKeys", "Limiter", "Policy", "PolicyTable"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Policy:
    """One token bucket: ``name`` shows in the RateLimit headers and the bucket key.

    Everything a request needs from it (the bucket key prefix, the header bytes, the
    metric labels) is made once, here.
    """

    __slots__ = (
        "_allowed_headers",
        "_last",
        "_policy_pair",
        "allowed_labels",
        "bucket_prefix",
        "capacity",
        "closed_labels",
        "denied_labels",
        "name",
        "open_labels",
        "policy_header",
        "quoted_name",
        "refill_rate",
        "state_prefix",
    )

    def __init__(self, name: str, capacity: int, refill_rate: float) -> None:
        self.name = name
        self.capacity = capacity
        self.refill_rate = refill_rate
        self.quoted_name = f'"{name}"'
        header = f"{self.quoted_name};q={capacity}"
        if self.window_seconds:
            header += f";w={self.window_seconds}"
        self.policy_header = header.encode("ascii")
        self.state_prefix = f"{self.quoted_name};r=".encode("ascii")
        self.bucket_prefix = f"{name}:"
        self.allowed_labels = (name, "allowed")
        self.denied_labels = (name, "denied")
        self.open_labels = (name, "open")
        self.closed_labels = (name, "closed")
        self._policy_pair = (b"ratelimit-policy", self.policy_header)
        self._allowed_headers: dict[tuple[int, int], list[tuple[bytes, bytes]]] = {}
        self._last: tuple[Decision | None, list[tuple[bytes, bytes]]] = (None, [])

    def __repr__(self) -> str:
        return f"Policy({self.name!r}, capacity={self.capacity}, refill_rate={self.refill_rate})"

    @property
    def window_seconds(self) -> int:
        """Seconds an empty bucket takes to fill (the ``w`` of RateLimit-Policy)."""
        if self.refill_rate <= 0:
            return 0
        return max(1, math.ceil(self.capacity / self.refill_rate))

    def headers(self, decision: Decision) -> list[tuple[bytes, bytes]]:
        """IETF ``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers),
        and ``Retry-After`` when the request is refused. The header lists of allowed
        decisions are remembered per (remaining, reset) and must not be mutated."""
        last_decision, last_headers = self._last
        if decision is last_decision:  # a store's shared decision (a client below its limit)
            return last_headers
        reset = decision.reset_after
        if reset <= 0:
            reset_seconds = 0
        elif reset == math.inf:
            reset_seconds = _FOREVER
        else:
            reset_seconds = math.ceil(reset)
        remaining = decision.remaining if decision.remaining > 0 else 0
        if decision.allowed:
            key = (remaining, reset_seconds)
            cached = self._allowed_headers.get(key)
            if cached is None:
                cached = [
                    self._policy_pair,
                    (b"ratelimit", self.state_prefix + b"%d;t=%d" % key),
                ]
                if len(self._allowed_headers) >= 1024:
                    self._allowed_headers.clear()
                self._allowed_headers[key] = cached
            self._last = (decision, cached)
            return cached
        headers = [
            self._policy_pair,
            (b"ratelimit", self.state_prefix + b"%d;t=%d" % (remaining, reset_seconds)),
        ]
        if not decision.allowed:
            retry = decision.retry_after
            retry_seconds = _FOREVER if retry == math.inf else max(1, math.ceil(retry))
            headers.append((b"retry-after", b"%d" % retry_seconds))
        return headers


_FOREVER = 2**31 - 1


def _policy_name(route: str, method: str | None) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", route).strip("-") or "root"
    return f"{method.lower()}-{slug}" if method else slug


class PolicyTable:
    """The default policy plus per-route (and per-method) policies.

    Route policies name route templates (``/orders/{order_id}``); templates compile to
    regexes once, with Starlette's converters, and a path's answer is remembered. Of
    the policies matching a path, a literal template wins over one with parameters,
    then a policy for the method over one for every method, then configuration order.
    """

    def __init__(self, settings: RateLimitSettings) -> None:
        self.default = Policy("default", settings.capacity, settings.refill_rate)
        self._routes: list[tuple[re.Pattern[str], str | None, Policy]] = []
        # a policy's name keys its buckets: two routes whose names would read alike
        # (/orders/{order_id} and /orders/order-id, or /default) get a numbered one
        taken = {self.default.name}
        for rule in settings.policies:
            name = unique = _policy_name(rule.route, rule.method)
            number = 1
            while unique in taken:
                number += 1
                unique = f"{name}-{number}"
            taken.add(unique)
            policy = Policy(unique, rule.capacity, rule.refill_rate)
            self._routes.append((_template_regex(rule.route), rule.method, policy))
        # of the policies whose template matches a path, a literal template (the one a
        # router prefers too) wins over one with parameters, then a policy for the
        # request's method over one for every method, then the first configured
        rules = settings.policies
        order = sorted(
            range(len(rules)), key=lambda i: ("{" in rules[i].route, rules[i].method is None)
        )
        self._routes = [self._routes[index] for index in order]
        self._memo: dict[tuple[str, str], Policy] = {}

    def __bool__(self) -> bool:
        return bool(self._routes)

    def policies(self) -> list[Policy]:
        return [self.default, *(policy for _, _, policy in self._routes)]

    def lookup(self, method: str, path: str) -> Policy:
        if not self._routes:
            return self.default
        key = (method, path)
        found = self._memo.get(key)
        if found is not None:
            return found
        found = self.default
        for pattern, rule_method, policy in self._routes:
            if (rule_method is None or rule_method == method) and pattern.match(path):
                found = policy
                break
        if len(self._memo) >= 4096:
            self._memo.clear()
        self._memo[key] = found
        return found


def _template_regex(template: str) -> re.Pattern[str]:
    from starlette.routing import compile_path

    regex, _, _ = compile_path(template)
    return regex


class ClientKeys:
    """Who a request counts against: its client address (trusted-proxy aware) or API key.

    ``trusted_proxies`` holds CIDRs, and ``unix`` to trust a proxy on a Unix socket.
    ``X-Forwarded-For`` is read right to left; the first hop that is not a trusted
    proxy is the client. Hops may carry a port (``203.0.113.7:5123``,
    ``[2001:db8::1]:443``), and IPv4-mapped IPv6 addresses count as IPv4.
    """

    def __init__(self, key: str, trusted_proxies: Iterable[str]) -> None:
        self.header: bytes | None = (
            key.removeprefix("header:").lower().encode("latin-1") if key != "client" else None
        )
        entries = list(trusted_proxies)
        self.trust_unix = "unix" in entries
        self.proxies: tuple[Network, ...] = tuple(
            ipaddress.ip_network(cidr, strict=False) for cidr in entries if cidr != "unix"
        )

    @property
    def uses_forwarded(self) -> bool:
        return bool(self.proxies) or self.trust_unix

    def _trusted(self, address: IP | None) -> bool:
        return address is not None and any(address in network for network in self.proxies)

    def _peer_trusted(self, scope: MutableMapping[str, Any]) -> bool:
        client = scope.get("client")
        return self.trust_unix if not client else self._trusted(parse_address(str(client[0])))

    def client_address(self, scope: MutableMapping[str, Any], forwarded_for: bytes | None) -> str:
        """The peer address, or, behind trusted proxies, the first untrusted hop from the right."""
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        peer_trusted = self._peer_trusted(scope)
        if forwarded_for is None or not peer_trusted:
            return peer
        hops = [parse_address(hop) for hop in forwarded_for.decode("latin-1").split(",")]
        for hop in reversed(hops):
            if hop is None:
                return peer
            if not self._trusted(hop):
                return str(hop)
        return str(hops[0]) if hops and hops[0] is not None else peer

    def forwarded_scheme(self, scope: MutableMapping[str, Any], forwarded_proto: bytes) -> None:
        """From a trusted proxy, ``X-Forwarded-Proto`` (``http`` or ``https``) is the
        scheme the client used: the app's absolute URLs and redirects then say so."""
        scheme = forwarded_proto.decode("latin-1").strip().lower()
        if scheme in _SCHEMES and self._peer_trusted(scope):
            if scope["type"] == "websocket":
                scheme = "wss" if scheme == "https" else "ws"
            scope["scheme"] = scheme

    def forwarded_client(self, scope: MutableMapping[str, Any], client: str) -> None:
        """Let the app see the client found behind trusted proxies (``client_address``)
        as its peer, as a server's own proxy-header handling would."""
        peer = scope.get("client")
        if client != "unknown" and (not peer or str(peer[0]) != client):
            scope["client"] = (client, 0)

    def forward_websocket(self, scope: MutableMapping[str, Any]) -> None:
        """A WebSocket connection's client and scheme behind trusted proxies."""
        forwarded_for: bytes | None = None
        forwarded_proto: bytes | None = None
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                forwarded_for = value if forwarded_for is None else forwarded_for + b"," + value
            elif name == b"x-forwarded-proto":
                forwarded_proto = value
        if forwarded_proto is not None:  # (before the peer below is replaced)
            self.forwarded_scheme(scope, forwarded_proto)
        if forwarded_for is not None:
            self.forwarded_client(scope, self.client_address(scope, forwarded_for))


_SCHEMES = frozenset({"http", "https"})

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> IP | None:
    """An address from a peer or ``X-Forwarded-For`` hop, port and brackets stripped."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class Limiter:
    """Policies over a store; decisions made without the store follow the fail policy."""

    def __init__(self, settings: RateLimitSettings, store: Any) -> None:
        self.policies = PolicyTable(settings)
        self.store = store
        self.fail_open = settings.fail_open

    async def take(self, policy: Policy, key: str) -> Decision:
        decision: Decision = await self.store.take(
            policy.bucket_prefix + key, policy.capacity, policy.refill_rate
        )
        return decision

    def without_store(self, policy: Policy) -> Decision:
        """The store is unreachable: admit (fail open) or refuse (fail closed)."""
        if self.fail_open:
            return Decision(True, policy.capacity, 0.0, 0.0)
        retry = 1.0
        return Decision(False, 0, retry, retry)
