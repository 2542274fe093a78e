"""ASGI/WSGI servers started by CMD/ENTRYPOINT: where they listen, whether they reload."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from shipshape.deploy.dockerfile.commands import PYTHON, base_name, normalize

__all__ = ["Server", "find_server", "is_localhost", "is_python_command"]

_PIP = re.compile(r"^pip(\d+(\.\d+)?)?$")
_LOCALHOST = re.compile(r"^(localhost|127(\.\d+){0,3}|::1|\[::1\])$")


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
    head = base_name(argv[0])
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
    if head in ("gunicorn", "hypercorn") and any(
        word in ("-c", "--config") or word.startswith(("--config=", "-c")) for word in args
    ):  # a config file may bind anywhere: its defaults are unknown
        default_host = default_port = ""
    host: str | None = default_host or None
    port: str | None = default_port or None
    binds: list[tuple[str | None, str | None]] = []
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        if not word.startswith("-"):
            continue
        option, sep, attached = word.partition("=")
        short = word[:2]
        attached_value = not word.startswith("--") and len(word) > 2 and word[2] != "="
        if attached_value and short in host_opts | port_opts | bind_opts:
            # an attached short option value: gunicorn -b0.0.0.0:8000, flask -p5000
            option, sep, attached = short, "=", word[2:]
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


def is_python_command(argv: list[str]) -> bool:
    """Whether a command runs Python (an interpreter, a Python tool or a Python server)."""
    argv = normalize(argv)
    if not argv:
        return False
    head = base_name(argv[0])
    return bool(
        PYTHON.match(head)
        or _PIP.match(head)
        or head in {"uv", "poetry", "pipenv", "pipx", "pdm", "hatch"}
        or head in _SERVER_DEFAULTS
        or head.endswith(".py")
    )
