"""Checks on what a Python image runs: dependency installs, caches, and the server command."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shipshape.deploy.dockerfile.commands import shell_commands
from shipshape.deploy.dockerfile.context import Found, LintContext
from shipshape.deploy.dockerfile.installs import (
    find_install,
    requirement_references,
    unpinned_requirements,
)
from shipshape.deploy.dockerfile.parse import Instruction, Stage, exec_form, split_words, substitute
from shipshape.deploy.dockerfile.servers import find_server, is_localhost

__all__ = [
    "check_bound_locally",
    "check_package_cache",
    "check_port_mismatch",
    "check_reload",
    "check_source_before_dependencies",
    "check_unpinned_dependencies",
]

_WHOLE_CONTEXT = frozenset({".", "./", "*", "./*", ".\\"})
_CACHE_CLEANUP = re.compile(
    r"pip3?\s+cache\s+purge|uv\s+cache\s+(clean|prune)|poetry\s+cache\s+clear"
    r"|rm\s+-[a-zA-Z]*[rR][a-zA-Z]*\s+[^;&|]*\.cache"
)


def _copied_sources(stage: Stage, before: int) -> list[str]:
    """Sources copied (or bind-mounted) into ``stage`` before line ``before``; for an
    ONBUILD stage, everything in the image it builds on, then the triggers before it."""
    if stage.onbuild and stage.parent is not None:
        return [
            *_sources(stage.parent.effective(), None),
            *_sources(stage.instructions, before),
        ]
    return _sources(stage.effective(), before)


def _sources(instructions: list[Instruction], before: int | None) -> list[str]:
    sources: list[str] = []
    for instruction in instructions:
        if before is not None and (
            instruction.line > before
            or (instruction.line == before and instruction.keyword != "RUN")
        ):
            break
        if instruction.keyword in {"COPY", "ADD"} and "from" not in instruction.flags:
            argv = exec_form(instruction.value) or instruction.arguments
            sources.extend(argv[:-1])
        if instruction.keyword == "RUN":
            for mount in (w for w in split_words(instruction.value) if w.startswith("--mount=")):
                match = re.search(r"(?:source|src)=([^,]+)", mount)
                if match and "from=" not in mount:
                    sources.append(match.group(1))
    return sources


def _lock_available(ctx: LintContext, stage: Stage, before: int, lock: str) -> bool:
    sources = _copied_sources(stage, before)
    if any(Path(source).name == lock for source in sources):
        return True
    if any(source in _WHOLE_CONTEXT for source in sources):
        # an ONBUILD trigger copies from the downstream build's context, unknown here
        return ctx.directory is None or stage.onbuild or (ctx.directory / lock).exists()
    return False


def _runs(stage: Stage) -> Iterator[Instruction]:
    yield from (i for i in stage.instructions if i.keyword == "RUN")


def check_unpinned_dependencies(ctx: LintContext) -> Iterator[Found]:
    pinned_before: set[int] = set()
    for stage in ctx.stages_and_triggers():
        env = ctx.stage_env(stage)
        parent = stage.parent.index if stage.parent is not None else None
        requirements_installed = parent in pinned_before
        for run in _runs(stage):
            for argv in shell_commands(run.script):
                install = find_install(argv, env)
                if install is None:
                    continue
                if install.unpinned_project and not (
                    requirements_installed or install.requirement_files
                ):
                    yield (
                        run.line,
                        (
                            f"{install.tool}: a local project is installed with its dependencies "
                            "unpinned (from its metadata)"
                        ),
                    )
                if install.requirement_files or (install.needs_lock and not install.unlocked):
                    requirements_installed = True
                for spec in install.unpinned:
                    yield run.line, f"{install.tool}: {spec} is not pinned to an exact version"
                if install.unlocked:
                    yield run.line, install.unlocked
                if install.needs_lock in {"poetry.lock", "Pipfile.lock"} and not _lock_available(
                    ctx, stage, run.line, install.needs_lock
                ):
                    yield (
                        run.line,
                        (
                            f"{install.tool} installs without {install.needs_lock} in the image, "
                            "so it resolves versions afresh"
                        ),
                    )
                if not stage.onbuild:  # a trigger reads the downstream build's context
                    for name in install.requirement_files:
                        yield from _check_requirements(ctx, run.line, name)
        if requirements_installed and not stage.onbuild:
            pinned_before.add(stage.index)


def _check_requirements(ctx: LintContext, line: int, name: str) -> Iterator[Found]:
    """Unpinned lines of the requirements file ``name`` in the build context, and of the
    files it pulls in with ``-r`` (read relative to it, as pip does). A ``-c``
    constraints file anywhere in that tree pins the names of the whole install, as pip
    applies constraints to every requirement of the run."""
    found: list[Found] = []
    if not _walk_requirements(ctx, line, name, found):
        yield from found


def _walk_requirements(ctx: LintContext, line: int, name: str, found: list[Found]) -> bool:
    """Add the unpinned lines of ``name`` and its ``-r`` files (depth first, in file
    order, each file once, however deep the chain) to ``found``; whether a ``-c``
    constraints file was met on the way."""
    if ctx.directory is None:
        return False
    seen: set[Path] = set()
    pending: list[tuple[str, Path | None]] = [(name, None)]
    while pending:
        name, within = pending.pop()
        if "$" in name:
            continue
        if within is not None and not name.startswith("/"):
            candidates = [within / name]
        else:
            candidates = [ctx.directory / name.lstrip("/"), ctx.directory / Path(name).name]
        for candidate in candidates:
            try:
                text = candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            resolved = candidate.resolve()
            if resolved in seen:
                break
            seen.add(resolved)
            try:
                shown = candidate.relative_to(ctx.directory).as_posix()
            except ValueError:
                shown = candidate.name
            references = requirement_references(text)
            if any(kind == "-c" for kind, _ in references):
                return True
            for number, requirement in unpinned_requirements(text):
                message = f"{shown}:{number}: {requirement} is not pinned to an exact version"
                found.append((line, message))
            included = [(ref, candidate.parent) for kind, ref in references if kind == "-r"]
            pending.extend(reversed(included))
            break
    return False


def check_package_cache(ctx: LintContext) -> Iterator[Found]:
    final = ctx.parsed.final
    if final is None:
        return
    lineage = final.lineage()
    onbuild = [s for s in (stage.onbuild_stage() for stage in lineage) if s is not None]
    for stage in [*lineage, *onbuild]:
        env = ctx.stage_env(stage)
        for run in _runs(stage):
            if "type=cache" in run.flags.get("mount", "") or re.search(
                r"--mount=\S*type=cache", run.value
            ):
                continue
            if _CACHE_CLEANUP.search(run.script):
                continue
            tools = []
            for argv in shell_commands(run.script):
                install = find_install(argv, env)
                if install is not None and install.keeps_cache and install.tool not in tools:
                    tools.append(install.tool)
            if tools:
                keep = "keeps its download cache" if len(tools) == 1 else "keep their caches"
                yield run.line, f"{' and '.join(tools)} {keep} in the final image"


@dataclass(frozen=True, slots=True)
class _Launch:
    line: int
    server: str
    host: str | None
    port: str | None
    reload: bool


def _launch(ctx: LintContext) -> _Launch | None:
    final = ctx.parsed.final
    if final is None:
        return None
    env = ctx.stage_env(final)
    entrypoint, cmd = final.command()
    candidates: list[tuple[int, list[str]]] = []
    ep_argv = exec_form(entrypoint.value) if entrypoint else None
    cmd_argv = exec_form(cmd.value) if cmd else None
    if entrypoint is not None and ep_argv is not None:
        candidates.append((entrypoint.line, ep_argv + (cmd_argv or [])))
    for instruction in (entrypoint, cmd):
        if instruction is None:
            continue
        argv = exec_form(instruction.value)
        if argv is not None:
            candidates.append((instruction.line, argv))
        else:
            candidates.extend((instruction.line, c) for c in shell_commands(instruction.value))
    for line, words in candidates:
        # ${BIND:-0.0.0.0:9000} is split into host and port only once it is expanded
        argv = [substitute(word, env) or word if "$" in word else word for word in words]
        server = find_server(argv, env)
        if server is not None:
            host = substitute(server.host, env) if server.host is not None else None
            port = substitute(server.port, env) if server.port is not None else None
            return _Launch(line, server.name, host, port, server.reload)
    return None


def _exposed_ports(ctx: LintContext) -> list[tuple[int, int]] | None:
    final = ctx.parsed.final
    if final is None:
        return None
    env = ctx.stage_env(final)
    ranges: list[tuple[int, int]] = []
    for instruction in final.effective():
        if instruction.keyword != "EXPOSE":
            continue
        for word in split_words(instruction.value):
            resolved = substitute(word, env)
            if resolved is None:
                return None
            low, _, high = resolved.split("/", 1)[0].partition("-")
            if not low.isdigit() or (high and not high.isdigit()):
                return None
            ranges.append((int(low), int(high or low)))
    return ranges


def check_port_mismatch(ctx: LintContext) -> Iterator[Found]:
    launch = _launch(ctx)
    exposed = _exposed_ports(ctx)
    if launch is None or not exposed or launch.port is None or not launch.port.isdigit():
        return
    port = int(launch.port)
    if not any(low <= port <= high for low, high in exposed):
        declared = ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in exposed)
        yield launch.line, f"{launch.server} listens on port {port} but EXPOSE declares {declared}"


def check_bound_locally(ctx: LintContext) -> Iterator[Found]:
    launch = _launch(ctx)
    if launch is not None and launch.host is not None and is_localhost(launch.host):
        yield (
            launch.line,
            (f"{launch.server} binds {launch.host}, which nothing outside the container can reach"),
        )


def check_reload(ctx: LintContext) -> Iterator[Found]:
    launch = _launch(ctx)
    if launch is not None and launch.reload:
        yield launch.line, f"{launch.server} runs with auto-reload, a development mode"


def check_source_before_dependencies(ctx: LintContext) -> Iterator[Found]:
    for stage in ctx.stages_and_triggers():
        env = ctx.stage_env(stage)
        copied: Instruction | None = None
        for instruction in stage.instructions:
            if instruction.keyword in {"COPY", "ADD"} and "from" not in instruction.flags:
                argv = exec_form(instruction.value) or instruction.arguments
                if copied is None and any(s in _WHOLE_CONTEXT for s in argv[:-1]):
                    copied = instruction
            elif instruction.keyword == "RUN":
                installs = [find_install(argv, env) for argv in shell_commands(instruction.script)]
                if any(i is not None and i.installs_dependencies for i in installs):
                    if copied is not None:
                        yield (
                            copied.line,
                            (
                                f"the whole source is copied before the dependency install on line "
                                f"{instruction.line}: every code change reinstalls every dependency"
                            ),
                        )
                    break
