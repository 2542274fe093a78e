"""Requirements files that pull in others (``-r requirements/base.txt``, ``-c constraints.txt``):
linted through, and copied into the image by ``dockerfile generate``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shipshape.cli import app

runner = CliRunner()

DOCKERFILE = """\
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt ./
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
USER 10001
EXPOSE 8000
CMD ["uvicorn", "service.main:app", "--host", "0.0.0.0", "--port", "8000"]
"""


def make_project(root: Path, top: str, base: str) -> Path:
    (root / "requirements").mkdir()
    (root / "requirements.txt").write_text(top)
    (root / "requirements" / "prod.txt").write_text("-r base.txt\nuvicorn==0.34.0\n")
    (root / "requirements" / "base.txt").write_text(base)
    (root / "constraints.txt").write_text("fastapi==0.115.6\n")
    (root / ".dockerignore").write_text(".git\n.venv\n")
    (root / "service").mkdir()
    (root / "service" / "__init__.py").write_text("")
    (root / "service" / "main.py").write_text("from fastapi import FastAPI\n\napp = FastAPI()\n")
    return root


def lint(path: Path) -> list[tuple[str, int | None, str]]:
    result = runner.invoke(app, ["dockerfile", "lint", str(path), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return [(f["code"], f["line"], f["message"]) for f in json.loads(result.stdout)["findings"]]


def test_lint_follows_nested_requirement_files(tmp_path: Path) -> None:
    project = make_project(tmp_path, "-r requirements/prod.txt\n", "fastapi>=0.1\nhttpx\n")
    (project / "Dockerfile").write_text(DOCKERFILE)
    assert lint(project) == [
        ("SS-DF009", 6, "requirements/base.txt:1: fastapi>=0.1 is not pinned to an exact version"),
        ("SS-DF009", 6, "requirements/base.txt:2: httpx is not pinned to an exact version"),
    ]


def test_a_constraints_file_in_requirements_pins_its_names(tmp_path: Path) -> None:
    project = make_project(tmp_path, "-c constraints.txt\nfastapi\n", "")
    (project / "Dockerfile").write_text(DOCKERFILE)
    assert lint(project) == []


def test_generate_copies_nested_requirement_files_at_their_paths(tmp_path: Path) -> None:
    project = make_project(
        tmp_path, "-r requirements/prod.txt\n--constraint constraints.txt\n", "fastapi\n"
    )
    result = runner.invoke(app, ["dockerfile", "generate", str(project), "--force"])
    assert result.exit_code == 0, result.output
    dockerfile = (project / "Dockerfile").read_text()
    lines = dockerfile.splitlines()
    install = lines.index("RUN pip install -r requirements.txt")
    assert lines[install - 2 : install] == [
        "COPY requirements.txt constraints.txt ./",
        "COPY requirements/prod.txt requirements/base.txt requirements/",
    ]
    assert lint(project) == []


def test_generate_sees_the_dependencies_of_nested_requirement_files(tmp_path: Path) -> None:
    # uvicorn and fastapi are listed only in requirements/prod.txt and base.txt
    project = make_project(tmp_path, "-r requirements/prod.txt\n", "fastapi==0.115.6\n")
    result = runner.invoke(app, ["dockerfile", "generate", str(project), "--force"])
    assert result.exit_code == 0, result.output
    assert "not among the project's dependencies" not in result.output
    assert '"uvicorn", "service.main:app"' in (project / "Dockerfile").read_text()


def test_a_loop_of_requirement_files_is_read_once(tmp_path: Path) -> None:
    project = make_project(tmp_path, "-r requirements/prod.txt\n", "-r prod.txt\nfastapi==1\n")
    result = runner.invoke(app, ["dockerfile", "generate", str(project), "--force"])
    assert result.exit_code == 0, result.output
    assert "not among the project's dependencies" not in result.output


def test_a_symlinked_requirements_file_is_copied_under_its_own_name(tmp_path: Path) -> None:
    project = make_project(tmp_path, "", "")
    (project / "requirements" / "prod.txt").write_text("uvicorn==0.34.0\nfastapi==0.115.6\n")
    (project / "requirements.txt").unlink()
    (project / "requirements.txt").symlink_to(Path("requirements") / "prod.txt")
    result = runner.invoke(app, ["dockerfile", "generate", str(project), "--force"])
    assert result.exit_code == 0, result.output
    lines = (project / "Dockerfile").read_text().splitlines()
    install = lines.index("RUN pip install -r requirements.txt")
    assert lines[install - 1] == "COPY requirements.txt ./"  # COPY follows the link
    assert not any("requirements/prod.txt" in line for line in lines)


def test_a_constraints_file_in_a_nested_file_pins_the_whole_install(tmp_path: Path) -> None:
    # pip applies a -c file to every requirement of the run, wherever it was named,
    # as `dockerfile generate` already reads it
    project = make_project(tmp_path, "-r requirements/base.txt\nflask\n", "")
    (project / "requirements" / "base.txt").write_text("-c constraints.txt\nuvicorn\nfastapi\n")
    (project / "requirements" / "constraints.txt").write_text(
        "flask==3.1.0\nuvicorn==0.34.0\nfastapi==0.115.6\n"
    )
    (project / "Dockerfile").write_text(DOCKERFILE)
    assert lint(project) == []


def test_a_chain_of_requirement_files_of_any_depth_is_linted_through(tmp_path: Path) -> None:
    project = make_project(tmp_path, "-r requirements/r0.txt\n", "fastapi==0.115.6\n")
    for index in range(3000):
        (project / "requirements" / f"r{index}.txt").write_text(f"-r r{index + 1}.txt\n")
    (project / "requirements" / "r3000.txt").write_text("httpx\n-r r0.txt\n")
    (project / "Dockerfile").write_text(DOCKERFILE)
    assert lint(project / "Dockerfile") == [
        ("SS-DF009", 6, "requirements/r3000.txt:1: httpx is not pinned to an exact version")
    ]
