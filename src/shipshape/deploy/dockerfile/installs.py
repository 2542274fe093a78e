"""Dependency installs in RUN lines (pip, uv, poetry, pipenv, pipx): pinned? cached?"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shipshape.deploy.dockerfile.commands import base_name, normalize

__all__ = ["Install", "find_install", "requirement_references", "unpinned_requirements"]

_PIP = re.compile(r"^pip(\d+(\.\d+)?)?$")
_EXACT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?\s*===?\s*[^*,<>=!~\s]+$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?")
_VERSIONED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?\s*(==|!=|~=|<=|>=|<|>)")
_PIP_VALUE_OPTIONS = frozenset(
    """-r --requirement -c --constraint -e --editable -i --index-url --extra-index-url -f
    --find-links -t --target --prefix --root --platform --python-version --implementation
    --abi --only-binary --no-binary --progress-bar --trusted-host --cache-dir --src
    --upgrade-strategy --global-option --config-settings -C --report --log --timeout
    --retries --proxy --cert --client-cert --exists-action --python -p --root-user-action
    --install-option --build-option --group --keyring-provider --use-feature
    --use-deprecated --index --default-index --override --overrides --extra
    --python-platform --build-constraint -b --excludes --torch-backend --prerelease
    --resolution --index-strategy --link-mode --reinstall-package --upgrade-package -P
    --no-build-isolation-package --exclude-newer --config-file --directory --project -w
    --wheel-dir --pip-args --suffix --with --package --only-group --no-group""".split()  # noqa: SIM905
)


@dataclass(slots=True)
class Install:
    """A dependency install: which tool, what is not pinned, whether it keeps a cache."""

    tool: str
    unpinned: list[str] = field(default_factory=list)
    """Requirement specs that are not exact (``fastapi``, ``httpx>=0.27``)."""
    requirement_files: list[str] = field(default_factory=list)
    installs_dependencies: bool = True
    keeps_cache: bool = True
    needs_lock: str | None = None
    unlocked: str | None = None
    unpinned_project: bool = False


def _pin_problem(spec: str) -> str | None:
    """Why a pip requirement spec is not pinned, or None when it is exact or a file/URL."""
    spec = spec.strip()
    if not spec or "$" in spec or spec.startswith(("-", "'", '"')):
        return None
    lowered = spec.lower()
    if lowered.startswith(("git+", "hg+", "svn+", "bzr+")):
        ref = spec.split("://", 1)[-1].split("#", 1)[0]
        return None if "@" in ref.split("/", 1)[-1] else f"{spec} (no commit or tag)"
    versioned = _VERSIONED.match(spec) is not None  # fastapi==0.* is a range, not a glob
    if "://" in spec or lowered.endswith((".whl", ".tar.gz", ".zip", ".tgz")):
        return None
    if "*" in spec and not versioned:
        return None  # a path glob: /wheels/*
    if "@" in spec:
        return None
    requirement = spec.split(";", 1)[0].strip()
    if _EXACT.match(requirement):
        return None
    return requirement if _NAME.match(requirement) else None


def _is_local_path(word: str) -> bool:
    return word.startswith((".", "/", "~")) or ("/" in word and "://" not in word)


def _pip_install(args: list[str], tool: str) -> Install:
    install = Install(tool=tool)
    specs: list[str] = []
    project = False
    no_deps = constrained = no_index = False
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        name, sep, attached = word.partition("=")
        if word in {"-r", "--requirement"} or (name == "--requirement" and sep):
            target = attached if sep else (args[index] if index < len(args) else "")
            index += 0 if sep else 1
            install.requirement_files.append(target)
        elif word.startswith("-r") and len(word) > 2 and not word.startswith("--"):
            install.requirement_files.append(word[2:])
        elif word in {"-c", "--constraint"} or (name == "--constraint" and sep):
            constrained = True
            index += 0 if sep else 1
        elif word in {"-e", "--editable"} or (name == "--editable" and sep):
            target = attached if sep else (args[index] if index < len(args) else "")
            index += 0 if sep else 1
            if _is_local_path(target):
                project = True
            else:
                specs.append(target)
        elif word == "--no-deps":
            no_deps = True
        elif word == "--no-index":
            no_index = True
        elif word in {"--no-cache-dir", "--no-cache", "-n"}:
            install.keeps_cache = False
        elif word.startswith("-"):
            if word in _PIP_VALUE_OPTIONS and not sep:
                index += 1
        elif index < len(args) and args[index] == "@":
            index += 2
        elif _is_local_path(word) and not word.lower().endswith((".whl", ".tar.gz", ".zip")):
            project = True
        else:
            specs.append(word)
    if constrained or no_index:
        specs = []
    install.unpinned = [problem for spec in specs if (problem := _pin_problem(spec))]
    install.unpinned_project = project and not (no_deps or constrained or no_index)
    install.installs_dependencies = bool(
        install.requirement_files or specs or (project and not no_deps)
    )
    return install


def _with_assignments(argv: list[str], command: list[str], env: dict[str, str]) -> dict[str, str]:
    """``env`` plus the ``NAME=value`` words before ``command`` in ``argv``
    (``PIP_NO_CACHE_DIR=1 pip install ...``, ``env UV_NO_CACHE=1 uv sync``)."""
    if not command or len(command) > len(argv) or argv[len(argv) - len(command) :] != command:
        return env
    prefix = argv[: len(argv) - len(command)]
    assigned = dict(
        word.split("=", 1) for word in prefix if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", word)
    )
    return {**env, **assigned} if assigned else env


def find_install(argv: list[str], env: dict[str, str]) -> Install | None:
    """The dependency install ``argv`` performs, or None."""
    command = normalize(argv)
    env = _with_assignments(argv, command, env)
    argv = command
    if len(argv) < 2:
        return None
    head, sub = base_name(argv[0]), argv[1]
    if _PIP.match(head) and sub in {"install", "wheel"}:
        install = _pip_install(argv[2:], "pip")
        if env.get("PIP_NO_CACHE_DIR", "").strip():
            # pip turns the cache off for any value, "off" and "0" included
            install.keeps_cache = False
        return install
    if head == "uv":
        rest = [word for word in argv[1:] if word not in {"-q", "--quiet", "-v", "--verbose"}]
        if rest[:2] in (["pip", "install"], ["pip", "sync"]):
            install = _pip_install(rest[2:], "uv")
            if rest[1] == "sync":
                install.requirement_files = [w for w in rest[2:] if not w.startswith("-")]
                install.unpinned = []
            install.keeps_cache = install.keeps_cache and not _truthy(env.get("UV_NO_CACHE"))
            return install
        if rest[:1] == ["sync"]:
            locked = {"--frozen", "--locked"} & set(rest) or _truthy(
                env.get("UV_FROZEN") or env.get("UV_LOCKED")
            )
            keeps = not ({"--no-cache", "-n"} & set(rest) or _truthy(env.get("UV_NO_CACHE")))
            return Install(
                tool="uv",
                unlocked=None
                if locked
                else "uv sync without --frozen or --locked may re-resolve and rewrite uv.lock",
                keeps_cache=keeps,
                needs_lock="uv.lock",
            )
        if rest[:2] == ["tool", "install"]:
            specs = [w for w in rest[2:] if not w.startswith("-")]
            return Install(
                tool="uv",
                unpinned=[p for spec in specs[:1] if (p := _pin_problem(spec))],
                installs_dependencies=False,
                keeps_cache=not ({"--no-cache", "-n"} & set(rest)),
            )
        return None
    if head == "poetry" and "install" in argv[1:3]:
        keeps = "--no-cache" not in argv and not _truthy(env.get("POETRY_NO_CACHE"))
        return Install(tool="poetry", keeps_cache=keeps, needs_lock="poetry.lock")
    if head == "pipenv" and sub in {"install", "sync"}:
        locked = sub == "sync" or {"--deploy", "--ignore-pipfile"} & set(argv)
        return Install(
            tool="pipenv",
            unlocked=None
            if locked
            else "pipenv install without --deploy does not enforce Pipfile.lock",
            keeps_cache=False,
            needs_lock="Pipfile.lock",
        )
    if head == "pipx" and sub == "install":
        specs = [w for w in argv[2:] if not w.startswith("-")]
        return Install(
            tool="pipx",
            unpinned=[p for spec in specs[:1] if (p := _pin_problem(spec))],
            installs_dependencies=False,
            keeps_cache=False,
        )
    return None


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in {"", "0", "false", "no", "off"}


_REFERENCE = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?<=^-[rc]))(\S+)")


def _joined_lines(text: str) -> list[tuple[int, str]]:
    """A requirements file's logical lines (``\\`` continuations joined), numbered."""
    joined: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        joined.append((start, pending + raw))
        pending = ""
    if pending:
        joined.append((start, pending))
    return joined


