"""A Python project as shipshape sees it: its pyproject.toml and ``[tool.shipshape]``.

Any checker can read its own section with :func:`tool_section`, e.g.
``tool_section(pyproject, "dockerfile")`` for ``[tool.shipshape.dockerfile]``, and
validate it with its own Pydantic model through :func:`load_section`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shipshape._files import FileLineError

__all__ = [
    "Project",
    "ProjectError",
    "find_pyproject",
    "load_project",
    "load_section",
    "read_pyproject",
    "tool_section",
]

M = TypeVar("M", bound=BaseModel)


class ProjectError(FileLineError):
    """A project file that cannot be used; ``str()`` is ``file[:line]: what is wrong``."""


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` (a file's folder or a folder) or above it."""
    folder = start if start.is_dir() else start.parent
    for candidate in (folder.resolve(), *folder.resolve().parents):
        path = candidate / "pyproject.toml"
        if path.is_file():
            return path
    return None


def read_pyproject(path: Path) -> dict[str, Any]:
    """Parse ``path`` as TOML; errors become :class:`ProjectError` naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError(str(path), "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ProjectError(str(path), f"cannot read: {error}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        raise ProjectError(
            str(path), f"invalid TOML: {error}", int(match.group(1)) if match else None
        ) from None


def tool_section(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``[tool.shipshape.<keys...>]`` of parsed pyproject ``data`` ({} when absent)."""
    section: Any = data.get("tool", {}).get("shipshape", {})
    for key in keys:
        section = section.get(key, {}) if isinstance(section, dict) else {}
    return section if isinstance(section, dict) else {}


def load_section(path: Path, model: type[M], *keys: str) -> M:
    """Validate ``[tool.shipshape.<keys>]`` of the pyproject at ``path`` into ``model``."""
    data = tool_section(read_pyproject(path), *keys)
    table = ".".join(("tool", "shipshape", *keys))
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ProjectError(str(path), f"[{table}] {where}: {first['msg']}") from None


@dataclass(slots=True)
class Project:
    """What a generator needs to know about a project folder."""

    root: Path
    name: str
    requires_python: str | None
    dependencies: list[str]
    """``[project] dependencies`` followed by the requirements.txt lines (and those of
    the files it pulls in with ``-r``)."""
    has_build_system: bool
    uv_lock: bool
    requirements: Path | None
    python_version_file: str | None
    settings: dict[str, Any] = field(default_factory=dict)

    def depends_on(self, package: str) -> bool:
        wanted = package.lower().replace("_", "-")
        for requirement in self.dependencies:
            match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
            if match and match.group(1).lower().replace("_", "-") == wanted:
                return True
        return False


def _requirement_lines(requirements: Path) -> list[str]:
    """The requirement lines of ``requirements`` and of the files it pulls in with
    ``-r`` (recursively, each read once, relative to the including file, as pip reads
    them). A nested file that cannot be read is left to pip to report."""
    from shipshape.deploy.dockerfile.installs import requirement_references

    lines: list[str] = []
    seen: set[Path] = set()
    pending = [requirements]
    while pending:
        path = pending.pop(0)
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            if path is requirements:
                raise ProjectError(str(requirements), f"cannot read: {error}") from None
            continue
        lines += [
            line
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith(("#", "-"))
        ]
        pending += [path.parent / ref for kind, ref in requirement_references(text) if kind == "-r"]
    return lines


def load_project(root: Path) -> Project:
    """Read the project at ``root``: pyproject.toml, uv.lock, requirements.txt, .python-version."""
    if not root.is_dir():
        raise ProjectError(str(root), "not a directory")
    pyproject = root / "pyproject.toml"
    data = read_pyproject(pyproject) if pyproject.is_file() else {}
    project = data.get("project", {}) if isinstance(data.get("project"), dict) else {}
    dependencies = project.get("dependencies", [])
    if not isinstance(dependencies, list):
        raise ProjectError(str(pyproject), "[project] dependencies must be a list")
    requirements = root / "requirements.txt"
    listed = _requirement_lines(requirements) if requirements.is_file() else []
    version_file = root / ".python-version"
    python_version = None
    if version_file.is_file():
        python_version = version_file.read_text(encoding="utf-8").strip().splitlines()[0:1]
    return Project(
        root=root,
        name=str(project.get("name") or root.resolve().name),
        requires_python=project.get("requires-python"),
        dependencies=[*(str(d) for d in dependencies), *listed],
        has_build_system="build-system" in data,
        uv_lock=(root / "uv.lock").is_file(),
        requirements=requirements if requirements.is_file() else None,
        python_version_file=python_version[0] if python_version else None,
        settings=tool_section(data),
    )
