"""Dockerfile parsing into stages and the seed's structural checks."""

from __future__ import annotations

import io
import shlex
from dataclasses import dataclass, field
from typing import TypedDict

from dockerfile_parse import DockerfileParser

__all__ = [
    "SEED_DOCKERFILE_CODES",
    "DockerfileResult",
    "Instruction",
    "Stage",
    "parse_dockerfile",
    "seed_dockerfile_errors",
    "validate_dockerfile",
]

SLIM_MARKERS = ("slim", "alpine", "distroless")

SEED_DOCKERFILE_CODES: dict[str, str] = {
    "missing_from": "no FROM instruction",
    "base_image_not_slim": "final base image is not slim, alpine or distroless",
    "missing_workdir": "final stage sets no WORKDIR",
    "missing_expose": "final stage EXPOSEs no port",
    "missing_cmd": "final stage has neither CMD nor ENTRYPOINT",
}


class DockerfileResult(TypedDict):
    valid: bool
    errors: list[str]


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction, continuations joined; ``line`` is 1-based."""

    keyword: str
    value: str
    line: int
    end_line: int
    content: str


@dataclass(slots=True)
class Stage:
    """A build stage: its ``FROM`` and the instructions that follow it."""

    index: int
    base: str
    name: str | None
    line: int
    parent: Stage | None = None
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def image(self) -> str:
        """The base image, resolved through stages built ``FROM`` an earlier stage."""
        return self.parent.image if self.parent is not None else self.base

    def lineage(self) -> list[Stage]:
        chain: list[Stage] = []
        stage: Stage | None = self
        while stage is not None:
            chain.append(stage)
            stage = stage.parent
        return chain

    def has(self, *keywords: str) -> bool:
        """Whether this stage or a stage it is built from sets any of ``keywords``."""
        return any(
            instruction.keyword in keywords
            for stage in self.lineage()
            for instruction in stage.instructions
        )


@dataclass(slots=True)
class ParsedDockerfile:
    preamble: list[Instruction]
    stages: list[Stage]
    comments: list[Instruction]

    @property
    def final(self) -> Stage | None:
        return self.stages[-1] if self.stages else None


def _from_parts(value: str) -> tuple[str, str | None]:
    """Split ``[--flag=...] image [AS name]`` into the image and the stage name."""
    try:
        words = shlex.split(value, posix=True)
    except ValueError:
        words = value.split()
    words = [word for word in words if not word.startswith("--")]
    if not words:
        return "", None
    name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
    return words[0], name


def parse_dockerfile(text: str) -> ParsedDockerfile:
    """Parse Dockerfile ``text`` with dockerfile-parse and group instructions by stage."""
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8", "surrogatepass")))
    preamble: list[Instruction] = []
    comments: list[Instruction] = []
    stages: list[Stage] = []
    by_name: dict[str, Stage] = {}
    for item in parser.structure:
        instruction = Instruction(
            keyword=str(item["instruction"]).upper(),
            value=str(item["value"]),
            line=int(item["startline"]) + 1,
            end_line=int(item["endline"]) + 1,
            content=str(item["content"]),
        )
        if instruction.keyword == "COMMENT":
            comments.append(instruction)
        elif instruction.keyword == "FROM":
            base, name = _from_parts(instruction.value)
            stage = Stage(
                index=len(stages),
                base=base,
                name=name,
                line=instruction.line,
                parent=by_name.get(base.lower()),
            )
            stages.append(stage)
            by_name[str(stage.index)] = stage
            if name:
                by_name[name] = stage
        elif stages:
            stages[-1].instructions.append(instruction)
        else:
            preamble.append(instruction)
    return ParsedDockerfile(preamble=preamble, stages=stages, comments=comments)


def is_slim_image(image: str) -> bool:
    """Whether the image's name or tag names a slim, alpine or distroless variant."""
    reference = image.split("@", 1)[0].lower()
    return any(marker in reference for marker in SLIM_MARKERS)


def seed_dockerfile_errors(parsed: ParsedDockerfile) -> list[str]:
    """The seed's five codes, in their documented order, for the final stage."""
    final = parsed.final
    if final is None:
        keywords = {instruction.keyword for instruction in parsed.preamble}
        errors = ["missing_from"]
        if "WORKDIR" not in keywords:
            errors.append("missing_workdir")
        if "EXPOSE" not in keywords:
            errors.append("missing_expose")
        if not keywords & {"CMD", "ENTRYPOINT"}:
            errors.append("missing_cmd")
        return errors
    errors = []
    if not is_slim_image(final.image):
        errors.append("base_image_not_slim")
    if not final.has("WORKDIR"):
        errors.append("missing_workdir")
    if not final.has("EXPOSE"):
        errors.append("missing_expose")
    if not final.has("CMD", "ENTRYPOINT"):
        errors.append("missing_cmd")
    return errors


def validate_dockerfile(text: str) -> DockerfileResult:
    """Check a Dockerfile's final stage for a slim base, WORKDIR, EXPOSE and CMD/ENTRYPOINT.

    Instructions are case-insensitive, comments and blank lines are ignored and
    ``\\`` continuations are joined. Codes come in the order of ``SEED_DOCKERFILE_CODES``.
    """
    if not isinstance(text, str):
        raise TypeError(f"Dockerfile text must be a str, not {type(text).__name__}")
    errors = seed_dockerfile_errors(parse_dockerfile(text))
    return {"valid": not errors, "errors": errors}
