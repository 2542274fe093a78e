"""``failover watch``: poll ``/readyz`` of a fleet, plan, and run hooks on change.

The I/O edge around :func:`~shipshape.scale.failover.plan_failover`. The
watcher keeps its own view of roles and the epoch: after a promotion the new
primary is primary under the new epoch and everybody else follows it. A server
whose ``/readyz`` JSON body carries ``role``, ``epoch``, ``lag`` or
``following`` (at the top level or under ``"failover"``) overrides that view.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shipshape.scale.failover import FailoverPlan, ServerSnapshot, plan_failover
from shipshape.scale.pool import HttpBaseUrl

__all__ = ["FailoverWatcher", "Hook", "HookResult", "WatchConfig", "WatchedServer", "run_hooks"]


class WatchedServer(BaseModel):
    """A server to poll: where it lives, its role at start and its priority."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    url: HttpBaseUrl
    role: Literal["primary", "replica"]
    priority: int = Field(default=100, ge=0)


class Hook(BaseModel):
    """A shell command run on every change of decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str = Field(min_length=1)
    timeout: float = Field(default=30.0, gt=0)


class WatchConfig(BaseModel):
    """The servers file of ``shipshape failover watch``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    servers: list[WatchedServer] = Field(min_length=1)
    hooks: list[Hook] = []
    readyz_path: str = "/readyz"
    timeout: float = Field(default=2.0, gt=0)
    down_after: int = Field(default=1, ge=1, description="failed probes in a row before down")
    epoch: int = Field(default=0, ge=0)
    max_lag: float | None = Field(default=None, ge=0)

    @field_validator("hooks", mode="before")
    @classmethod
    def _hook_strings(cls, hooks: Any) -> Any:
        if isinstance(hooks, list):
            return [{"command": hook} if isinstance(hook, str) else hook for hook in hooks]
        return hooks

    @field_validator("readyz_path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError("must start with /")
        return path

    @model_validator(mode="after")
    def _unique_names(self) -> WatchConfig:
        names = [server.name for server in self.servers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate server name(s): {', '.join(duplicates)}")
        return self


class HookResult(BaseModel):
    """How one hook run went; a failure is reported, never raised."""

    command: str
    ok: bool
    returncode: int | None
    error: str | None = None


@dataclass
class _View:
    role: Literal["primary", "replica"]
    priority: int
    epoch: int = 0
    lag: float = 0.0
    following: str | None = None
    failed_probes: int = 0


def _failover_fields(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(data, dict):
        return {}
    nested = data.get("failover")
    source = nested if isinstance(nested, dict) else data
    return {key: source[key] for key in ("role", "epoch", "lag", "following") if key in source}


def hook_environment(plan: FailoverPlan) -> dict[str, str]:
    """The ``SHIPSHAPE_FAILOVER_*`` variables describing ``plan``."""

    def servers(action: str) -> str:
        return ",".join(a.server for a in plan.actions if a.action == action)

    return {
        "SHIPSHAPE_FAILOVER_STATUS": plan.status,
        "SHIPSHAPE_FAILOVER_EPOCH": str(plan.epoch),
        "SHIPSHAPE_FAILOVER_PRIMARY": plan.primary or "",
        "SHIPSHAPE_FAILOVER_PROMOTED": plan.promoted or "",
        "SHIPSHAPE_FAILOVER_DRAIN": servers("drain"),
        "SHIPSHAPE_FAILOVER_REPOINT": servers("repoint"),
        "SHIPSHAPE_FAILOVER_DEMOTE": servers("demote"),
        "SHIPSHAPE_FAILOVER_ALERTS": "; ".join(plan.alerts),
    }


async def _run_hook(hook: Hook, plan: FailoverPlan, payload: bytes) -> HookResult:
    env = {**os.environ, **hook_environment(plan)}
    try:
        process = await asyncio.create_subprocess_shell(
            hook.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
    except OSError as error:
        return HookResult(command=hook.command, ok=False, returncode=None, error=str(error))
    try:
        _, stderr = await asyncio.wait_for(process.communicate(payload), hook.timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return HookResult(
            command=hook.command,
            ok=False,
            returncode=process.returncode,
            error=f"timed out after {hook.timeout}s",
        )
    if process.returncode == 0:
        return HookResult(command=hook.command, ok=True, returncode=0)
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return HookResult(
        command=hook.command,
        ok=False,
        returncode=process.returncode,
        error=lines[-1] if lines else f"exited with status {process.returncode}",
    )


async def run_hooks(hooks: list[Hook], plan: FailoverPlan) -> list[HookResult]:
    """Run every hook in order with the plan as env vars and as JSON on stdin."""
    payload = plan.model_dump_json().encode("utf-8")
    return [await _run_hook(hook, plan, payload) for hook in hooks]


@dataclass
class FailoverWatcher:
    """Polls the fleet, plans, and remembers what it decided."""

    config: WatchConfig
    client: httpx.AsyncClient
    epoch: int = 0
    last: FailoverPlan | None = None
    views: dict[str, _View] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.epoch = max(self.epoch, self.config.epoch)
        for server in self.config.servers:
            self.views.setdefault(server.name, _View(server.role, server.priority, self.epoch))

    async def _probe(self, server: WatchedServer) -> ServerSnapshot:
        view = self.views[server.name]
        fields: dict[str, Any] = {}
        try:
            # httpx's timeout bounds each read, not the answer: a server trickling its
            # body a byte at a time would hold the round. ``timeout`` is the whole probe.
            async with asyncio.timeout(self.config.timeout):
                response = await self.client.get(
                    server.url + self.config.readyz_path, timeout=self.config.timeout
                )
            healthy = response.is_success
            fields = _failover_fields(response.content)
        except (httpx.HTTPError, TimeoutError):
            healthy = False
        view.failed_probes = 0 if healthy else view.failed_probes + 1
        snapshot = {
            "name": server.name,
            "role": view.role,
            "healthy": view.failed_probes < self.config.down_after,
            "priority": view.priority,
            "lag": view.lag,
            "epoch": view.epoch,
            "following": view.following,
        }
        try:
            return ServerSnapshot.model_validate({**snapshot, **fields})
        except ValueError:
            return ServerSnapshot.model_validate(snapshot)

    async def poll(self) -> list[ServerSnapshot]:
        """One concurrent ``/readyz`` round, as snapshots."""
        return list(await asyncio.gather(*(self._probe(s) for s in self.config.servers)))

    def decide(self, snapshots: list[ServerSnapshot]) -> FailoverPlan:
        """Plan from ``snapshots`` and update the watcher's view of the fleet."""
        plan = plan_failover(snapshots, self.epoch, max_lag=self.config.max_lag)
        self.epoch = plan.epoch
        for action in plan.actions:
            view = self.views[action.server]
            if action.action == "promote":
                view.role, view.epoch, view.following, view.lag = "primary", plan.epoch, None, 0.0
            elif action.action in {"repoint", "demote"}:
                view.role, view.following = "replica", action.follow
            elif action.action == "drain" and plan.promoted is not None:
                view.role, view.following = "replica", plan.promoted
        return plan

    async def round(self) -> tuple[FailoverPlan, bool]:
        """Poll and plan once; ``True`` when the decision differs from the last one."""
        plan = self.decide(await self.poll())
        changed = self.last is None or plan != self.last
        self.last = plan
        return plan, changed
