"""The Dockerfile rules: ids, severities, a one-line why and fix each, and their checks.

A check is a function ``(LintContext) -> Iterable[(line, message)]``; the engine in
:mod:`.lint` turns what it yields into :class:`~shipshape.findings.Finding`.
The checks live in :mod:`.checks_image` (the image as a whole) and
:mod:`.checks_python` (installs and the server command).
"""

from __future__ import annotations

from dataclasses import dataclass

from shipshape.deploy.dockerfile import checks_image as image
from shipshape.deploy.dockerfile import checks_python as python
from shipshape.deploy.dockerfile.context import Check, LintContext, is_slim_image
from shipshape.findings import Rule, Severity

__all__ = [
    "RULES",
    "RULES_BY_ID",
    "SEED_CODES",
    "Check",
    "DockerfileRule",
    "LintContext",
    "is_slim_image",
]


@dataclass(frozen=True, slots=True)
class DockerfileRule:
    rule: Rule
    check: Check


def _rule(
    number: int, name: str, severity: Severity, why: str, fix: str, check: Check
) -> DockerfileRule:
    rule_id = f"SS-DF{number:03d}"
    uri = f"https://github.com/shipshape/shipshape/blob/main/docs/dockerfile.md#{rule_id.lower()}"
    return DockerfileRule(Rule(rule_id, name, severity, why, fix, uri), check)


_error, _warning, _info = Severity.error, Severity.warning, Severity.info

RULES: tuple[DockerfileRule, ...] = (
    _rule(1, "missing-from", _error, "Without FROM there is no image to build.",
          "Start the file with FROM python:3.12-slim (or your base).", image.check_missing_from),
    _rule(2, "base-image-not-slim", _warning,
          "A full base image carries compilers and hundreds of MB the service never uses.",
          "Use a slim, alpine or distroless final base, e.g. python:3.12-slim.",
          image.check_not_slim),
    _rule(3, "missing-workdir", _warning,
          "Without WORKDIR the app's files land in / among the system's.",
          "Add WORKDIR /app to the final stage.", image.check_missing_workdir),
    _rule(4, "missing-expose", _warning,
          "EXPOSE documents the port for people, `docker run -P` and platforms.",
          "Add EXPOSE 8000 (the port the server listens on).", image.check_missing_expose),
    _rule(5, "missing-cmd", _error,
          "Without CMD or ENTRYPOINT the container starts nothing.",
          'Add CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"].',
          image.check_missing_cmd),
    _rule(6, "relative-workdir", _warning,
          "A relative WORKDIR depends on the base image's directory.",
          "Use an absolute path: WORKDIR /app.", image.check_relative_workdir),
    _rule(7, "shell-form-cmd", _warning,
          "Shell form makes /bin/sh PID 1: SIGTERM never reaches the server, no graceful stop.",
          'Use exec form: CMD ["uvicorn", "app.main:app", ...] (or prefix the shell form '
          "with exec).", image.check_shell_form),
    _rule(8, "unpinned-base-image", _warning,
          "An untagged or :latest base changes under you between builds.",
          "Pin a tag (python:3.12-slim) or a digest (@sha256:...).", image.check_unpinned_base),
    _rule(9, "unpinned-dependencies", _warning,
          "Unpinned installs resolve new versions on every build: builds are not reproducible.",
          "Install from pinned requirements (name==version) or a lock file "
          "(uv sync --frozen, poetry.lock).", python.check_unpinned_dependencies),
    _rule(10, "package-cache-in-image", _info,
          "pip/uv/poetry download caches add tens of MB to the final image.",
          "Use pip --no-cache-dir / uv --no-cache (or ENV PIP_NO_CACHE_DIR=1, UV_NO_CACHE=1) "
          "or RUN --mount=type=cache.", python.check_package_cache),
    _rule(11, "runs-as-root", _error,
          "A process running as root turns any code-execution bug into root in the container.",
          "Create a user and switch to it: RUN useradd --system --uid 10001 app, then "
          "USER 10001:10001.",
          image.check_runs_as_root),
    _rule(12, "python-unbuffered-unset", _info,
          "Buffered stdout delays logs and loses the last ones when the process dies.",
          "Add ENV PYTHONUNBUFFERED=1 to the final stage.", image.check_unbuffered),
    _rule(13, "expose-port-mismatch", _error,
          "The server listens on a different port than the image declares: traffic goes nowhere.",
          "Make EXPOSE and the server's --port (or --bind) the same port.",
          python.check_port_mismatch),
    _rule(14, "server-bound-to-localhost", _error,
          "A server bound to 127.0.0.1 (uvicorn's and gunicorn's default) is unreachable "
          "from outside the container.",
          "Bind all interfaces: --host 0.0.0.0 (gunicorn: --bind 0.0.0.0:8000).",
          python.check_bound_locally),
    _rule(15, "server-reload", _warning,
          "Auto-reload watches files and restarts workers: a development mode, slow and fragile.",
          "Drop --reload (and fastapi dev, runserver) from the image's command.",
          python.check_reload),
    _rule(16, "secret-in-env-or-arg", _error,
          "ENV values and build arguments are stored in the image and its history.",
          "Pass secrets at run time, or at build time with RUN --mount=type=secret.",
          image.check_secrets),
    _rule(17, "add-instead-of-copy", _warning,
          "ADD also fetches URLs and unpacks archives; for local files that is a surprise waiting.",
          "Use COPY for local files and directories.", image.check_add_for_copy),
    _rule(18, "source-before-dependencies", _warning,
          "Copying the whole source before installing dependencies reinstalls them on every "
          "code change.",
          "Copy the dependency files first (requirements.txt, or pyproject.toml and uv.lock), "
          "install, then COPY . .", python.check_source_before_dependencies),
    _rule(19, "dockerignore-incomplete", _warning,
          "Without a .dockerignore excluding .git and .venv, the context and the image carry "
          "history, secrets and a foreign virtualenv.",
          "Add a .dockerignore listing at least .git and .venv.", image.check_dockerignore),
    _rule(20, "user-not-numeric", _warning,
          "Kubernetes runAsNonRoot can only verify a numeric user: a named USER makes the "
          "kubelet refuse to start the container.",
          "Use a numeric UID[:GID], e.g. USER 10001:10001.", image.check_user_not_numeric),
)  # fmt: skip

RULES_BY_ID: dict[str, DockerfileRule] = {rule.rule.id: rule for rule in RULES}

SEED_CODES: dict[str, str] = {
    "SS-DF001": "missing_from",
    "SS-DF002": "base_image_not_slim",
    "SS-DF003": "missing_workdir",
    "SS-DF004": "missing_expose",
    "SS-DF005": "missing_cmd",
}
