"""What a RUN or CMD line does, as far as a Python service cares.

Shell text is split into simple commands (``&&``, ``||``, ``;``, ``|``, new
lines), wrappers are peeled off (``exec``, ``env``, ``python -m``, ``uv run``,
``tini --`` ...), and two things are recognised: dependency installs (pip, uv,
poetry, pipenv, pipx — how they are pinned and whether they leave a cache) and
ASGI/WSGI servers (where they bind and whether they reload).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath

__all__ = [
    "Install",
    "Server",
    "find_install",
    "find_server",
    "is_python_command",
    "normalize",
    "shell_commands",
    "unpinned_requirements",
]

_OPERATORS = frozenset({"&&", "||", ";", "|", "&", "(", ")", ";;", "|&", "{", "}", "!"})
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
_PIP = re.compile(r"^pip(\d+(\.\d+)?)?$")
_EXACT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?\s*===?\s*[^*,<>=!~\s]+$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?")

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
_WRAPPERS = frozenset({"exec", "sudo", "time", "nohup", "command", "builtin", "dumb-init", "tini"})
_RUNNERS = {
    "uv": "run",
    "poetry": "run",
    "pipenv": "run",
    "pdm": "run",
    "hatch": "run",
    "rye": "run",
}
_INSTRUMENTERS = frozenset({"opentelemetry-instrument", "ddtrace-run", "newrelic-admin"})
_LOCALHOST = re.compile(r"^(localhost|127(\.\d+){0,3}|::1|\[::1\])$")


def shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a shell script, each as an argv list."""
    commands: list[list[str]] = []
    for line in script.replace("\\\r\n", " ").replace("\\\n", " ").split("\n"):
        try:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|(){}!")
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError:
            tokens = line.split()
        current: list[str] = []
        for token in tokens:
            if token in _OPERATORS or set(token) <= set(";&|"):
                if current:
                    commands.append(current)
                current = []
            else:
                current.append(token)
        if current:
            commands.append(current)
    return commands


def _base(word: str) -> str:
    return PurePosixPath(word).name if word else word


def normalize(argv: list[str]) -> list[str]:
    """``argv`` without env assignments and wrappers, ``python -m X`` as ``X``."""
    argv = list(argv)
    for _ in range(10):
        while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):
            argv.pop(0)
        if not argv:
            return argv
        head = _base(argv[0])
        if head in _WRAPPERS:
            argv.pop(0)
            while argv and argv[0].startswith("-"):
                stop = argv.pop(0) == "--"
                if stop:
                    break
            continue
        if head == "env":
            argv.pop(0)
            while argv and (argv[0].startswith("-") or "=" in argv[0]):
                argv.pop(0)
            continue
        if head in {"gosu", "su-exec"} and len(argv) > 2:
            argv = argv[2:]
            continue
        if head in {"sh", "bash", "ash", "dash"} and "-c" in argv[1:3]:
            position = argv.index("-c")
            inner = shell_commands(argv[position + 1]) if len(argv) > position + 1 else []
            argv = inner[-1] if inner else []
            continue
        if _PYTHON.match(head):
            rest = argv[1:]
            while rest and rest[0].startswith("-") and rest[0] != "-m":
                rest.pop(0)
            if len(rest) >= 2 and rest[0] == "-m":
                argv = rest[1:]
                continue
            return argv
        if head in _RUNNERS and len(argv) > 1 and argv[1] == _RUNNERS[head]:
            rest = argv[2:]
            while rest and rest[0].startswith("-"):
                option = rest.pop(0)
                if option in {"--with", "--python", "-p", "--package", "--env-file"} and rest:
                    rest.pop(0)
            argv = rest
            continue
        if head in _INSTRUMENTERS:
            rest = argv[1:]
            if head == "newrelic-admin" and rest[:1] == ["run-program"]:
                rest = rest[1:]
            while rest and rest[0].startswith("-"):
                option = rest.pop(0)
                if "=" not in option and rest and not rest[0].startswith("-"):
                    rest.pop(0)
            argv = rest
            continue
        return argv
    return argv


def is_python_command(argv: list[str]) -> bool:
    """Whether a command runs Python (an interpreter, a Python tool or a Python server)."""
    argv = normalize(argv)
    if not argv:
        return False
    head = _base(argv[0])
    return bool(
        _PYTHON.match(head)
        or _PIP.match(head)
        or head in {"uv", "poetry", "pipenv", "pipx", "pdm", "hatch"}
        or head in _SERVER_DEFAULTS
        or head.endswith(".py")
    )


# --- dependency installs ---------------------------------------------------------------------


@dataclass(slots=True)
class Install:
    """A dependency install: which tool, what is not pinned, whether it keeps a cache."""

    tool: str
    unpinned: list[str] = field(default_factory=list)
    requirement_files: list[str] = field(default_factory=list)
    installs_dependencies: bool = True
    keeps_cache: bool = True
    needs_lock: str | None = None
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
    if "://" in spec or lowered.endswith((".whl", ".tar.gz", ".zip", ".tgz")) or "*" in spec:
        return None
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


def find_install(argv: list[str], env: dict[str, str]) -> Install | None:
    """The dependency install ``argv`` performs, or None."""
    argv = normalize(argv)
    if len(argv) < 2:
        return None
    head, sub = _base(argv[0]), argv[1]
    if _PIP.match(head) and sub in {"install", "wheel"}:
        install = _pip_install(argv[2:], "pip")
        if _truthy(env.get("PIP_NO_CACHE_DIR")):
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
                unpinned=[] if locked else ["uv sync without --frozen or --locked"],
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
            unpinned=[] if locked else ["pipenv install without --deploy"],
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


