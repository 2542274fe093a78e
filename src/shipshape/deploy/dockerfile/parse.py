"""Dockerfile text into stages, on dockerfile-parse, plus what it leaves out.

dockerfile-parse joins continuations, honours the ``# escape=`` directive and
reports comments; this module groups its instructions into build stages, folds
heredoc bodies (``RUN <<EOF``) back into their instruction, resolves global
``ARG`` defaults in ``FROM`` lines, and — for the linter — rejects text that is
not a Dockerfile with a ``line: what is wrong`` error.
"""

from __future__ import annotations

import io
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from dockerfile_parse import DockerfileParser

__all__ = [
    "KNOWN_INSTRUCTIONS",
    "DockerfileSyntaxError",
    "Heredoc",
    "Instruction",
    "ParsedDockerfile",
    "Stage",
    "check_syntax",
    "exec_form",
    "heredoc_markers",
    "parse_dockerfile",
    "split_words",
    "substitute",
]

KNOWN_INSTRUCTIONS = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)

_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)([^<]*)$")
_RAW_WORD = re.compile(r"""(?:\\.|"(?:\\.|[^"\\])*"?|'[^']*'?|[^\s"'\\])+""")
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"})
_LEADING_FLAGS = re.compile(r"^\s*(--\S+\s*)+")
_VARIABLE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True, slots=True)
class Heredoc:
    """A ``<<NAME`` word of a ``RUN``/``COPY``/``ADD`` line: its terminator, the file
    descriptor it feeds (``5<<EOF``; 0 is stdin) and whether leading tabs are stripped."""

    name: str
    fd: int = 0
    chomp: bool = False


def heredoc_markers(line: str) -> list[Heredoc]:
    """The heredocs an instruction line opens, read as BuildKit reads them: each
    whitespace-separated word (quotes kept) of the form ``[fd]<<[-]WORD``, where WORD
    unquotes to one word (``<<EOF``, ``0<<-"EOT"``, ``<<robots.txt``). ``<<`` inside a
    word (``"a<<b"``, ``$((1<<2))``), a bare ``<<`` and an exec-form command are not."""
    command = _LEADING_FLAGS.sub("", line).strip()
    if command.startswith("[") and exec_form(command) is not None:
        return []
    found: list[Heredoc] = []
    for word in _RAW_WORD.findall(line):
        match = _HEREDOC_WORD.match(word)
        if match is None or not match.group(3):
            continue
        try:
            names = shlex.split(match.group(3), posix=True)
        except ValueError:
            continue
        if len(names) == 1 and names[0]:
            fd = int(match.group(1)) if match.group(1) else 0
            found.append(Heredoc(names[0], fd, bool(match.group(2))))
    return found


def _heredoc_is_script(command: str, heredoc: Heredoc, body: str) -> bool:
    """Whether a shell runs ``body``: a ``RUN <<EOF`` alone (BuildKit hands the body to
    the shell, or runs it through its ``#!`` line), or a heredoc on a shell's stdin
    (``RUN bash <<EOF``, ``RUN <<EOF sh -e``). ``RUN cat <<EOF > file`` or
    ``RUN python3 <<EOF`` feed data or another language, not shell commands."""
    words = [w for w in _RAW_WORD.findall(_LEADING_FLAGS.sub("", command)) if w]
    rest = [w for w in words if _HEREDOC_WORD.match(w) is None]
    if not rest and len(words) == 1:
        first = body.lstrip("\n").split("\n", 1)[0].strip()
        if not first.startswith("#!"):
            return True
        interpreter = first[2:].split()
        if interpreter and PurePosixPath(interpreter[0]).name == "env":
            interpreter = [w for w in interpreter[1:] if not w.startswith("-")]
        return bool(interpreter) and PurePosixPath(interpreter[0]).name in _SHELLS
    return heredoc.fd == 0 and bool(rest) and PurePosixPath(rest[0]).name in _SHELLS


