"""The SS-DF rules one by one, the parser's edge cases, ignores and settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipshape.deploy.dockerfile import (
    SEED_CODES,
    LintError,
    LintSettings,
    lint_dockerfile,
    lint_path,
    parse_dockerfile,
    rule_table,
    validate_dockerfile,
)
from shipshape.findings import Severity

GOOD = """\
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
USER 10001
EXPOSE 8000
CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"]
"""


def codes(text: str, **options: object) -> list[str]:
    return [finding.code for finding in lint_dockerfile(text, **options)]  # type: ignore[arg-type]


def with_cmd(cmd: str, expose: str = "8000") -> str:
    return GOOD.replace("EXPOSE 8000", f"EXPOSE {expose}").replace(GOOD.splitlines()[-1], cmd)


def test_a_good_dockerfile_has_no_findings() -> None:
    assert codes(GOOD) == []


def test_rule_table_has_unique_stable_ids_with_one_line_why_and_fix() -> None:
    rules = rule_table()
    assert [r.id for r in rules] == [f"SS-DF{n:03d}" for n in range(1, len(rules) + 1)]
    assert len(rules) >= 19
    for rule in rules:
        assert rule.why
        assert rule.fix
        assert "\n" not in rule.why + rule.fix
        assert isinstance(rule.severity, Severity)


# --- the seed's checks and their rules ------------------------------------------------------


def test_missing_from_is_ss_df001_and_the_seed_says_missing_from() -> None:
    text = 'RUN echo hi\nWORKDIR /app\nEXPOSE 1\nCMD ["x"]\n'
    assert codes(text) == ["SS-DF001"]
    assert validate_dockerfile(text) == {"valid": False, "errors": ["missing_from"]}


def test_workdir_expose_cmd_are_checked_on_the_final_stage_only() -> None:
    text = (
        'FROM python:3.12-slim AS build\nWORKDIR /app\nEXPOSE 8000\nCMD ["x"]\n'
        "FROM python:3.12-slim\n"
    )
    found = codes(text)
    assert {"SS-DF003", "SS-DF004", "SS-DF005"} <= set(found)
    assert validate_dockerfile(text)["errors"] == [
        "missing_workdir",
        "missing_expose",
        "missing_cmd",
    ]


def test_a_stage_built_from_another_inherits_its_instructions() -> None:
    text = GOOD + "FROM 0 AS again\n"
    assert codes(text) == []


def test_a_long_chain_of_stages_is_linted_and_validated_without_recursing() -> None:
    chain = [f"FROM s{i - 1} AS s{i}" for i in range(1, 3000)]
    text = GOOD.replace("FROM python:3.12-slim", "FROM python:3.12-slim AS s0\n" + "\n".join(chain))
    assert codes(text) == []
    assert validate_dockerfile(text) == {"valid": True, "errors": []}
    final = parse_dockerfile(text).final
    assert final is not None
    assert final.image == "python:3.12-slim"
    assert final.resolved_image == "python:3.12-slim"


def test_base_image_variable_resolved_from_global_arg() -> None:
    text = "ARG BASE=python:3.12-slim\n" + GOOD.replace("FROM python:3.12-slim", "FROM $BASE")
    assert codes(text) == []
    assert validate_dockerfile(text) == {"valid": True, "errors": []}


def test_relative_workdir() -> None:
    assert codes(GOOD.replace("WORKDIR /app", "WORKDIR app")) == ["SS-DF006"]
    assert codes(GOOD.replace("WORKDIR /app", "WORKDIR $HOME/app")) == []


# --- CMD, servers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmd", "expose", "expected"),
    [
        ("CMD uvicorn main:app --host 0.0.0.0 --port 8000", "8000", ["SS-DF007"]),
        ("CMD exec uvicorn main:app --host 0.0.0.0 --port 8000", "8000", []),
        ('CMD ["uvicorn", "main:app"]', "8000", ["SS-DF014"]),
        ('CMD ["uvicorn", "main:app", "--host", "127.0.0.1"]', "8000", ["SS-DF014"]),
        (
            'CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "9000"]',
            "8000",
            ["SS-DF013"],
        ),
        ('CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "9000"]', "9000-9010", []),
        ('CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--reload"]', "8000", ["SS-DF015"]),
        ('CMD ["python", "-m", "uvicorn", "main:app", "--host=0.0.0.0"]', "8000/tcp", []),
        ('CMD ["gunicorn", "main:app"]', "8000", ["SS-DF014"]),
        ('CMD ["gunicorn", "main:app", "-b", "0.0.0.0:8001"]', "8000", ["SS-DF013"]),
        ('CMD ["gunicorn", "main:app", "--bind", "[::]:8000"]', "8000", []),
        ('CMD ["gunicorn", "-c", "gunicorn.conf.py", "main:app"]', "8000", []),
        ('CMD ["hypercorn", "main:app", "--bind", "localhost:8000"]', "8000", ["SS-DF014"]),
        ('CMD ["fastapi", "run", "main.py"]', "8000", []),
        ('CMD ["fastapi", "dev", "main.py"]', "8000", ["SS-DF014", "SS-DF015"]),
        ('CMD ["shipshape", "serve", "--host", "0.0.0.0"]', "8000", []),
        ('CMD ["shipshape", "serve"]', "8000", ["SS-DF014"]),
        ('CMD ["uv", "run", "--no-dev", "uvicorn", "main:app", "--host", "0.0.0.0"]', "8000", []),
        ('CMD ["sh", "-c", "uvicorn main:app --host 0.0.0.0 --port $PORT"]', "8000", []),
        ('CMD ["python", "worker.py"]', "8000", []),
    ],
)
def test_server_commands(cmd: str, expose: str, expected: list[str]) -> None:
    assert codes(with_cmd(cmd, expose)) == expected


@pytest.mark.parametrize(
    ("cmd", "expose", "expected"),
    [
        ('CMD ["gunicorn", "-b0.0.0.0:8000", "m:app"]', "8000", []),
        ('CMD ["gunicorn", "-b0.0.0.0:8001", "m:app"]', "8000", ["SS-DF013"]),
        ('CMD ["gunicorn", "-b127.0.0.1:8000", "m:app"]', "8000", ["SS-DF014"]),
        ('CMD ["hypercorn", "-b0.0.0.0:8000", "m:app"]', "8000", []),
        ('CMD ["sh", "-c", "exec gunicorn -b0.0.0.0:8000 m:app"]', "8000", []),
        ('CMD ["daphne", "-b0.0.0.0", "-p8000", "m:app"]', "8000", []),
        ('CMD ["daphne", "-b0.0.0.0", "-p9000", "m:app"]', "8000", ["SS-DF013"]),
        ('CMD ["flask", "run", "-h0.0.0.0", "-p8000"]', "8000", []),
        ('CMD ["gunicorn", "-w4", "-b", "0.0.0.0:8000", "m:app"]', "8000", []),
        # a config file (attached or not, hypercorn's too) may bind anywhere
        ('CMD ["gunicorn", "-cgunicorn.conf.py", "m:app"]', "8000", []),
        ('CMD ["gunicorn", "-cpython:app.conf", "m:app"]', "8000", []),
        ('CMD ["hypercorn", "-c", "hypercorn.toml", "m:app"]', "8000", []),
        ('CMD ["hypercorn", "--config=hypercorn.toml", "m:app"]', "8000", []),
    ],
)
def test_short_options_with_attached_values(cmd: str, expose: str, expected: list[str]) -> None:
    assert codes(with_cmd(cmd, expose)) == expected


@pytest.mark.parametrize(
    ("cmd", "env", "expected"),
    [
        ('"exec uvicorn m:app --host 0.0.0.0 --port ${PORT:-9000}"', "", ["SS-DF013"]),
        ('"exec uvicorn m:app --host 0.0.0.0 --port ${PORT-9000}"', "", ["SS-DF013"]),
        ('"exec uvicorn m:app --host 0.0.0.0 --port ${PORT:-8000}"', "", []),
        ('"exec uvicorn m:app --host 0.0.0.0 --port ${PORT:-9000}"', "ENV PORT=8000\n", []),
        ('"exec uvicorn m:app --host ${HOST:-127.0.0.1} --port 8000"', "", ["SS-DF014"]),
        ('"exec gunicorn m:app --bind ${BIND:-0.0.0.0:9000}"', "", ["SS-DF013"]),
    ],
)
def test_shell_defaults_stand_in_for_unset_variables(
    cmd: str, env: str, expected: list[str]
) -> None:
    text = with_cmd(f'CMD ["sh", "-c", {cmd}]').replace("EXPOSE", env + "EXPOSE")
    assert codes(text) == expected


def test_entrypoint_and_cmd_are_read_together() -> None:
    text = with_cmd(
        'ENTRYPOINT ["uvicorn", "main:app"]\nCMD ["--host", "0.0.0.0", "--port", "8080"]'
    )
    assert codes(text) == ["SS-DF013"]


ENTRYPOINT_RESETS_CMD = """\
FROM python:3.12-slim AS base
CMD ["--port", "9000"]
FROM base
WORKDIR /app
USER 10001
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
ENTRYPOINT ["uvicorn", "main:app", "--host", "0.0.0.0"]
"""


def test_an_entrypoint_resets_the_cmd_inherited_from_the_parent_stage() -> None:
    assert codes(ENTRYPOINT_RESETS_CMD) == []
    reload = ENTRYPOINT_RESETS_CMD.replace('"9000"]', '"9000", "--reload"]')
    assert codes(reload) == []
    localhost = ENTRYPOINT_RESETS_CMD.replace('["--port", "9000"]', '["--host", "127.0.0.1"]')
    assert codes(localhost) == []
    shell = ENTRYPOINT_RESETS_CMD.replace('CMD ["--port", "9000"]', "CMD uvicorn main:app")
    assert codes(shell) == []
    final = parse_dockerfile(ENTRYPOINT_RESETS_CMD).final
    assert final is not None
    entrypoint, cmd = final.command()
    assert entrypoint is not None
    assert entrypoint.line == 8
    assert cmd is None


def test_a_cmd_in_the_entrypoints_own_stage_is_kept_before_or_after_it() -> None:
    after = ENTRYPOINT_RESETS_CMD + 'CMD ["--port", "9001"]\n'
    assert codes(after) == ["SS-DF013"]
    before = ENTRYPOINT_RESETS_CMD.replace("EXPOSE 8000\n", 'EXPOSE 8000\nCMD ["--port", "9001"]\n')
    assert codes(before) == ["SS-DF013"]
    grandchild = ENTRYPOINT_RESETS_CMD + "FROM 1\n"
    assert codes(grandchild) == []
    without_entrypoint = GOOD.replace("FROM python:3.12-slim", "FROM python:3.12-slim AS base")
    assert codes(without_entrypoint + "FROM base\n") == []
    assert codes(with_cmd('CMD ["--port", "9000"]') + "FROM 0\n" + 'ENTRYPOINT ["uvicorn"]\n') == [
        "SS-DF014"
    ]


def test_server_port_from_env() -> None:
    text = with_cmd('CMD ["sh", "-c", "exec uvicorn main:app --host 0.0.0.0 --port $PORT"]')
    assert codes(text.replace("ENV PYTHONUNBUFFERED=1", "ENV PYTHONUNBUFFERED=1 PORT=8080")) == [
        "SS-DF013"
    ]
    assert (
        codes(
            text.replace("ENV PYTHONUNBUFFERED=1", "ENV PYTHONUNBUFFERED=1 UVICORN_HOST=127.0.0.1")
        )
        == []
    )


def test_uvicorn_host_from_env_variable() -> None:
    text = with_cmd('CMD ["uvicorn", "main:app"]')
    assert (
        codes(text.replace("ENV PYTHONUNBUFFERED=1", "ENV PYTHONUNBUFFERED=1 UVICORN_HOST=0.0.0.0"))
        == []
    )


# --- user, environment ----------------------------------------------------------------------


def test_missing_user_means_root() -> None:
    assert codes(GOOD.replace("USER 10001\n", "")) == ["SS-DF011"]


@pytest.mark.parametrize("user", ["root", "0", "0:0", "root:root"])
def test_explicit_root_user(user: str) -> None:
    assert codes(GOOD.replace("USER 10001", f"USER {user}")) == ["SS-DF011"]


@pytest.mark.parametrize(
    "user",
    [
        "app",
        "app:app",
        "app:10001",
        "nobody",
        "$APP_USER",
        "${APP_USER}",
        "${RUNTIME_USER:-app}",
    ],
)
def test_a_named_final_user_cannot_be_verified_by_run_as_non_root(user: str) -> None:
    findings = lint_dockerfile(GOOD.replace("USER 10001", f"ARG APP_USER=app\nUSER {user}"))
    assert [(f.code, f.severity) for f in findings] == [("SS-DF020", Severity.warning)]
    assert findings[0].line == 8
    assert "runAsNonRoot" in findings[0].message
    assert findings[0].fix == "Use a numeric UID[:GID], e.g. USER 10001:10001."


@pytest.mark.parametrize(
    "user", ["10001", "10001:10001", "10001:app", "$UNKNOWN", "root", "00", "000:0"]
)
def test_numeric_unknown_or_root_users_are_not_reported_as_names(user: str) -> None:
    found = codes(GOOD.replace("USER 10001", f"USER {user}"))
    assert "SS-DF020" not in found
    assert found == (["SS-DF011"] if user in {"root", "00", "000:0"} else [])


def test_digits_of_other_scripts_are_a_name_not_a_uid() -> None:
    # str.isdigit() accepts them; the kubelet reads a uid in ASCII digits only
    assert codes(GOOD.replace("USER 10001", "USER \uff11\uff10\uff10\uff10")) == ["SS-DF020"]


def test_a_named_user_in_a_build_stage_or_an_onbuild_trigger_is_fine() -> None:
    build = "FROM python:3.12-slim AS build\nUSER builder\nRUN make\n"
    assert codes(build + GOOD + "ONBUILD USER app\n") == []


def test_root_in_a_build_stage_is_fine() -> None:
    assert codes("FROM python:3.12-slim AS build\nUSER root\nRUN make\n" + GOOD) == []


def test_pythonunbuffered() -> None:
    assert codes(GOOD.replace("ENV PYTHONUNBUFFERED=1\n", "")) == ["SS-DF012"]
    assert codes(GOOD.replace("ENV PYTHONUNBUFFERED=1", "ENV PYTHONUNBUFFERED 1")) == []
    no_python = 'FROM nginx:1.27-alpine\nWORKDIR /srv\nUSER 101\nEXPOSE 80\nCMD ["nginx"]\n'
    assert codes(no_python) == []


@pytest.mark.parametrize(
    ("line", "flagged"),
    [
        ("ARG GITHUB_TOKEN", True),
        ("ARG NPM_AUTH_TOKEN=abc", True),
        ("ENV AWS_SECRET_ACCESS_KEY=abc", True),
        ("ENV STRIPE_API_KEY=sk_live", True),
        ("ENV DB_PASSWORD hunter2", True),
        ("ENV PIP_INDEX_URL=https://user:pw@pypi.example.com/simple", True),
        ("ENV REDIS_URL=redis://:password@redis:6379/0", True),
        ("ENV REDIS_URL=redis://redis:6379/0", False),
        ("ENV DB_PASSWORD=", False),
        ("ENV PASSWORD_FILE=/run/secrets/db", False),
        ("ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D", False),
        ("ENV TOKENIZERS_PARALLELISM=false", False),
        ("ENV PUBLIC_KEY_PATH=/keys/pub", False),
        ("ARG PYTHON_VERSION=3.12", False),
    ],
)
def test_secrets_in_env_and_arg(line: str, flagged: bool) -> None:
    text = GOOD.replace("WORKDIR /app", f"{line}\nWORKDIR /app")
    assert ("SS-DF016" in codes(text)) is flagged


# --- dependencies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run", "unpinned"),
    [
        ("pip install --no-cache-dir -r requirements.txt", 0),
        ("pip install --no-cache-dir --requirement=requirements.txt", 0),
        ("python -m pip install --no-cache-dir -r requirements.txt", 0),
        ("python3.12 -m pip install --no-cache-dir fastapi==0.115.6", 0),
        ("pip install --no-cache-dir fastapi", 1),
        ("pip install --no-cache-dir 'fastapi>=0.100' pydantic~=2.0", 2),
        ("pip install --no-cache-dir -U pip", 1),
        ("pip install --no-cache-dir -e .", 1),
        ("pip install --no-cache-dir -r requirements.txt && pip install --no-cache-dir .", 0),
        ("pip install --no-cache-dir --no-deps .", 0),
        ("pip install --no-cache-dir /wheels/*.whl", 0),
        ("pip install --no-cache-dir --no-index --find-links /wheels app", 0),
        ("pip install --no-cache-dir -c constraints.txt fastapi", 0),
        ("pip install --no-cache-dir git+https://github.com/x/y.git@v1.2", 0),
        ("pip install --no-cache-dir git+https://github.com/x/y.git", 1),
        ("pip install --no-cache-dir 'app @ https://example.com/app-1.0.tar.gz'", 0),
        ('pip install --no-cache-dir "poetry==$POETRY_VERSION"', 0),
        ("uv sync --frozen --no-cache", 0),
        ("uv sync --locked --no-cache", 0),
        ("uv sync --no-cache", 1),
        ("uv pip install --no-cache --system -r requirements.txt", 0),
        ("uv pip install --no-cache --system fastapi", 1),
        ("pipx install poetry==1.8.5", 0),
        ("pipx install poetry", 1),
        ("uv tool install --no-cache ruff", 1),
        ("pipenv install --system --deploy", 0),
        ("pipenv install --system", 1),
        ("pip install --no-cache-dir fastapi==0.*", 1),
        ("pip install --no-cache-dir 'fastapi[all]==0.115.*' httpx==0.27.0", 1),
        ("pip install --no-cache-dir fastapi!=0.* /wheels/*", 1),
    ],
)
def test_dependency_pinning(run: str, unpinned: int) -> None:
    text = GOOD.replace("RUN pip install --no-cache-dir -r requirements.txt", f"RUN {run}")
    text = text.replace("COPY requirements.txt .", "COPY requirements.txt Pipfile.lock ./")
    assert codes(text).count("SS-DF009") == unpinned


def test_poetry_install_needs_the_lock_in_the_image() -> None:
    base = GOOD.replace("COPY requirements.txt .", "COPY {files} ./").replace(
        "RUN pip install --no-cache-dir -r requirements.txt",
        "RUN poetry install --no-root --no-cache",
    )
    assert "SS-DF009" in codes(base.format(files="pyproject.toml"))
    assert "SS-DF009" not in codes(base.format(files="pyproject.toml poetry.lock"))
    mounted = base.format(files="pyproject.toml").replace(
        "RUN poetry", "RUN --mount=type=bind,source=poetry.lock,target=poetry.lock poetry"
    )
    assert "SS-DF009" not in codes(mounted)


@pytest.mark.parametrize(
    ("run", "cached"),
    [
        ("pip install -r requirements.txt", True),
        ("pip install --no-cache-dir -r requirements.txt", False),
        ("pip install -r requirements.txt && rm -rf /root/.cache/pip", False),
        ("pip install -r requirements.txt && pip cache purge", False),
        ("--mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt", False),
        ("uv sync --frozen", True),
        ("uv sync --frozen --no-cache", False),
        ("poetry install --no-root", True),
        # a command's own env assignments count like ENV
        ("PIP_NO_CACHE_DIR=1 pip install -r requirements.txt", False),
        ("env UV_NO_CACHE=1 uv sync --frozen", False),
        ("UV_NO_CACHE=0 uv sync --frozen", True),
    ],
)
def test_package_cache_in_the_final_image(run: str, cached: bool) -> None:
    text = GOOD.replace("RUN pip install --no-cache-dir -r requirements.txt", f"RUN {run}")
    text = text.replace("COPY requirements.txt .", "COPY requirements.txt poetry.lock ./")
    assert ("SS-DF010" in codes(text)) is cached


@pytest.mark.parametrize("value", ["1", "true", "off", "false", "0", "no"])
def test_pip_no_cache_dir_turns_the_cache_off_whatever_its_value(value: str) -> None:
    # pip disables its cache for any valid PIP_NO_CACHE_DIR, "off" included
    # (the widespread ENV PIP_NO_CACHE_DIR=off of Poetry images)
    text = GOOD.replace("--no-cache-dir ", "").replace(
        "ENV PYTHONUNBUFFERED=1", f"ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR={value}"
    )
    assert "SS-DF010" not in codes(text)
    assert "SS-DF010" in codes(GOOD.replace("--no-cache-dir ", ""))


def test_package_cache_in_a_build_stage_does_not_matter() -> None:
    build = "FROM python:3.12-slim AS build\nRUN pip install -r requirements.txt\n"
    assert codes(build + GOOD) == []


def test_pip_no_cache_dir_env() -> None:
    text = GOOD.replace("--no-cache-dir ", "").replace(
        "ENV PYTHONUNBUFFERED=1", "ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1"
    )
    assert codes(text) == []


def test_source_copied_before_the_dependency_install() -> None:
    text = GOOD.replace("COPY requirements.txt .\n", "COPY . .\n").replace("COPY . .\nUSER", "USER")
    assert codes(text) == ["SS-DF018"]


def test_uv_two_step_sync_is_not_cache_busting() -> None:
    text = GOOD.replace(
        "COPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .",
        "COPY pyproject.toml uv.lock ./\nRUN uv sync --frozen --no-cache --no-install-project\n"
        "COPY . .\nRUN uv sync --frozen --no-cache",
    )
    assert codes(text) == []


@pytest.mark.parametrize(
    ("add", "flagged"),
    [
        ("ADD app /app", True),
        ('ADD ["a b", "/app/"]', True),
        ("ADD vendor.tar.gz /opt/", False),
        ("ADD https://example.com/x.bin /x.bin", False),
        ("ADD git@github.com:x/y.git /src", False),
    ],
)
def test_add_where_copy_serves(add: str, flagged: bool) -> None:
    assert ("SS-DF017" in codes(GOOD.replace("COPY . .", add))) is flagged


def test_untagged_latest_and_pinned_base_images() -> None:
    assert codes(GOOD.replace("python:3.12-slim", "python")).count("SS-DF008") == 1
    assert codes(GOOD.replace("python:3.12-slim", "python:latest")).count("SS-DF008") == 1
    assert "SS-DF008" not in codes(GOOD.replace("python:3.12-slim", "python@sha256:" + "a" * 64))
    assert "SS-DF008" not in codes(GOOD.replace("python:3.12-slim", "localhost:5000/py:3.12-slim"))
    assert "SS-DF008" in codes(GOOD.replace("python:3.12-slim", "localhost:5000/python-slim"))


# --- parsing real-world syntax ---------------------------------------------------------------


def test_heredoc_bodies_belong_to_their_instruction() -> None:
    text = GOOD.replace(
        "RUN pip install --no-cache-dir -r requirements.txt",
        "RUN <<EOF\nset -e\npip install fastapi\nuseradd app\nEOF",
    )
    parsed = parse_dockerfile(text)
    assert parsed.final is not None
    keywords = [i.keyword for i in parsed.final.instructions]
    assert keywords == ["ENV", "WORKDIR", "COPY", "RUN", "COPY", "USER", "EXPOSE", "CMD"]
    assert [f.line for f in lint_dockerfile(text) if f.code == "SS-DF009"] == [5]


def test_escape_directive_and_line_continuations() -> None:
    text = "# escape=`\n" + GOOD.replace(
        "RUN pip install --no-cache-dir -r requirements.txt",
        "RUN pip install --no-cache-dir `\n    -r requirements.txt `\n    fastapi",
    )
    found = lint_dockerfile(text)
    assert [(f.code, f.line) for f in found] == [("SS-DF009", 6)]


def test_instructions_are_case_insensitive() -> None:
    assert codes(GOOD.replace("USER 10001", "user 10001").replace("FROM", "from")) == []


def test_run_flags_are_not_part_of_the_command() -> None:
    text = GOOD.replace(
        "RUN pip install --no-cache-dir -r requirements.txt",
        "RUN --mount=type=cache,target=/root/.cache/uv \\\n"
        "    --mount=type=bind,source=uv.lock,target=uv.lock uv sync",
    )
    assert [f.code for f in lint_dockerfile(text)] == ["SS-DF009"]


def test_copy_from_an_image_is_not_the_source() -> None:
    text = GOOD.replace(
        "COPY requirements.txt .",
        "COPY --from=ghcr.io/astral-sh/uv:0.5 /uv /bin/\nCOPY requirements.txt .",
    )
    assert codes(text) == []


# --- ignores and settings --------------------------------------------------------------------


def test_inline_ignore_on_the_line_before() -> None:
    text = GOOD.replace("USER 10001\n", "").replace("FROM", "# shipshape: ignore=SS-DF011\nFROM")
    assert codes(text) == []


def test_inline_ignore_within_the_same_instruction() -> None:
    text = GOOD.replace(
        "RUN pip install --no-cache-dir -r requirements.txt",
        "RUN pip install --no-cache-dir \\\n# shipshape: ignore=SS-DF009\n    fastapi",
    )
    assert codes(text) == []
    same_line = GOOD.replace(
        "RUN pip install --no-cache-dir -r requirements.txt",
        "RUN pip install --no-cache-dir fastapi  # shipshape: ignore=SS-DF009",
    )
    assert codes(same_line) == []


def test_inline_ignore_only_covers_the_next_instruction() -> None:
    text = GOOD.replace("WORKDIR /app", "# shipshape: ignore=SS-DF006\nWORKDIR app\nWORKDIR lib")
    assert [(f.code, f.line) for f in lint_dockerfile(text)] == [("SS-DF006", 5)]


def test_ignore_file_comment_and_settings_ignore() -> None:
    text = GOOD.replace("USER 10001\n", "")
    assert codes("# shipshape: ignore-file=SS-DF011\n" + text) == []
    assert codes(text, settings=LintSettings(ignore=frozenset({"SS-DF011"}))) == []


def test_settings_change_severity() -> None:
    text = GOOD.replace("USER 10001\n", "")
    settings = LintSettings.model_validate({"severity": {"SS-DF011": "info"}})
    assert [f.severity for f in lint_dockerfile(text, settings=settings)] == [Severity.info]


def test_settings_reject_unknown_keys_and_rule_ids() -> None:
    with pytest.raises(ValueError, match="SS-DF999"):
        LintSettings.model_validate({"ignore": ["SS-DF999"]})
    with pytest.raises(ValueError, match="ignor"):
        LintSettings.model_validate({"ignor": []})
    with pytest.raises(ValueError, match="severity"):
        LintSettings.model_validate({"fail-level": "fatal"})


def test_lint_path_reads_settings_from_the_nearest_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.shipshape.dockerfile]\nignore = ["SS-DF011"]\n'
    )
    (tmp_path / ".dockerignore").write_text(".git\n.venv\n")
    (tmp_path / "Dockerfile").write_text(GOOD.replace("USER 10001\n", ""))
    assert lint_path(tmp_path) == []


def test_lint_path_checks_the_dockerignore(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(GOOD)
    settings = LintSettings()
    assert [f.code for f in lint_path(tmp_path / "Dockerfile", settings)] == ["SS-DF019"]
    (tmp_path / ".dockerignore").write_text("*\n!src\n!requirements.txt\n")
    assert lint_path(tmp_path / "Dockerfile", settings) == []
    (tmp_path / ".dockerignore").write_text("**/.git\n.venv\n")
    assert lint_path(tmp_path / "Dockerfile", settings) == []
    (tmp_path / ".dockerignore").write_text(".git/\n")
    assert "does not exclude .venv" in lint_path(tmp_path / "Dockerfile", settings)[0].message


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "no instructions"),
        ("# just a comment\n\n", 1, "no instructions"),
        ("hello world\n", 1, "unknown instruction 'hello'"),
        ("FROM python:3.12-slim\nRUN true\nbogus thing\n", 3, "unknown instruction 'bogus'"),
        ("FROM python:3.12-slim\nCMD\n", 2, "'CMD' has no arguments"),
        ("RUN true\nFROM python:3.12-slim\n", 1, "RUN before the first FROM"),
        ("FROM --platform=linux/amd64\n", 1, "FROM names no image"),
        ('{"json": true}\n', 1, "unknown instruction"),
    ],
)
def test_text_that_is_not_a_dockerfile_is_a_lint_error_with_a_line(
    text: str, line: int, message: str
) -> None:
    with pytest.raises(LintError) as raised:
        lint_dockerfile(text, "Dockerfile.bad")
    assert raised.value.line == line
    assert message in raised.value.message
    assert str(raised.value).startswith(f"Dockerfile.bad:{line}: ")


def test_unreadable_files_are_lint_errors(tmp_path: Path) -> None:
    with pytest.raises(LintError, match="no such file"):
        lint_path(tmp_path / "missing")
    (tmp_path / "binary").write_bytes(b"FROM python\n\xff\xfe\x00")
    with pytest.raises(LintError, match=r"binary:2: not UTF-8"):
        lint_path(tmp_path / "binary")
    (tmp_path / "Dockerfile").mkdir()
    with pytest.raises(LintError, match="is a directory"):
        lint_path(tmp_path)


dockerfile_words = st.sampled_from(
    ["FROM", "RUN", "CMD", "USER", "ENV", "ARG", "COPY", "ADD", "EXPOSE", "WORKDIR", "ENTRYPOINT",
     "python:3.12-slim", "AS", "build", "--from=build", "pip", "install", "-r", "uv", "sync",
     "uvicorn", "--host", "127.0.0.1", "--port", "$PORT", "${X:-1}", "<<EOF", "EOF", "\\\n", "\n",
     "#", "shipshape:", "ignore=SS-DF004", '["a",', '"b"]', "'", '"', "`", "&&", ";", "=", ":"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(dockerfile_words).map(" ".join)))
def test_random_text_never_crashes_the_parser_the_linter_or_the_seed(text: str) -> None:
    result = validate_dockerfile(text)
    assert set(result["errors"]) <= {
        "missing_from",
        "base_image_not_slim",
        "missing_workdir",
        "missing_expose",
        "missing_cmd",
    }
    findings = []
    error: LintError | None = None
    try:
        findings = lint_dockerfile(text)
    except LintError as raised:
        error = raised
    if error is not None:
        assert error.line is not None
        assert error.line >= 1
        assert str(error).startswith(f"Dockerfile:{error.line}: ")
    else:
        assert all(f.code.startswith("SS-DF") for f in findings)
        if "shipshape:" not in text:  # inline ignores change the linter's view only
            seed = [SEED_CODES[f.code] for f in findings if f.code in SEED_CODES]
            assert result["errors"] == seed
        assert all(f.line is None or f.line >= 1 for f in findings)
