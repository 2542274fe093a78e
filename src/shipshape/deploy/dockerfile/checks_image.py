"""Checks on the image as a whole: base, stages, user, environment, secrets, build context."""

from __future__ import annotations

import re
from collections.abc import Iterator

from shipshape.deploy.dockerfile.commands import shell_commands
from shipshape.deploy.dockerfile.context import (
    Found,
    LintContext,
    arg_pairs,
    env_pairs,
    is_slim_image,
)
from shipshape.deploy.dockerfile.parse import Instruction, Stage, exec_form, split_words, substitute
from shipshape.deploy.dockerfile.servers import is_python_command

__all__ = [
    "check_add_for_copy",
    "check_dockerignore",
    "check_missing_cmd",
    "check_missing_expose",
    "check_missing_from",
    "check_missing_workdir",
    "check_not_slim",
    "check_relative_workdir",
    "check_runs_as_root",
    "check_secrets",
    "check_shell_form",
    "check_unbuffered",
    "check_unpinned_base",
    "check_user_not_numeric",
    "dockerignore_excludes",
]

_SECRET_WORDS = frozenset(
    {"PASSWORD", "PASSWD", "PASS", "SECRET", "SECRETS", "TOKEN", "APIKEY", "CREDENTIAL"}
    | {"CREDENTIALS", "PRIVATEKEY"}
)
_KEY_KINDS = frozenset({"API", "ACCESS", "PRIVATE", "SECRET", "SIGNING", "ENCRYPTION", "MASTER"})
_NOT_SECRET_SUFFIX = frozenset({"FILE", "PATH", "DIR", "ID", "NAME", "URL", "HEADER", "LENGTH"})
_URL_CREDENTIALS = re.compile(r"://[^/\s:@]*:[^/\s@]+@")  # redis://:password@host too
_ARCHIVE = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst)$", re.I)


def check_missing_from(ctx: LintContext) -> Iterator[Found]:
    if not ctx.parsed.stages:
        yield 1, "no FROM instruction: there is no base image to build on"


def check_not_slim(ctx: LintContext) -> Iterator[Found]:
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


def check_missing_workdir(ctx: LintContext) -> Iterator[Found]:
    line, missing = _scope_lacks(ctx, "WORKDIR")
    if missing:
        yield line, "final stage sets no WORKDIR: files land in / next to the system"


def check_missing_expose(ctx: LintContext) -> Iterator[Found]:
    line, missing = _scope_lacks(ctx, "EXPOSE")
    if missing:
        yield line, "final stage EXPOSEs no port"


def check_missing_cmd(ctx: LintContext) -> Iterator[Found]:
    line, missing = _scope_lacks(ctx, "CMD", "ENTRYPOINT")
    if missing:
        yield line, "final stage has neither CMD nor ENTRYPOINT: the container runs nothing"


def check_relative_workdir(ctx: LintContext) -> Iterator[Found]:
    for stage in ctx.stages_and_triggers():
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
    return [i for i in stage.command() if i is not None]


def check_shell_form(ctx: LintContext) -> Iterator[Found]:
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


def check_unpinned_base(ctx: LintContext) -> Iterator[Found]:
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


def check_runs_as_root(ctx: LintContext) -> Iterator[Found]:
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
    if name is not None and _is_root(name.split(":", 1)[0].strip()):
        yield user.line, f"final stage runs as {name}"


def _is_root(user: str) -> bool:
    """``root``, or uid 0 however written (``0``, ``00``)."""
    return user == "root" or (_is_uid(user) and int(user) == 0)


def _is_uid(user: str) -> bool:
    return user.isascii() and user.isdigit()


def check_user_not_numeric(ctx: LintContext) -> Iterator[Found]:
    """A final USER given by name: Kubernetes ``runAsNonRoot`` cannot verify it."""
    final = ctx.parsed.final
    if final is None:
        return
    user = final.last("USER")
    if user is None:
        return
    resolved = substitute(user.value.strip(), ctx.stage_env(final))
    if resolved is None:
        return  # an unknown variable is not judged
    name = resolved.split(":", 1)[0].strip()
    if not name or _is_uid(name) or name == "root":
        return  # numeric; root (and uid 0) is SS-DF011's
    yield (
        user.line,
        f"final stage runs as user {name!r}, a name: Kubernetes runAsNonRoot cannot verify "
        "it is not root and refuses to start the container",
    )


