"""Reading ``[tool.shipshape]`` from pyproject.toml, and the .dockerignore matcher."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from shipshape.deploy.dockerfile import lint_path
from shipshape.deploy.dockerfile.checks_image import dockerignore_excludes
from shipshape.deploy.project import (
    ProjectError,
    find_pyproject,
    load_project,
    load_section,
    tool_section,
)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: int = 1


def test_find_pyproject_walks_up(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_pyproject(deep) == (tmp_path / "pyproject.toml").resolve()
    assert find_pyproject(deep / "Dockerfile") == (tmp_path / "pyproject.toml").resolve()


def test_tool_section_is_empty_when_absent() -> None:
    assert tool_section({}, "dockerfile") == {}
    assert tool_section({"tool": {"shipshape": {"dockerfile": 3}}}, "dockerfile") == {}
    data = {"tool": {"shipshape": {"x": {"y": {"level": 2}}}}}
    assert tool_section(data, "x", "y") == {"level": 2}


def test_load_section_validates_and_names_file_and_key(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.shipshape.mine]\nlevel = 3\n")
    assert load_section(pyproject, Section, "mine").level == 3
    pyproject.write_text("[tool.shipshape.mine]\nlevel = 'high'\n")
    with pytest.raises(ProjectError) as raised:
        load_section(pyproject, Section, "mine")
    assert str(raised.value).startswith(f"{pyproject}: [tool.shipshape.mine] level: ")
    pyproject.write_text("[tool.shipshape.mine\n")
    with pytest.raises(ProjectError, match="invalid TOML") as raised:
        load_section(pyproject, Section, "mine")
    assert raised.value.line == 1


def test_load_project_reads_dependencies_and_locks(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "svc"\nrequires-python = ">=3.11"\ndependencies = ["FastAPI>=0.1"]\n'
        '[build-system]\nrequires = ["hatchling"]\n[tool.shipshape]\napp = "svc:app"\n'
    )
    (tmp_path / "requirements.txt").write_text("# pinned\nuvicorn==0.34.0\n-r other.txt\n")
    (tmp_path / ".python-version").write_text("3.12.7\n")
    project = load_project(tmp_path)
    assert project.name == "svc"
    assert project.depends_on("fastapi")
    assert project.depends_on("uvicorn")
    assert not project.depends_on("gunicorn")
    assert project.has_build_system
    assert not project.uv_lock
    assert project.python_version_file == "3.12.7"
    assert project.settings == {"app": "svc:app"}
    with pytest.raises(ProjectError, match="not a directory"):
        load_project(tmp_path / "requirements.txt")


names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@given(names)
def test_dockerignore_pattern_and_its_exception(name: str) -> None:
    assert dockerignore_excludes([name], name)
    assert dockerignore_excludes([f"/{name}/"], name)
    assert dockerignore_excludes(["*"], name)
    assert dockerignore_excludes(["**"], name)
    assert dockerignore_excludes([f"**/{name}"], name)
    assert not dockerignore_excludes([name, f"!{name}"], name)
    assert not dockerignore_excludes([f"{name}x", f"# {name}"], name)
    assert not dockerignore_excludes([f"{name}/sub"], name)


@pytest.mark.parametrize("name", [".git", ".venv"])
def test_a_pattern_for_everything_inside_a_folder_excludes_it(name: str) -> None:
    for pattern in (f"{name}/**", f"{name}/*", f"/{name}/**/", f"**/{name}/**", f"{name}*/**"):
        assert dockerignore_excludes([pattern], name), pattern
    assert not dockerignore_excludes([f"{name}/**", f"!{name}/**"], name)
    assert not dockerignore_excludes([f"{name}/*.py", f"{name}/?"], name)
    assert not dockerignore_excludes([f"{name}/**/*.pyc"], name)


@pytest.mark.parametrize(
    ("ignore", "expected"),
    [
        (".venv/**\n.git/\n", []),
        (".git/**\n.venv/**\n", []),
        (".git\n.venv/*\n", []),
        (".git\n.venv/**/*.pyc\n", ["SS-DF019"]),
        (".git/**\n!.git/**\n.venv\n", ["SS-DF019"]),
    ],
)
def test_lint_reads_a_folder_whose_contents_are_excluded_as_excluded(
    tmp_path: Path, ignore: str, expected: list[str]
) -> None:
    corpus = Path(__file__).parent.parent / "corpus" / "dockerfiles"
    (tmp_path / "Dockerfile").write_text((corpus / "good-pip-single.Dockerfile").read_text())
    (tmp_path / "requirements.txt").write_text("fastapi==0.115.0\n")
    (tmp_path / ".dockerignore").write_text(ignore)
    assert [f.code for f in lint_path(tmp_path)] == expected