class DockerfileSyntaxError(ValueError):
    """Text that is not a valid Dockerfile; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction, continuations joined; ``line`` is 1-based."""

    keyword: str
    value: str
    line: int
    end_line: int
    content: str
    heredocs: tuple[str, ...] = ()
    """The heredoc bodies, one per :func:`heredoc_markers` word, terminators left out."""

    @property
    def flags(self) -> dict[str, str]:
        """Leading ``--name=value`` flags (``--from``, ``--mount``, ``--chown``...)."""
        found: dict[str, str] = {}
        for word in split_words(self.value):
            if not word.startswith("--"):
                break
            name, _, value = word[2:].partition("=")
            found.setdefault(name.lower(), value)
        return found

    @property
    def arguments(self) -> list[str]:
        """The words after the leading flags (shell-split, quotes removed)."""
        words = split_words(self.value)
        while words and words[0].startswith("--"):
            words.pop(0)
        return words

    @property
    def script(self) -> str:
        """What a ``RUN`` executes: its command line (flags such as ``--mount`` removed),
        then the heredoc bodies a shell runs (not those fed to ``cat > file`` or
        ``python3``); an exec form ``["pip", "install", ...]`` as one command line."""
        command = _LEADING_FLAGS.sub("", self.value)
        argv = exec_form(command)
        if argv is not None:  # RUN ["pip", "install", ...]: no shell, no heredocs
            return shlex.join(argv)
        bodies = [
            body
            for heredoc, body in zip(heredoc_markers(self.value), self.heredocs, strict=False)
            if _heredoc_is_script(self.value, heredoc, body)
        ]
        return "\n".join((command, *bodies))


@dataclass(slots=True)
class Stage:
    """A build stage: its ``FROM`` and the instructions that follow it."""

    index: int
    base: str
    name: str | None
    line: int
    resolved_base: str = ""
    parent: Stage | None = None
    instructions: list[Instruction] = field(default_factory=list)
    triggers: list[Instruction] = field(default_factory=list)
    """The instructions inside this stage's ``ONBUILD`` lines (each keeps that line)."""
    onbuild: bool = False
    """Whether this is :meth:`onbuild_stage`: a build ``FROM`` the image, running the triggers."""

    def onbuild_stage(self) -> Stage | None:
        """The stage a downstream ``FROM`` this image starts with: its ``ONBUILD`` triggers,
        run on top of this stage; None without triggers."""
        if not self.triggers:
            return None
        return Stage(
            index=self.index,
            base=self.base,
            name=None,
            line=self.line,
            resolved_base=self.resolved_base,
            parent=self,
            instructions=list(self.triggers),
            onbuild=True,
        )

    @property
    def image(self) -> str:
        """The base image, resolved through stages built ``FROM`` an earlier stage."""
        return self.lineage()[-1].base

    @property
    def resolved_image(self) -> str:
        """:attr:`image` with global ``ARG`` defaults substituted."""
        return self.lineage()[-1].resolved_base

    def lineage(self) -> list[Stage]:
        """This stage, then the stage it is built from, and so on to the external base."""
        chain: list[Stage] = []
        stage: Stage | None = self
        while stage is not None:
            chain.append(stage)
            stage = stage.parent
        return chain

    def effective(self) -> list[Instruction]:
        """Every instruction in the image this stage produces, oldest first."""
        return [
            instruction for stage in reversed(self.lineage()) for instruction in stage.instructions
        ]

    def has(self, *keywords: str) -> bool:
        """Whether this stage or a stage it is built from sets any of ``keywords``."""
        return any(instruction.keyword in keywords for instruction in self.effective())

    def last(self, keyword: str) -> Instruction | None:
        found = [i for i in self.effective() if i.keyword == keyword]
        return found[-1] if found else None

    def command(self) -> tuple[Instruction | None, Instruction | None]:
        """The ``ENTRYPOINT`` and ``CMD`` the image this stage produces starts with.

        As Docker builds it: an ``ENTRYPOINT`` resets a ``CMD`` inherited from the stage
        it is built from (or an ``ONBUILD`` trigger's base) to nothing, while a ``CMD``
        set in the same stage, before or after the ``ENTRYPOINT``, stays.
        """
        entrypoint: Instruction | None = None
        cmd: Instruction | None = None
        for stage in reversed(self.lineage()):
            cmd_set = False
            for instruction in stage.instructions:
                if instruction.keyword == "CMD":
                    cmd, cmd_set = instruction, True
                elif instruction.keyword == "ENTRYPOINT":
                    entrypoint = instruction
                    if not cmd_set:
                        cmd = None
        return entrypoint, cmd


