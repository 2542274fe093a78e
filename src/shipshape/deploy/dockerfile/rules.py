"""The Dockerfile rules: ids, severities, a one-line why and fix each, and their checks.

A check is a function ``(LintContext) -> Iterable[(line, message)]``; the engine in
:mod:`.lint` turns what it yields into :class:`~shipshape.findings.Finding`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from shipshape.deploy.dockerfile.commands import (
    find_install,
    find_server,
    is_localhost,
    is_python_command,
    shell_commands,
    unpinned_requirements,
)
from shipshape.deploy.dockerfile.parse import (
    Instruction,
    ParsedDockerfile,
    Stage,
    exec_form,
    split_words,
    substitute,
)
from shipshape.findings import Rule, Severity

__all__ = ["RULES", "RULES_BY_ID", "SEED_CODES", "Check", "LintContext", "is_slim_image"]

SLIM_MARKERS = ("slim", "alpine", "distroless")
_SECRET_WORDS = frozenset(
    {"PASSWORD", "PASSWD", "PASS", "SECRET", "SECRETS", "TOKEN", "APIKEY", "CREDENTIAL"}
    | {"CREDENTIALS", "PRIVATEKEY"}
)
_KEY_KINDS = frozenset({"API", "ACCESS", "PRIVATE", "SECRET", "SIGNING", "ENCRYPTION", "MASTER"})
_NOT_SECRET_SUFFIX = frozenset({"FILE", "PATH", "DIR", "ID", "NAME", "URL", "HEADER", "LENGTH"})
_URL_CREDENTIALS = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
_ARCHIVE = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst)$", re.I)
_WHOLE_CONTEXT = frozenset({".", "./", "*", "./*", ".\\"})
_CACHE_CLEANUP = re.compile(
    r"pip3?\s+cache\s+purge|uv\s+cache\s+(clean|prune)|poetry\s+cache\s+clear"
    r"|rm\s+-[a-zA-Z]*[rR][a-zA-Z]*\s+[^;&|]*\.cache"
)
_IGNORE_COMMENT = re.compile(r"shipshape:\s*ignore(-file)?\s*=\s*([A-Za-z0-9_,\s-]+)")


def is_slim_image(image: str) -> bool:
    """Whether the image's name or tag names a slim, alpine or distroless variant."""
    reference = image.split("@", 1)[0].lower()
    return any(marker in reference for marker in SLIM_MARKERS)


@dataclass(slots=True)
class LintContext:
    """What the checks see: the parsed file and, when linting a path, the build context."""

    parsed: ParsedDockerfile
    directory: Path | None = None
    dockerfile_name: str = "Dockerfile"

    @property
    def final_scope(self) -> list[Instruction]:
        final = self.parsed.final
        return final.effective() if final is not None else self.parsed.preamble

    def stage_env(self, stage: Stage) -> dict[str, str]:
        """ARG defaults and ENV values in effect at the end of ``stage``."""
        env: dict[str, str] = {}
        global_args = self.parsed.global_args
        for instruction in stage.effective():
            if instruction.keyword == "ARG":
                for name, value in arg_pairs(instruction):
                    if value is not None:
                        env[name] = substitute(value, env) or value
                    elif name in global_args:
                        env[name] = global_args[name]
            elif instruction.keyword == "ENV":
                for name, value in env_pairs(instruction):
                    resolved = substitute(value, env)
                    env[name] = resolved if resolved is not None else value
        return env


def arg_pairs(instruction: Instruction) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    for word in split_words(instruction.value):
        name, sep, value = word.partition("=")
        pairs.append((name, value if sep else None))
    return pairs


def env_pairs(instruction: Instruction) -> list[tuple[str, str]]:
    words = split_words(instruction.value)
    if not words:
        return []
    if "=" not in words[0]:
        name, _, rest = instruction.value.strip().partition(" ")
        return [(name, " ".join(split_words(rest.strip())))]
    return [(w.partition("=")[0], w.partition("=")[2]) for w in words if "=" in w]


Check = Callable[[LintContext], Iterable[tuple[int | None, str]]]


@dataclass(frozen=True, slots=True)
class DockerfileRule:
    rule: Rule
    check: Check