def unpinned_requirements(text: str) -> list[tuple[int, str]]:
    """``(line, requirement)`` for each line of a requirements file that is not pinned."""
    found: list[tuple[int, str]] = []
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
    if any("--hash" in line for _, line in joined):
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


# --- servers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Server:
    """An ASGI/WSGI server started by CMD/ENTRYPOINT: where it listens, whether it reloads."""

    name: str
    host: str | None
    port: str | None
    reload: bool


# name -> (default host, default port, host options, port options, bind options, reload options)
_SERVER_DEFAULTS: dict[str, tuple[str, str, set[str], set[str], set[str], set[str]]] = {
    "uvicorn": ("127.0.0.1", "8000", {"--host"}, {"--port"}, set(), {"--reload"}),
    "gunicorn": ("127.0.0.1", "8000", set(), set(), {"-b", "--bind"}, {"--reload"}),
    "hypercorn": ("127.0.0.1", "8000", set(), set(), {"-b", "--bind"}, {"--reload"}),
    "granian": ("127.0.0.1", "8000", {"--host"}, {"--port"}, set(), {"--reload"}),
    "daphne": ("127.0.0.1", "8000", {"-b", "--bind"}, {"-p", "--port"}, set(), set()),
    "fastapi": ("0.0.0.0", "8000", {"--host"}, {"--port"}, set(), {"--reload"}),
    "flask": ("127.0.0.1", "5000", {"-h", "--host"}, {"-p", "--port"}, set(), {"--reload"}),
    "shipshape": ("127.0.0.1", "8000", {"--host"}, {"--port"}, set(), {"--reload"}),
    "manage.py": ("127.0.0.1", "8000", set(), set(), set(), set()),
}


def _split_bind(bind: str) -> tuple[str | None, str | None]:
    if bind.startswith(("unix:", "fd://")):
        return None, None
    if bind.startswith("["):
        host, _, port = bind[1:].partition("]")
        return host, port.lstrip(":") or "8000"
    host, sep, port = bind.rpartition(":")
    if not sep:
        return bind, "8000"
    return host or "0.0.0.0", port


def find_server(argv: list[str], env: dict[str, str]) -> Server | None:
    """The server ``argv`` starts, with its effective host and port, or None."""
    argv = normalize(argv)
    if not argv:
        return None
    head = _base(argv[0])
    args = argv[1:]
    if head == "manage.py" or (head.startswith("python") and args[:1] == ["manage.py"]):
        args = args[1:] if args[:1] == ["manage.py"] else args
        if args[:1] != ["runserver"]:
            return None
        address = next((a for a in args[1:] if not a.startswith("-")), "127.0.0.1:8000")
        bound = _split_bind(address) if ":" in address else ("127.0.0.1", address)
        return Server("manage.py runserver", *bound, reload="--noreload" not in args)
    if head not in _SERVER_DEFAULTS:
        return None
    default_host, default_port, host_opts, port_opts, bind_opts, reload_opts = _SERVER_DEFAULTS[
        head
    ]
    name, reload = head, False
    if head == "fastapi":
        if args[:1] == ["dev"]:
            default_host, reload = "127.0.0.1", True
        elif args[:1] != ["run"]:
            return None
        name = f"fastapi {args[0]}"
    if head == "flask":
        if args[:1] != ["run"]:
            return None
        name = "flask run"
        default_host = env.get("FLASK_RUN_HOST", default_host)
        default_port = env.get("FLASK_RUN_PORT", default_port)
    if head == "shipshape":
        if args[:1] != ["serve"]:
            return None
        name = "shipshape serve"
    if head == "uvicorn":
        default_host = env.get("UVICORN_HOST", default_host)
        default_port = env.get("UVICORN_PORT", default_port)
    if head == "gunicorn":
        if "PORT" in env:
            default_host, default_port = "0.0.0.0", env["PORT"]
        extra = env.get("GUNICORN_CMD_ARGS")
        if extra:
            try:
                args = [*args, *shlex.split(extra)]
            except ValueError:
                args = [*args, *extra.split()]
        if {"-c", "--config"} & set(args) or any(a.startswith("--config=") for a in args):
            default_host = default_port = ""
    host: str | None = default_host or None
    port: str | None = default_port or None
    binds: list[tuple[str | None, str | None]] = []
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        option, sep, attached = word.partition("=")
        if not word.startswith("-"):
            continue
        value = attached if sep else (args[index] if index < len(args) else "")
        takes_value = option in host_opts | port_opts | bind_opts
        if takes_value and not sep:
            index += 1
        if option in host_opts:
            host = value
        elif option in port_opts:
            port = value
        elif option in bind_opts:
            binds.append(_split_bind(value))
        elif option in {"--uds", "--fd"}:
            host = port = None
        elif option in reload_opts or (head == "flask" and option == "--debug"):
            reload = True
    if binds:
        network = [bind for bind in binds if bind[1] is not None]
        if not network:
            return Server(name, None, None, reload)
        public = [bind for bind in network if bind[0] and not is_localhost(bind[0])]
        host, port = (public or network)[0]
    return Server(name, host, port, reload)


def is_localhost(host: str) -> bool:
    return bool(_LOCALHOST.match(host.strip()))