@dataclass(slots=True)
class ParsedDockerfile:
    preamble: list[Instruction]
    stages: list[Stage]
    comments: list[Instruction]
    lines: list[str]
    uncovered: list[int] = field(default_factory=list)
    unterminated: tuple[int, str] | None = None
    """The line of the first instruction whose heredoc never ends, and the heredoc's name."""

    @property
    def final(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    @property
    def global_args(self) -> dict[str, str]:
        """Defaults of the ``ARG`` instructions before the first ``FROM``."""
        found: dict[str, str] = {}
        for instruction in self.preamble:
            if instruction.keyword == "ARG":
                for word in split_words(instruction.value):
                    name, sep, value = word.partition("=")
                    if sep:
                        found[name] = value
        return found


def split_words(value: str) -> list[str]:
    """Shell-like words of ``value``; unbalanced quotes fall back to whitespace splitting."""
    try:
        return shlex.split(value, comments=False, posix=True)
    except ValueError:
        return value.split()


def exec_form(value: str) -> list[str] | None:
    """The argv of a JSON (exec) form ``["a", "b"]``, or None for the shell form."""
    stripped = value.strip()
    if not stripped.startswith("["):
        return None
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return None
    if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
        return parsed
    return None


def substitute(text: str, variables: dict[str, str]) -> str | None:
    """``text`` with ``$NAME``, ``${NAME}``, ``${NAME:-default}`` replaced; None if unknown."""
    unknown = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unknown
        name = match.group(1) or match.group(4)
        operator, word = match.group(2), match.group(3) or ""
        value = variables.get(name)
        if operator in {":-", "-"}:
            if value is None or (operator == ":-" and not value):
                return word
            return value
        if operator in {":+", "+"}:
            return word if value else ""
        if value is None:
            unknown = True
            return ""
        return value

    result = _VARIABLE.sub(replace, text)
    return None if unknown else result


def _from_parts(value: str) -> tuple[str, str | None]:
    """Split ``[--flag=...] image [AS name]`` into the image and the stage name."""
    words = [word for word in split_words(value) if not word.startswith("--")]
    if not words:
        return "", None
    name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
    return words[0], name


def _heredoc_bodies(
    lines: list[str], start: int, markers: list[Heredoc]
) -> tuple[list[str], int, Heredoc | None]:
    """The bodies of the heredocs that begin at 0-based line ``start``, the index of the
    last line they take, and the first heredoc whose terminator never comes (None when
    all end)."""
    index = start
    bodies: list[str] = []
    for heredoc in markers:
        body: list[str] = []
        terminated = False
        while index < len(lines):
            line = lines[index].rstrip("\r\n")
            index += 1
            if (line.lstrip("\t") if heredoc.chomp else line) == heredoc.name:
                terminated = True
                break
            body.append(line)
        bodies.append("\n".join(body))
        if not terminated:
            return bodies, index - 1, heredoc
    return bodies, index - 1, None


def _line_heredocs(keyword: str, value: str) -> list[Heredoc]:
    """The heredocs of an instruction: ``RUN``, ``COPY``, ``ADD`` and those three
    behind ``ONBUILD``."""
    if keyword == "ONBUILD":
        inner = value.strip().split(None, 1)
        if len(inner) < 2:
            return []
        keyword, value = inner[0].upper(), inner[1]
    return heredoc_markers(value) if keyword in {"RUN", "COPY", "ADD"} and "<<" in value else []


_ESCAPE_DIRECTIVE = re.compile(r"#\s*escape\s*=\s*(\S)\s*$", re.IGNORECASE)
_DIRECTIVE = re.compile(r"#\s*[A-Za-z]+\s*=")


def _escape_char(lines: list[str]) -> str:
    """The line-continuation character: ``\\`` unless an ``# escape=`` parser directive
    at the top of the file says otherwise."""
    for line in lines:
        stripped = line.strip()
        match = _ESCAPE_DIRECTIVE.match(stripped)
        if match:
            return match.group(1)
        if not _DIRECTIVE.match(stripped):
            break
    return "\\"


def _as_docker_reads(text: str) -> str:
    """``text`` with the two continuation quirks Docker tolerates made explicit for
    dockerfile-parse, line numbers unchanged.

    An empty or blank line inside a continuation is skipped by Docker (with a warning)
    but ends the instruction for dockerfile-parse: it becomes a ``#`` line, which both
    skip. A continuation still open at the end of the file is dropped whole by
    dockerfile-parse, while Docker keeps what it has: its last escape is removed.
    Heredoc bodies are left as they are.
    """
    lines = text.split("\n")
    escape = _escape_char(lines)
    index, open_line = 0, -1
    words: list[str] = []
    while index < len(lines):
        stripped = lines[index].strip()
        if open_line >= 0 and not stripped:
            lines[index] = "#"
            index += 1
            continue
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        words.append(stripped)
        if stripped.endswith(escape):
            open_line = index
            index += 1
            continue
        open_line = -1
        logical, words = " ".join(words), []
        index += 1
        keyword, _, rest = logical.partition(" ")
        markers = _line_heredocs(keyword.upper(), rest)
        if markers:
            index = _heredoc_bodies(lines, index, markers)[1] + 1
    if open_line >= 0:
        line = lines[open_line].rstrip()
        lines[open_line] = line[: -len(escape)]
    return "\n".join(lines)


def parse_dockerfile(text: str) -> ParsedDockerfile:
    """Parse Dockerfile ``text`` with dockerfile-parse and group instructions by stage."""
    text = _as_docker_reads(text.removeprefix("\ufeff"))
    data = text.encode("utf-8", "replace")
    parser = DockerfileParser(fileobj=io.BytesIO(data))
    lines = data.decode("utf-8").split("\n")
    preamble: list[Instruction] = []
    comments: list[Instruction] = []
    stages: list[Stage] = []
    by_name: dict[str, Stage] = {}
    covered: set[int] = set()
    skip_until = -1
    parsed = ParsedDockerfile(preamble=preamble, stages=stages, comments=comments, lines=lines)
    for item in parser.structure:
        start, end = int(item["startline"]), int(item["endline"])
        if start <= skip_until:
            continue
        covered.update(range(start, end + 1))
        keyword = str(item["instruction"]).upper()
        value = str(item["value"])
        heredocs: tuple[str, ...] = ()
        trigger_words = value.strip().split(None, 1) if keyword == "ONBUILD" else []
        trigger = trigger_words[0].upper() if trigger_words else ""
        markers = _line_heredocs(keyword, value)
        if markers:
            bodies, body_end, open_heredoc = _heredoc_bodies(lines, end + 1, markers)
            heredocs = tuple(bodies)
            covered.update(range(end + 1, body_end + 1))
            skip_until, end = body_end, body_end
            if open_heredoc is not None and parsed.unterminated is None:
                parsed.unterminated = (start + 1, open_heredoc.name)
        instruction = Instruction(
            keyword=keyword,
            value=value,
            line=start + 1,
            end_line=end + 1,
            content=str(item["content"]),
            heredocs=heredocs,
        )
        if keyword == "COMMENT":
            comments.append(instruction)
        elif keyword == "FROM":
            base, name = _from_parts(value)
            resolved = substitute(base, parsed.global_args)
            stage = Stage(
                index=len(stages),
                base=base,
                name=name,
                line=instruction.line,
                resolved_base=resolved if resolved is not None else base,
                parent=by_name.get(base.lower()),
            )
            stages.append(stage)
            by_name[str(stage.index)] = stage
            if name:
                by_name[name] = stage
        elif stages:
            stages[-1].instructions.append(instruction)
            if trigger:
                stages[-1].triggers.append(
                    Instruction(
                        keyword=trigger,
                        value=trigger_words[1] if len(trigger_words) > 1 else "",
                        line=instruction.line,
                        end_line=instruction.end_line,
                        content=instruction.content,
                        heredocs=heredocs,
                    )
                )
        else:
            preamble.append(instruction)
    parsed.uncovered = [
        number + 1
        for number, line in enumerate(lines)
        if number not in covered and line.strip() and not line.lstrip().startswith("#")
    ]
    return parsed


def check_syntax(parsed: ParsedDockerfile) -> None:
    """Raise :class:`DockerfileSyntaxError` when ``parsed`` is not a Dockerfile."""
    instructions = sorted(
        [*parsed.preamble, *(i for stage in parsed.stages for i in stage.instructions)],
        key=lambda instruction: instruction.line,
    )
    for stage in parsed.stages:
        if not stage.base:
            raise DockerfileSyntaxError(stage.line, "FROM names no image")
    if parsed.unterminated is not None:
        line, name = parsed.unterminated
        raise DockerfileSyntaxError(
            line, f"unterminated heredoc: no line {name!r} ends the <<{name} opened here"
        )
    if not instructions and not parsed.stages:
        if parsed.uncovered:
            raise DockerfileSyntaxError(
                parsed.uncovered[0], "not a Dockerfile instruction (an instruction needs arguments)"
            )
        raise DockerfileSyntaxError(1, "not a Dockerfile: no instructions found")
    for instruction in instructions:
        if instruction.keyword in KNOWN_INSTRUCTIONS and not instruction.value.strip():
            raise DockerfileSyntaxError(
                instruction.line, f"instruction {instruction.keyword!r} has no arguments"
            )
        if instruction.keyword not in KNOWN_INSTRUCTIONS:
            word = instruction.content.split(maxsplit=1)[0] if instruction.content.split() else ""
            raise DockerfileSyntaxError(
                instruction.line, f"unknown instruction {word!r}: not a Dockerfile?"
            )
    for trigger in (t for stage in parsed.stages for t in stage.triggers):
        if trigger.keyword in {"ONBUILD", "FROM", "MAINTAINER"}:
            raise DockerfileSyntaxError(
                trigger.line, f"{trigger.keyword} is not allowed as an ONBUILD trigger"
            )
        if trigger.keyword not in KNOWN_INSTRUCTIONS:
            raise DockerfileSyntaxError(
                trigger.line, f"unknown instruction {trigger.keyword!r} after ONBUILD"
            )
        if not trigger.value.strip():
            raise DockerfileSyntaxError(
                trigger.line, f"instruction 'ONBUILD {trigger.keyword}' has no arguments"
            )
    for number in parsed.uncovered:
        word = parsed.lines[number - 1].strip().split()[0]
        raise DockerfileSyntaxError(number, f"instruction {word!r} has no arguments")
    if parsed.stages:
        for instruction in parsed.preamble:
            if instruction.keyword != "ARG":
                raise DockerfileSyntaxError(
                    instruction.line,
                    f"{instruction.keyword} before the first FROM (only ARG may come first)",
                )
