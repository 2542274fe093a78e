"""What the Dockerfile checks see: the parsed file, the build context, ENV and ARG values."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from shipshape.deploy.dockerfile.parse import (
    Instruction,
    ParsedDockerfile,
    Stage,
    split_words,
    substitute,
)

__all__ = [
    "SLIM_MARKERS",
    "Check",
    "Found",
    "LintContext",
    "arg_pairs",
    "env_pairs",
    "is_slim_image",
]

SLIM_MARKERS = ("slim", "alpine", "distroless")

Found = tuple[int | None, str]
"""What a check yields: the 1-based line (None for the whole file) and the message."""


def is_slim_image(image: str) -> bool:
    """Whether the image's name or tag names a slim, alpine or distroless variant."""
    reference = image.split("@", 1)[0].lower()
    return any(marker in reference for marker in SLIM_MARKERS)


@dataclass(slots=True)
class LintContext:
    """What the checks see: the parsed file and, when linting a path, the build context."""

    parsed: ParsedDockerfile
    directory: Path | None = None
    """The build context; None when linting text alone."""
    dockerfile: Path | None = None
    """The Dockerfile's own path, for its ``<name>.dockerignore``."""

    @property
    def final_scope(self) -> list[Instruction]:
        final = self.parsed.final
        return final.effective() if final is not None else self.parsed.preamble

    def stages_and_triggers(self) -> list[Stage]:
        """Each stage, then its :meth:`~Stage.onbuild_stage` if it has ``ONBUILD`` triggers:
        what the per-instruction checks walk, so a trigger is linted like an instruction."""
        found: list[Stage] = []
        for stage in self.parsed.stages:
            found.append(stage)
            onbuild = stage.onbuild_stage()
            if onbuild is not None:
                found.append(onbuild)
        return found

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


Check = Callable[[LintContext], Iterable[Found]]