def _runs_python(ctx: LintContext, stage: Stage) -> bool:
    if "python" in stage.resolved_image.lower():
        return True
    runs = [i for i in stage.effective() if i.keyword == "RUN"]
    for instruction in [*runs, *_entry_points(stage)]:
        argvs = (
            [argv]
            if (argv := exec_form(instruction.value)) is not None
            else shell_commands(instruction.script)
        )
        if any(is_python_command(a) for a in argvs):
            return True
    return False


def check_unbuffered(ctx: LintContext) -> Iterator[Found]:
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


def _is_secret_name(name: str) -> bool:
    tokens = [t for t in re.split(r"[_\-.]", name.upper()) if t]
    if not tokens or tokens[-1] in _NOT_SECRET_SUFFIX or "PUBLIC" in tokens:
        return False
    if _SECRET_WORDS & set(tokens):
        return True
    return any(t == "KEY" and i > 0 and tokens[i - 1] in _KEY_KINDS for i, t in enumerate(tokens))


def check_secrets(ctx: LintContext) -> Iterator[Found]:
    instructions = [
        *ctx.parsed.preamble,
        *(i for s in ctx.stages_and_triggers() for i in s.instructions),
    ]
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


def check_add_for_copy(ctx: LintContext) -> Iterator[Found]:
    for stage in ctx.stages_and_triggers():
        for instruction in stage.instructions:
            if instruction.keyword != "ADD" or instruction.heredocs:
                continue
            argv = exec_form(instruction.value) or instruction.arguments
            sources = argv[:-1]
            remote = any("://" in s or s.startswith("git@") or s.endswith(".git") for s in sources)
            if sources and not remote and not any(_ARCHIVE.search(s) for s in sources):
                yield instruction.line, "ADD of local files: COPY does the same without surprises"


def _ignore_rules(patterns: list[str]) -> list[tuple[re.Pattern[str], bool]]:
    """``.dockerignore`` patterns as ``(regex, is an exception)``, in file order."""
    rules: list[tuple[re.Pattern[str], bool]] = []
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
        rules.append((re.compile(regex, re.S), negate))
    return rules


def _ignored(rules: list[tuple[re.Pattern[str], bool]], path: str) -> bool:
    """Docker's rule: a pattern matches a path or any folder above it; last match wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[:end]) for end in range(len(parts), 0, -1)]
    excluded = False
    for regex, negate in rules:
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negate
    return excluded


# Stand-ins for "any file in the folder", named so that no real pattern singles them out
_ANY_CHILD = ("\x00child", "\x00child/\x00grandchild")


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Whether ``.dockerignore`` ``patterns`` exclude the top-level ``path`` (last match
    wins): the path itself, or everything in it (``.venv/**`` leaves only an empty
    ``.venv`` folder in the context, which carries nothing)."""
    rules = _ignore_rules(patterns)
    return _ignored(rules, path) or all(_ignored(rules, f"{path}/{c}") for c in _ANY_CHILD)


def check_dockerignore(ctx: LintContext) -> Iterator[Found]:
    if ctx.directory is None:
        return
    dockerfile = ctx.dockerfile or ctx.directory / "Dockerfile"
    specific = dockerfile.with_name(f"{dockerfile.name}.dockerignore")
    ignore_file = specific if specific.is_file() else ctx.directory / ".dockerignore"
    try:
        patterns = ignore_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        yield None, ".dockerignore is missing: .git, .venv and local secrets go into the context"
        return
    leaked = [path for path in (".git", ".venv") if not dockerignore_excludes(patterns, path)]
    if leaked:
        yield None, f"{ignore_file.name} does not exclude {' or '.join(leaked)}"
