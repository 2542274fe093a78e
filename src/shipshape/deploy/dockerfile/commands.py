"""Shell text into simple commands, with wrappers peeled off.

Shell text is split into simple commands (``&&``, ``||``, ``;``, ``|``, new
lines); :func:`normalize` removes what only wraps the real command (env
assignments, ``exec``, ``env``, ``sh -c``, ``python -m``, ``uv run``,
``tini --``, ``opentelemetry-instrument`` ...).
"""

from __future__ import annotations

import re
import shlex
from pathlib import PurePosixPath

__all__ = ["PYTHON", "base_name", "normalize", "shell_commands"]

_OPERATORS = frozenset({"&&", "||", ";", "|", "&", "(", ")", ";;", "|&", "{", "}", "!"})
PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
_WRAPPERS = frozenset({"exec", "sudo", "time", "nohup", "command", "builtin", "dumb-init", "tini"})
_RESERVED = frozenset({"if", "then", "else", "elif", "do", "while", "until"})
"""Shell words that may start a simple command's text: ``then pip install ...``."""
_RUNNERS = {
    "uv": "run",
    "poetry": "run",
    "pipenv": "run",
    "pdm": "run",
    "hatch": "run",
    "rye": "run",
}
_INSTRUMENTERS = frozenset({"opentelemetry-instrument", "ddtrace-run", "newrelic-admin"})


_EXPANSION = re.compile(r"\$\{[^{}\s]*\}")
_HIDDEN = re.compile("\x00([0-9]+)\x00")
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})
_DASH_C = re.compile(r"^-[A-Za-z]*c[A-Za-z]*$")


def _inline_script(argv: list[str]) -> str | None:
    """The script of ``sh -c "..."`` (``bash -ec``, ``bash -lc``), after any env
    assignments, ``exec`` or ``env``; None for other commands."""
    index = 0
    while index < len(argv) and (
        argv[index] in {"exec", "env"} or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[index])
    ):
        index += 1
    if index + 2 < len(argv) and base_name(argv[index]) in _SHELLS:
        for position in (index + 1, index + 2):
            if position + 1 < len(argv) and _DASH_C.match(argv[position]):
                return argv[position + 1]
    return None


def _words(line: str) -> list[str]:
    """One line of shell split into words and operators; ``${NAME:-default}`` is one word,
    not the punctuation ``{`` and ``}``."""
    expansions = _EXPANSION.findall(line)
    parts = _EXPANSION.split(line)
    hidden = "".join(
        part + (f"\x00{index}\x00" if index < len(expansions) else "")
        for index, part in enumerate(parts)
    )
    try:
        lexer = shlex.shlex(hidden, posix=True, punctuation_chars=";&|(){}!")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        tokens = hidden.split()
    return [_HIDDEN.sub(lambda match: expansions[int(match.group(1))], t) for t in tokens]


def shell_commands(script: str, _depth: int = 0) -> list[list[str]]:
    """The simple commands of a shell script, each as an argv list; the commands of a
    ``sh -c "a && b"`` take its place."""
    commands: list[list[str]] = []
    for line in script.replace("\\\r\n", " ").replace("\\\n", " ").split("\n"):
        tokens = _words(line)
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
    if _depth < 3:
        expanded: list[list[str]] = []
        for command in commands:
            inner = _inline_script(command)
            expanded.extend([command] if inner is None else shell_commands(inner, _depth + 1))
        commands = expanded
    return commands


def base_name(word: str) -> str:
    return PurePosixPath(word).name if word else word


def normalize(argv: list[str]) -> list[str]:
    """``argv`` without env assignments and wrappers, ``python -m X`` as ``X``."""
    argv = list(argv)
    for _ in range(10):
        while argv and (argv[0] in _RESERVED or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0])):
            argv.pop(0)
        if not argv:
            return argv
        head = base_name(argv[0])
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
        if PYTHON.match(head):
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