def _missing_from(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    if not ctx.parsed.stages:
        yield 1, "no FROM instruction: there is no base image to build on"


def _not_slim(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    final = ctx.parsed.final
    if final is not None and not (
        is_slim_image(final.image) or is_slim_image(final.resolved_image)
    ):
        yield (
            final.line,
            f"final base image {final.resolved_image!r} is not slim, alpine or distroless",
        )


def _scope_lacks(ctx: LintContext, *keywords: str) -> tuple[int | None, bool]:
    final = ctx.parsed.final
    line = final.line if final is not None else 1
    return line, not any(i.keyword in keywords for i in ctx.final_scope)


def _missing_workdir(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    line, missing = _scope_lacks(ctx, "WORKDIR")
    if missing:
        yield line, "final stage sets no WORKDIR: files land in / next to the system"


def _missing_expose(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    line, missing = _scope_lacks(ctx, "EXPOSE")
    if missing:
        yield line, "final stage EXPOSEs no port"


def _missing_cmd(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    line, missing = _scope_lacks(ctx, "CMD", "ENTRYPOINT")
    if missing:
        yield line, "final stage has neither CMD nor ENTRYPOINT: the container runs nothing"


def _relative_workdir(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    for stage in ctx.parsed.stages:
        env = ctx.stage_env(stage)
        for instruction in stage.instructions:
            if instruction.keyword != "WORKDIR":
                continue
            path = substitute(instruction.value.strip().strip("\"'"), env)
            if path is None:
                continue
            if not (path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", path)):
                yield instruction.line, f"WORKDIR {path} is relative: it depends on the base image"


def _entry_points(stage: Stage) -> list[Instruction]:
    return [i for i in (stage.last("ENTRYPOINT"), stage.last("CMD")) if i is not None]


def _shell_form(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    final = ctx.parsed.final
    if final is None:
        return
    for instruction in _entry_points(final):
        value = instruction.value.strip()
        if exec_form(value) is None and not value.startswith("exec "):
            yield (
                instruction.line,
                (
                    f"{instruction.keyword} in shell form: /bin/sh is PID 1, so SIGTERM never "
                    "reaches the server and shutdown is not graceful"
                ),
            )


def _unpinned_base(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    for stage in ctx.parsed.stages:
        if stage.parent is not None:
            continue
        image = stage.resolved_base
        if image.lower() == "scratch" or "@" in image or "$" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        tag = last.partition(":")[2]
        if not tag:
            yield stage.line, f"base image {image!r} has no tag: each build may pull another one"
        elif tag == "latest":
            yield stage.line, f"base image {image!r} uses the moving 'latest' tag"


def _copied_sources(stage: Stage, before: int) -> list[str]:
    sources: list[str] = []
    for instruction in stage.effective():
        if instruction.line > before:
            break
        if instruction.line == before and instruction.keyword != "RUN":
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
        return ctx.directory is None or (ctx.directory / lock).exists()
    return False


def _runs(stage: Stage) -> Iterator[Instruction]:
    yield from (i for i in stage.instructions if i.keyword == "RUN")


def _unpinned_dependencies(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    pinned_before: set[int] = set()
    for stage in ctx.parsed.stages:
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
                if install.requirement_files or (install.needs_lock and not install.unpinned):
                    requirements_installed = True
                for spec in install.unpinned:
                    yield run.line, f"{install.tool}: {spec} is not pinned to an exact version"
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
                for name in install.requirement_files:
                    yield from _check_requirements(ctx, run.line, name)
        if requirements_installed:
            pinned_before.add(stage.index)


def _check_requirements(ctx: LintContext, line: int, name: str) -> Iterator[tuple[int | None, str]]:
    if ctx.directory is None or "$" in name:
        return
    candidates = [ctx.directory / name.lstrip("/"), ctx.directory / Path(name).name]
    for candidate in candidates:
        try:
            text = candidate.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for number, requirement in unpinned_requirements(text):
            yield (
                line,
                f"{candidate.name}:{number}: {requirement} is not pinned to an exact version",
            )
        return


def _package_cache(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    final = ctx.parsed.final
    if final is None:
        return
    for stage in final.lineage():
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


def _runs_as_root(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    final = ctx.parsed.final
    if final is None:
        return
    user = final.last("USER")
    if user is None:
        if "nonroot" in final.resolved_image.lower():
            return
        yield final.line, "final stage sets no USER, so the container runs as root"
        return
    name = substitute(user.value.strip(), ctx.stage_env(final))
    if name is not None and name.split(":", 1)[0] in {"root", "0"}:
        yield user.line, f"final stage runs as {name}"


def _runs_python(ctx: LintContext, stage: Stage) -> bool:
    if "python" in stage.resolved_image.lower():
        return True
    for instruction in stage.effective():
        if instruction.keyword in {"RUN", "CMD", "ENTRYPOINT"}:
            argvs = (
                [argv]
                if (argv := exec_form(instruction.value)) is not None
                else shell_commands(instruction.script)
            )
            if any(is_python_command(a) for a in argvs):
                return True
    return False


def _unbuffered(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    final = ctx.parsed.final
    if final is None or not _runs_python(ctx, final):
        return
    if ctx.stage_env(final).get("PYTHONUNBUFFERED"):
        return
    for instruction in _entry_points(final):
        argv = exec_form(instruction.value) or split_words(instruction.value)
        if "-u" in argv[1:3] and argv and "python" in argv[0]:
            return
    yield final.line, "PYTHONUNBUFFERED is not set: logs sit in a buffer and are lost on a crash"


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
    entrypoint, cmd = final.last("ENTRYPOINT"), final.last("CMD")
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
    for line, argv in candidates:
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


def _port_mismatch(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    launch = _launch(ctx)
    exposed = _exposed_ports(ctx)
    if launch is None or not exposed or launch.port is None or not launch.port.isdigit():
        return
    port = int(launch.port)
    if not any(low <= port <= high for low, high in exposed):
        declared = ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in exposed)
        yield launch.line, f"{launch.server} listens on port {port} but EXPOSE declares {declared}"


def _bound_locally(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    launch = _launch(ctx)
    if launch is not None and launch.host is not None and is_localhost(launch.host):
        yield (
            launch.line,
            (f"{launch.server} binds {launch.host}, which nothing outside the container can reach"),
        )


def _reload(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    launch = _launch(ctx)
    if launch is not None and launch.reload:
        yield launch.line, f"{launch.server} runs with auto-reload, a development mode"


def _is_secret_name(name: str) -> bool:
    tokens = [t for t in re.split(r"[_\-.]", name.upper()) if t]
    if not tokens or tokens[-1] in _NOT_SECRET_SUFFIX or "PUBLIC" in tokens:
        return False
    if _SECRET_WORDS & set(tokens):
        return True
    return any(t == "KEY" and i > 0 and tokens[i - 1] in _KEY_KINDS for i, t in enumerate(tokens))


def _secrets(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    instructions = [*ctx.parsed.preamble, *(i for s in ctx.parsed.stages for i in s.instructions)]
    for instruction in instructions:
        if instruction.keyword == "ENV":
            for name, value in env_pairs(instruction):
                if _URL_CREDENTIALS.search(value):
                    yield instruction.line, f"ENV {name} holds a URL with a password"
                elif value and _is_secret_name(name):
                    yield instruction.line, f"ENV {name} bakes a secret into every image layer"
        elif instruction.keyword == "ARG":
            for name, arg_value in arg_pairs(instruction):
                if arg_value and _URL_CREDENTIALS.search(arg_value):
                    yield instruction.line, f"ARG {name} holds a URL with a password"
                elif _is_secret_name(name):
                    yield (
                        instruction.line,
                        (
                            f"ARG {name} looks like a secret: build arguments stay in the "
                            "image history"
                        ),
                    )


def _add_for_copy(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    for stage in ctx.parsed.stages:
        for instruction in stage.instructions:
            if instruction.keyword != "ADD" or instruction.heredocs:
                continue
            argv = exec_form(instruction.value) or instruction.arguments
            sources = argv[:-1]
            remote = any("://" in s or s.startswith("git@") or s.endswith(".git") for s in sources)
            if sources and not remote and not any(_ARCHIVE.search(s) for s in sources):
                yield instruction.line, "ADD of local files: COPY does the same without surprises"


def _source_before_dependencies(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    for stage in ctx.parsed.stages:
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


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Whether ``.dockerignore`` ``patterns`` exclude the top-level ``path`` (last match wins)."""
    excluded = False
    for raw in patterns:
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip().lstrip("/").rstrip("/")
        pattern = re.sub(r"^(\./)+", "", pattern)
        if not pattern:
            continue
        regex = ""
        index = 0
        while index < len(pattern):
            char = pattern[index]
            if pattern.startswith("**/", index):
                regex += "(.*/)?"
                index += 3
                continue
            if pattern.startswith("**", index):
                regex += ".*"
                index += 2
                continue
            regex += {"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char))
            index += 1
        if re.fullmatch(regex, path):
            excluded = not negate
    return excluded


def _dockerignore(ctx: LintContext) -> Iterator[tuple[int | None, str]]:
    if ctx.directory is None:
        return
    specific = ctx.directory / f"{ctx.dockerfile_name}.dockerignore"
    ignore_file = specific if specific.is_file() else ctx.directory / ".dockerignore"
    try:
        patterns = ignore_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        yield None, ".dockerignore is missing: .git, .venv and local secrets go into the context"
        return
    leaked = [path for path in (".git", ".venv") if not dockerignore_excludes(patterns, path)]
    if leaked:
        yield None, f"{ignore_file.name} does not exclude {' or '.join(leaked)}"


def _rule(  # noqa: PLR0917 - a table row
    number: int, name: str, severity: Severity, why: str, fix: str, check: Check
) -> DockerfileRule:
    rule_id = f"SS-DF{number:03d}"
    uri = f"https://github.com/shipshape/shipshape/blob/main/docs/dockerfile.md#{rule_id.lower()}"
    return DockerfileRule(Rule(rule_id, name, severity, why, fix, uri), check)


_error, _warning, _info = Severity.error, Severity.warning, Severity.info

RULES: tuple[DockerfileRule, ...] = (
    _rule(1, "missing-from", _error, "Without FROM there is no image to build.",
          "Start the file with FROM python:3.12-slim (or your base).", _missing_from),
    _rule(2, "base-image-not-slim", _warning,
          "A full base image carries compilers and hundreds of MB the service never uses.",
          "Use a slim, alpine or distroless final base, e.g. python:3.12-slim.", _not_slim),
    _rule(3, "missing-workdir", _warning,
          "Without WORKDIR the app's files land in / among the system's.",
          "Add WORKDIR /app to the final stage.", _missing_workdir),
    _rule(4, "missing-expose", _warning,
          "EXPOSE documents the port for people, `docker run -P` and platforms.",
          "Add EXPOSE 8000 (the port the server listens on).", _missing_expose),
    _rule(5, "missing-cmd", _error,
          "Without CMD or ENTRYPOINT the container starts nothing.",
          'Add CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"].',
          _missing_cmd),
    _rule(6, "relative-workdir", _warning,
          "A relative WORKDIR depends on the base image's directory.",
          "Use an absolute path: WORKDIR /app.", _relative_workdir),
    _rule(7, "shell-form-cmd", _warning,
          "Shell form makes /bin/sh PID 1: SIGTERM never reaches the server, no graceful stop.",
          'Use exec form: CMD ["uvicorn", "app.main:app", ...] (or prefix the shell form '
          "with exec).", _shell_form),
    _rule(8, "unpinned-base-image", _warning,
          "An untagged or :latest base changes under you between builds.",
          "Pin a tag (python:3.12-slim) or a digest (@sha256:...).", _unpinned_base),
    _rule(9, "unpinned-dependencies", _warning,
          "Unpinned installs resolve new versions on every build: builds are not reproducible.",
          "Install from pinned requirements (name==version) or a lock file "
          "(uv sync --frozen, poetry.lock).", _unpinned_dependencies),
    _rule(10, "package-cache-in-image", _info,
          "pip/uv/poetry download caches add tens of MB to the final image.",
          "Use pip --no-cache-dir / uv --no-cache (or ENV PIP_NO_CACHE_DIR=1, UV_NO_CACHE=1) "
          "or RUN --mount=type=cache.", _package_cache),
    _rule(11, "runs-as-root", _error,
          "A process running as root turns any code-execution bug into root in the container.",
          "Create a user and switch to it: RUN useradd --system app, then USER app.",
          _runs_as_root),
    _rule(12, "python-unbuffered-unset", _info,
          "Buffered stdout delays logs and loses the last ones when the process dies.",
          "Add ENV PYTHONUNBUFFERED=1 to the final stage.", _unbuffered),
    _rule(13, "expose-port-mismatch", _error,
          "The server listens on a different port than the image declares: traffic goes nowhere.",
          "Make EXPOSE and the server's --port (or --bind) the same port.", _port_mismatch),
    _rule(14, "server-bound-to-localhost", _error,
          "A server bound to 127.0.0.1 (uvicorn's and gunicorn's default) is unreachable "
          "from outside the container.",
          "Bind all interfaces: --host 0.0.0.0 (gunicorn: --bind 0.0.0.0:8000).", _bound_locally),
    _rule(15, "server-reload", _warning,
          "Auto-reload watches files and restarts workers: a development mode, slow and fragile.",
          "Drop --reload (and fastapi dev, runserver) from the image's command.", _reload),
    _rule(16, "secret-in-env-or-arg", _error,
          "ENV values and build arguments are stored in the image and its history.",
          "Pass secrets at run time, or at build time with RUN --mount=type=secret.", _secrets),
    _rule(17, "add-instead-of-copy", _warning,
          "ADD also fetches URLs and unpacks archives; for local files that is a surprise waiting.",
          "Use COPY for local files and directories.", _add_for_copy),
    _rule(18, "source-before-dependencies", _warning,
          "Copying the whole source before installing dependencies reinstalls them on every "
          "code change.",
          "Copy the dependency files first (requirements.txt, or pyproject.toml and uv.lock), "
          "install, then COPY . .", _source_before_dependencies),
    _rule(19, "dockerignore-incomplete", _warning,
          "Without a .dockerignore excluding .git and .venv, the context and the image carry "
          "history, secrets and a foreign virtualenv.",
          "Add a .dockerignore listing at least .git and .venv.", _dockerignore),
)  # fmt: skip

RULES_BY_ID: dict[str, DockerfileRule] = {rule.rule.id: rule for rule in RULES}

SEED_CODES: dict[str, str] = {
    "SS-DF001": "missing_from",
    "SS-DF002": "base_image_not_slim",
    "SS-DF003": "missing_workdir",
    "SS-DF004": "missing_expose",
    "SS-DF005": "missing_cmd",
}