def requirement_references(text: str) -> list[tuple[str, str]]:
    """The files a requirements file pulls in: ``("-r", path)`` for ``-r``/``--requirement``
    lines, ``("-c", path)`` for ``-c``/``--constraint``; paths as written (pip reads them
    relative to the including file)."""
    found: list[tuple[str, str]] = []
    for _, line in _joined_lines(text):
        match = _REFERENCE.match(line.strip())
        if match and "://" not in match.group(2):
            kind = "-c" if match.group(1) in {"-c", "--constraint"} else "-r"
            found.append((kind, match.group(2)))
    return found


def unpinned_requirements(text: str) -> list[tuple[int, str]]:
    """``(line, requirement)`` for each line of a requirements file that is not pinned
    (none when the file uses ``--hash`` or a ``-c`` constraints file)."""
    found: list[tuple[int, str]] = []
    joined = _joined_lines(text)
    if any("--hash" in line for _, line in joined):
        return []
    if any(kind == "-c" for kind, _ in requirement_references(text)):
        return []
    for number, line in joined:
        requirement = re.split(r"(^|\s)#", line, maxsplit=1)[0].strip()
        if not requirement or requirement.startswith("-"):
            continue
        if _is_local_path(requirement):
            continue
        problem = _pin_problem(requirement.split(" --", 1)[0])
        if problem:
            found.append((number, problem))
    return found
