"""The seed CLI commands (issue 2, part 3): good input, findings and malformed input.

Exit codes: 0 fine, 1 findings, 2 bad input or usage, with a one-line message naming the
file (and the field) — never a traceback. Most tests use typer's CliRunner on the app;
a few go through a real ``uv run shipshape`` process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from shipshape import (
    compute_latency_metrics,
    compute_migration,
    failover_decisions,
    find_critical_path,
    format_log_entries,
    lru_cache_sim,
    merge_config,
    round_robin_balance,
    token_bucket_limiter,
)
from shipshape.cli import app

REPO = Path(__file__).resolve().parents[2]

SEED_COMMANDS = [
    ("dockerfile", "validate"),
    ("deploy", "validate"),
    ("config", "merge"),
    ("migrate", "diff"),
    ("logs", "format"),
    ("metrics", "latency"),
    ("trace", "critical-path"),
    ("health", "check"),
    ("balance", "round-robin"),
    ("cache", "simulate"),
    ("ratelimit", "simulate"),
    ("failover", "decide"),
]

GOOD_DOCKERFILE = """\
FROM python:3.11-slim
WORKDIR /app
COPY . .
EXPOSE 8000
CMD ["uvicorn", "main:app", "--host", "0.0.0.0"]
"""


def invoke(*args: str, stdin: str | None = None) -> Result:
    """Run the CLI in-process; any exception other than a clean exit fails the test."""
    result = CliRunner().invoke(app, list(args), input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}") from result.exception
    return result


def json_out(result: Result) -> Any:
    return json.loads(result.stdout)


def seed_fields(document: Any) -> dict[str, Any]:
    """The seed result inside a richer report: ``valid`` and ``errors``."""
    return {"valid": document["valid"], "errors": document["errors"]}


def assert_bad_input(result: Result, *fragments: str) -> None:
    """Exit 2 with one line on stderr that holds every fragment; nothing on stdout."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    message = result.stderr.strip()
    assert "\n" not in message, message
    assert "Traceback" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert result.stdout == ""


@pytest.fixture
def write(tmp_path: Path) -> Any:
    def write(name: str, content: str | bytes) -> str:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return str(path)

    return write


# --- help ----------------------------------------------------------------------------


def test_top_level_help_lists_every_seed_group() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for group, _ in SEED_COMMANDS:
        assert group in result.stdout


@pytest.mark.parametrize(("group", "command"), SEED_COMMANDS)
def test_every_seed_command_has_help(group: str, command: str) -> None:
    group_help = invoke(group, "--help")
    assert group_help.exit_code == 0
    assert command in group_help.stdout
    result = invoke(group, command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout


@pytest.mark.parametrize(
    ("group", "command"), [c for c in SEED_COMMANDS if c != ("logs", "format")]
)
def test_every_seed_command_offers_json(group: str, command: str) -> None:
    # logs format prints JSON lines whatever the flags; every other command has --json.
    assert "--json" in invoke(group, command, "--help").stdout


@pytest.mark.parametrize(("group", "command"), SEED_COMMANDS)
def test_a_missing_file_is_bad_input_naming_it(write: Any, group: str, command: str) -> None:
    missing = str(Path(write("present.json", "{}")).with_name("absent.json"))
    extra = {
        ("config", "merge"): [missing],
        ("migrate", "diff"): [missing],
        ("balance", "round-robin"): ["-n", "1"],
        ("cache", "simulate"): ["-c", "1"],
        ("ratelimit", "simulate"): ["-c", "1", "-r", "1"],
    }.get((group, command), [])
    assert_bad_input(invoke(group, command, missing, *extra), missing, "no such file")


# --- dockerfile validate -------------------------------------------------------------


def test_dockerfile_validate_good(write: Any) -> None:
    path = write("Dockerfile", GOOD_DOCKERFILE)
    result = invoke("dockerfile", "validate", path)
    assert result.exit_code == 0
    assert "valid" in result.stdout
    assert json_out(invoke("dockerfile", "validate", path, "--json")) == {
        "valid": True,
        "errors": [],
    }


def test_dockerfile_validate_findings_exit_1(write: Any) -> None:
    path = write("Dockerfile", "FROM python:3.11\nRUN true\n")
    result = invoke("dockerfile", "validate", path)
    assert result.exit_code == 1
    for code in ("base_image_not_slim", "missing_workdir", "missing_expose", "missing_cmd"):
        assert code in result.stdout
    as_json = invoke("dockerfile", "validate", path, "--json")
    assert as_json.exit_code == 1
    assert json_out(as_json) == {
        "valid": False,
        "errors": ["base_image_not_slim", "missing_workdir", "missing_expose", "missing_cmd"],
    }


def test_dockerfile_validate_reads_stdin() -> None:
    result = invoke("dockerfile", "validate", "-", "--json", stdin=GOOD_DOCKERFILE)
    assert result.exit_code == 0
    assert json_out(result) == {"valid": True, "errors": []}


def test_dockerfile_validate_a_directory_is_bad_input(tmp_path: Path) -> None:
    assert_bad_input(invoke("dockerfile", "validate", str(tmp_path)), str(tmp_path))


def test_dockerfile_validate_non_utf8_is_bad_input(write: Any) -> None:
    path = write("Dockerfile", b"FROM python:3.11-slim\nRUN echo \xff\xfe\n")
    assert_bad_input(invoke("dockerfile", "validate", path), path, "UTF-8")


# --- deploy validate -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("deploy.json", '{"region": "us-east-1", "instance_type": "t3.micro", "min_instances": 2}'),
        ("deploy.yaml", "region: us-east-1\ninstance_type: t3.micro\nmin_instances: 2\n"),
        ("deploy.toml", 'region = "us-east-1"\ninstance_type = "t3.micro"\nmin_instances = 2\n'),
    ],
)
def test_deploy_validate_good_in_every_format(write: Any, name: str, content: str) -> None:
    path = write(name, content)
    result = invoke("deploy", "validate", path)
    assert result.exit_code == 0
    assert "valid" in result.stdout
    report = json_out(invoke("deploy", "validate", path, "--json"))
    assert seed_fields(report) == {"valid": True, "errors": []}


def test_deploy_validate_findings_exit_1(write: Any) -> None:
    path = write("deploy.yaml", "instance_type: t3.micro\nmin_instances: true\n")
    result = invoke("deploy", "validate", path)
    assert result.exit_code == 1
    assert "invalid" in result.stdout
    assert "missing_region" in result.stdout
    as_json = invoke("deploy", "validate", path, "--json")
    assert as_json.exit_code == 1
    assert seed_fields(json_out(as_json)) == {
        "valid": False,
        "errors": ["missing_region", "min_instances_must_be_positive_integer"],
    }


def test_deploy_validate_reads_stdin() -> None:
    result = invoke("deploy", "validate", "-", "--json", stdin="region: eu-west-1\n")
    assert result.exit_code == 1
    assert json_out(result)["errors"] == ["missing_instance_type", "missing_min_instances"]


def test_deploy_validate_invalid_yaml_names_file_and_line(write: Any) -> None:
    path = write("deploy.yaml", "region: us-east-1\nzones: [a\nmin_instances: 2\n")
    assert_bad_input(invoke("deploy", "validate", path), f"{path}:", "invalid YAML")


BROKEN_JSON = '{\n  "region": "us-east-1",\n  "min_instances": ,\n}\n'


def test_deploy_validate_invalid_json_names_file_and_line(write: Any) -> None:
    path = write("deploy.json", BROKEN_JSON)
    assert_bad_input(invoke("deploy", "validate", path), f"{path}:3", "invalid JSON")


def test_shared_loader_invalid_json_names_file_and_line(write: Any) -> None:
    path = write("deps.json", BROKEN_JSON)
    assert_bad_input(invoke("health", "check", path), f"{path}:3", "invalid JSON")


def test_deploy_validate_invalid_toml_names_file(write: Any) -> None:
    path = write("deploy.toml", "region = \n")
    assert_bad_input(invoke("deploy", "validate", path), path, "invalid TOML")


def test_deploy_validate_non_mapping_document_is_bad_input(write: Any) -> None:
    path = write("deploy.json", '["us-east-1"]')
    assert_bad_input(invoke("deploy", "validate", path), path, "mapping")


# --- config merge --------------------------------------------------------------------


def test_config_merge_json(write: Any) -> None:
    defaults = {"debug": False, "db": {"host": "localhost", "port": 5432}}
    prod = {"db": {"host": "prod-db.example.com"}}
    result = invoke(
        "config",
        "merge",
        write("defaults.json", json.dumps(defaults)),
        write("prod.json", json.dumps(prod)),
        "--json",
    )
    assert result.exit_code == 0
    assert json_out(result) == merge_config(defaults, prod)
    assert list(json_out(result)) == ["db", "debug"]


def test_config_merge_prints_yaml_by_default(write: Any) -> None:
    result = invoke(
        "config",
        "merge",
        write("defaults.yaml", "db:\n  host: localhost\n  port: 5432\n"),
        write("prod.toml", '[db]\nhost = "prod-db"\n'),
    )
    assert result.exit_code == 0
    assert result.stdout.split() == ["db:", "host:", "prod-db", "port:", "5432"]


def test_config_merge_applies_overrides_in_order(write: Any) -> None:
    result = invoke(
        "config",
        "merge",
        write("base.yaml", "a: 1\nb: {c: 1, d: 1}\n"),
        write("one.yaml", "b: {c: 2}\nlist: [1, 2]\n"),
        write("two.yaml", "b: {d: 3}\nlist: [9]\n"),
        "--json",
    )
    assert result.exit_code == 0
    assert json_out(result) == {"a": 1, "b": {"c": 2, "d": 3}, "list": [9]}


def test_config_merge_needs_an_override_file(write: Any) -> None:
    result = invoke("config", "merge", write("base.yaml", "a: 1\n"))
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


def test_config_merge_non_mapping_override_is_bad_input(write: Any) -> None:
    override = write("prod.json", "[1, 2]")
    result = invoke("config", "merge", write("base.json", "{}"), override)
    assert_bad_input(result, override, "mapping")


# --- migrate diff --------------------------------------------------------------------


def test_migrate_diff_course_example(write: Any) -> None:
    old = {"name": "str", "age": "int", "email": "str"}
    new = {"name": "str", "age": "float", "phone": "str"}
    old_path, new_path = write("old.json", json.dumps(old)), write("new.yaml", json.dumps(new))
    result = invoke("migrate", "diff", old_path, new_path, "--json")
    assert result.exit_code == 0
    assert json_out(result) == compute_migration(old, new)
    table = invoke("migrate", "diff", old_path, new_path)
    assert table.exit_code == 0
    for word in ("added", "phone", "removed", "email", "changed", "age", "float"):
        assert word in table.stdout


def test_migrate_diff_no_changes(write: Any) -> None:
    path = write("schema.json", '{"id": "int"}')
    result = invoke("migrate", "diff", path, path)
    assert result.exit_code == 0
    assert "no changes" in result.stdout


def test_migrate_diff_non_mapping_snapshot_is_bad_input(write: Any) -> None:
    old = write("old.json", '["id"]')
    assert_bad_input(invoke("migrate", "diff", old, write("new.json", "{}")), old, "mapping")


# --- logs format ---------------------------------------------------------------------


def test_logs_format_prints_one_json_line_per_entry(write: Any) -> None:
    entries: list[dict[str, Any]] = [{"level": "warn", "message": "slow", "ms": 812}, {"user": 7}]
    result = invoke("logs", "format", write("logs.json", json.dumps(entries)))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == format_log_entries(entries)


def test_logs_format_reads_json_lines_and_entries_key(write: Any) -> None:
    lines = invoke("logs", "format", write("logs.jsonl", '{"message": "a"}\n\n{"level": "x"}\n'))
    wrapped = invoke(
        "logs", "format", write("logs.yaml", "entries:\n  - message: a\n  - level: x\n")
    )
    expected = format_log_entries([{"message": "a"}, {"level": "x"}])
    assert lines.stdout.splitlines() == wrapped.stdout.splitlines() == expected


def test_logs_format_reads_stdin() -> None:
    result = invoke("logs", "format", "-", stdin='[{"message": "hi", "level": "debug"}]')
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "timestamp": "unknown",
        "level": "DEBUG",
        "message": "hi",
        "context": {},
    }


@pytest.mark.parametrize("name", ["app.jsonl", "app.ndjson"])
def test_logs_format_a_json_lines_log_of_one_line_is_one_entry(write: Any, name: str) -> None:
    # Even one whose entry happens to carry an "entries" field.
    entry = {"level": "warn", "message": "only line", "entries": 3}
    result = invoke("logs", "format", write(name, json.dumps(entry) + "\n"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == format_log_entries([entry])


@pytest.mark.parametrize("content", ["", "\n\n"])
def test_logs_format_an_empty_json_lines_log_prints_nothing(write: Any, content: str) -> None:
    result = invoke("logs", "format", write("app.jsonl", content))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""


def test_logs_format_one_object_on_stdin_is_one_entry() -> None:
    result = invoke("logs", "format", "-", stdin='{"message": "hi"}\n')
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == format_log_entries([{"message": "hi"}])


def test_logs_format_non_mapping_entry_names_it(write: Any) -> None:
    path = write("logs.json", '[{"message": "ok"}, "oops"]')
    assert_bad_input(invoke("logs", "format", path), path, "entries[1]")


def test_logs_format_bad_json_line_names_the_line(write: Any) -> None:
    path = write("logs.jsonl", '{"message": "ok"}\n{"message": \n{"message": "x"}\n')
    assert_bad_input(invoke("logs", "format", path), f"{path}:2", "JSON")


# --- metrics latency -----------------------------------------------------------------


def test_metrics_latency_json(write: Any) -> None:
    times = [10.0] * 99 + [5000.0]
    result = invoke("metrics", "latency", write("times.json", json.dumps(times)), "--json")
    assert result.exit_code == 0
    assert json_out(result) == compute_latency_metrics(times)


def test_metrics_latency_table_and_times_key(write: Any) -> None:
    result = invoke("metrics", "latency", write("times.yaml", "times: [3, 1, 2]\n"))
    assert result.exit_code == 0
    for word in ("mean", "p50", "p95", "p99", "max"):
        assert word in result.stdout


def test_metrics_latency_empty_is_all_zero(write: Any) -> None:
    result = invoke("metrics", "latency", write("times.json", "[]"), "--json")
    assert json_out(result) == dict.fromkeys(["mean", "p50", "p95", "p99", "max"], 0.0)


@pytest.mark.parametrize("name", ["access.jsonl", "access.log", "times.json", "times.yaml"])
def test_metrics_latency_of_an_empty_file_is_bad_input_whatever_its_name(
    write: Any, name: str
) -> None:
    # an empty list of times is all zeros (above); a file with nothing in it is no data
    path = write(name, "\n  \n")
    assert_bad_input(invoke("metrics", "latency", path), path, "empty")


def test_metrics_latency_wrong_document_shape_is_bad_input(write: Any) -> None:
    path = write("times.json", '{"durations": [1]}')
    assert_bad_input(invoke("metrics", "latency", path), path, "times")


# --- trace critical-path -------------------------------------------------------------

SPANS = [
    {"service": "gateway", "duration_ms": 100, "parent_id": None},
    {"service": "auth", "duration_ms": 50, "parent_id": 0},
    {"service": "orders", "duration_ms": 30, "parent_id": 0},
    {"service": "payment", "duration_ms": 45, "parent_id": 2},
]


def test_trace_critical_path_json(write: Any) -> None:
    result = invoke("trace", "critical-path", write("spans.json", json.dumps(SPANS)), "--json")
    assert result.exit_code == 0
    assert json_out(result) == find_critical_path(SPANS) == {"total_duration_ms": 175, "depth": 3}


def test_trace_critical_path_table_and_spans_key(write: Any) -> None:
    path = write("trace.json", json.dumps({"spans": SPANS}))
    result = invoke("trace", "critical-path", path)
    assert result.exit_code == 0
    assert "175" in result.stdout


# --- health check --------------------------------------------------------------------


def test_health_check_healthy_exit_0(write: Any) -> None:
    path = write("deps.yaml", "db: healthy\ncache: {status: healthy, latency_ms: 2}\n")
    result = invoke("health", "check", path, "--json")
    assert result.exit_code == 0
    assert json_out(result) == {
        "status": "healthy",
        "details": {"db": "healthy", "cache": "healthy"},
    }


@pytest.mark.parametrize("status", ["degraded", "unhealthy"])
def test_health_check_not_healthy_is_a_finding(write: Any, status: str) -> None:
    path = write("deps.json", json.dumps({"db": "healthy", "cache": status}))
    result = invoke("health", "check", path)
    assert result.exit_code == 1
    assert status in result.stdout
    assert invoke("health", "check", path, "--json").exit_code == 1


def test_health_check_non_mapping_is_bad_input(write: Any) -> None:
    path = write("deps.json", '["healthy"]')
    assert_bad_input(invoke("health", "check", path), path, "mapping")


# --- balance round-robin -------------------------------------------------------------


def test_balance_round_robin_json(write: Any) -> None:
    path = write("servers.json", '["a", "b", "c"]')
    result = invoke("balance", "round-robin", path, "-n", "7", "--json")
    assert result.exit_code == 0
    assert json_out(result) == round_robin_balance(["a", "b", "c"], 7)


def test_balance_round_robin_table_counts(write: Any) -> None:
    path = write("servers.yaml", "servers: [a, b, c]\n")
    result = invoke("balance", "round-robin", path, "--requests", "7")
    assert result.exit_code == 0
    rows = [line.split() for line in result.stdout.splitlines()]
    counts = {row[1]: row[3] for row in rows if len(row) == 5 and row[1] in {"a", "b", "c"}}
    assert counts == {"a": "3", "b": "2", "c": "2"}


@pytest.mark.parametrize("args", [[], ["-n", "-1"], ["-n", "many"]])
def test_balance_round_robin_bad_request_count_is_usage_error(write: Any, args: list[str]) -> None:
    result = invoke("balance", "round-robin", write("servers.json", '["a"]'), *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("servers", "requests"),
    [(["a", "b", "c"], 100_003), ([1, 2.5, "x", 10**15], 10), (["a", "a", "b"], 2), (["a"], 0)],
)
def test_balance_round_robin_json_is_the_seed_assignment(
    write: Any, servers: list[Any], requests: int
) -> None:
    path = write("servers.json", json.dumps(servers))
    result = invoke("balance", "round-robin", path, "-n", str(requests), "--json")
    assert result.exit_code == 0
    assert json_out(result) == round_robin_balance(servers, requests)


SHIPSHAPE = str(Path(sys.executable).parent / "shipshape")


def limited(*args: str) -> list[str]:
    """The real command with at most 1 GiB of address space: a listed trillion fails fast."""
    return ["bash", "-c", 'ulimit -v 1048576 && exec "$0" "$@"', SHIPSHAPE, *args]


def test_balance_round_robin_counts_a_trillion_requests_without_listing_them(write: Any) -> None:
    path = write("servers.json", '["a", "b", "c"]')
    result = subprocess.run(
        limited("balance", "round-robin", path, "-n", str(10**12)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    counts = {row[1]: row[3] for row in rows if len(row) == 5 and row[1] in {"a", "b", "c"}}
    assert counts == {"a": "333333333334", "b": "333333333333", "c": "333333333333"}


def test_balance_round_robin_json_streams_to_a_reader_that_stops_early(write: Any) -> None:
    path = write("servers.json", '["a", "b"]')
    with subprocess.Popen(
        limited("balance", "round-robin", path, "-n", str(10**12), "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        head = process.stdout.read(20)
        process.stdout.close()  # like `| head -c 20`
        assert process.wait(timeout=60) == 0
        assert process.stderr is not None
        assert process.stderr.read() == b""
    assert head == b'["a","b","a","b","a"'


# --- cache simulate ------------------------------------------------------------------


def test_cache_simulate_json(write: Any) -> None:
    accesses = ["a", "b", "a", "c", "b"]
    path = write("accesses.json", json.dumps(accesses))
    result = invoke("cache", "simulate", path, "--capacity", "2", "--json")
    assert result.exit_code == 0
    assert (
        json_out(result)
        == lru_cache_sim(2, accesses)
        == {
            "hits": 1,
            "misses": 4,
            "cache": ["c", "b"],
        }
    )


def test_cache_simulate_table(write: Any) -> None:
    path = write("accesses.yaml", "accesses: [a, b, a]\n")
    result = invoke("cache", "simulate", path, "-c", "2")
    assert result.exit_code == 0
    assert "33.3%" in result.stdout


def test_cache_simulate_negative_capacity_is_usage_error(write: Any) -> None:
    result = invoke("cache", "simulate", write("accesses.json", '["a"]'), "-c", "-1")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("accesses", "what"), [('["a", true, 1]', "got bool"), ('["a", null]', "got null")]
)
def test_cache_simulate_booleans_and_null_are_not_keys(
    write: Any, accesses: str, what: str
) -> None:
    path = write("accesses.json", accesses)
    assert_bad_input(invoke("cache", "simulate", path, "-c", "2"), path, "accesses[1]", what)


def test_cache_simulate_a_capacity_beyond_a_machine_word_is_unbounded(write: Any) -> None:
    path = write("accesses.json", '["a", "b", "a"]')
    result = invoke("cache", "simulate", path, "-c", str(10**20), "--json")
    assert result.exit_code == 0
    assert json_out(result) == {"hits": 1, "misses": 2, "cache": ["b", "a"]}


def test_cache_simulate_unhashable_key_is_bad_input(write: Any) -> None:
    path = write("accesses.json", '["a", {"k": 1}]')
    assert_bad_input(invoke("cache", "simulate", path, "-c", "2"), path, "key")


# --- ratelimit simulate --------------------------------------------------------------


def test_ratelimit_simulate_json(write: Any) -> None:
    path = write("timestamps.json", "[5, 5, 5, 6]")
    result = invoke("ratelimit", "simulate", path, "-c", "2", "-r", "1", "--json")
    assert result.exit_code == 0
    assert json_out(result) == token_bucket_limiter(2, 1, [5, 5, 5, 6])
    assert json_out(result) == ["allowed", "allowed", "denied", "allowed"]


def test_ratelimit_simulate_table(write: Any) -> None:
    path = write("timestamps.yaml", "timestamps: [0, 0, 0]\n")
    result = invoke("ratelimit", "simulate", path, "--capacity", "2", "--refill-rate", "0.5")
    assert result.exit_code == 0
    assert "allowed 2, denied 1" in result.stdout


def test_ratelimit_simulate_non_number_names_the_field(write: Any) -> None:
    path = write("timestamps.json", '[1, "soon"]')
    result = invoke("ratelimit", "simulate", path, "-c", "1", "-r", "1")
    assert_bad_input(result, path, "timestamps[1]")


# --- failover decide -----------------------------------------------------------------

FLEET = [
    {"name": "db-1", "role": "primary", "healthy": False},
    {"name": "db-2", "role": "replica", "healthy": True},
    {"name": "db-3", "role": "replica", "healthy": False},
]


def test_failover_decide_json(write: Any) -> None:
    result = invoke("failover", "decide", write("fleet.json", json.dumps(FLEET)), "--json")
    assert result.exit_code == 0
    assert json_out(result) == failover_decisions(FLEET)


def test_failover_decide_table(write: Any) -> None:
    path = write("fleet.yaml", json.dumps({"servers": FLEET}))
    result = invoke("failover", "decide", path)
    assert result.exit_code == 0
    for word in ("db-1", "drain", "db-2", "promote"):
        assert word in result.stdout


# --- bad values inside well-formed files ---------------------------------------------


@pytest.mark.parametrize(
    ("args", "name", "content", "fragment"),
    [
        pytest.param(
            ["metrics", "latency"],
            "times.json",
            '[1, "slow"]',
            "slow",
            id="metrics-non-number",
        ),
        pytest.param(
            ["trace", "critical-path"],
            "spans.json",
            '[{"duration_ms": 1, "parent_id": 1}, {"duration_ms": 1, "parent_id": 0}]',
            "span",
            id="trace-cycle",
        ),
        pytest.param(
            ["trace", "critical-path"],
            "spans.json",
            '[{"duration_ms": 1, "parent_id": null}, {"duration_ms": 1, "parent_id": 7}]',
            "span 1",
            id="trace-parent-out-of-range",
        ),
        pytest.param(
            ["health", "check"],
            "deps.json",
            '{"db": "ok"}',
            "db",
            id="health-unknown-status",
        ),
        pytest.param(
            ["health", "check"],
            "deps.json",
            '{"db": ["healthy"]}',
            "db",
            id="health-list-status",
        ),
        pytest.param(
            ["balance", "round-robin", "-n", "3"],
            "servers.json",
            '[["a"], {"b": 1}]',
            "server",
            id="balance-unhashable-server",
        ),
        pytest.param(
            ["balance", "round-robin", "-n", "3"],
            "servers.json",
            "[]",
            "server",
            id="balance-no-servers",
        ),
        pytest.param(
            ["ratelimit", "simulate", "-c", "1", "-r", "1"],
            "timestamps.json",
            "[2, 1]",
            "earlier",
            id="ratelimit-decreasing",
        ),
        pytest.param(
            ["failover", "decide"],
            "fleet.json",
            '[{"name": "db-1", "role": "boss", "healthy": true}]',
            "boss",
            id="failover-unknown-role",
        ),
    ],
)
def test_bad_values_are_bad_input_naming_file_and_field(
    write: Any, args: list[str], name: str, content: str, fragment: str
) -> None:
    path = write(name, content)
    group, command, *options = args
    assert_bad_input(invoke(group, command, path, *options), path, fragment)


ODD_DOCUMENTS = [
    "null",
    "42",
    '"text"',
    "true",
    "[]",
    "{}",
    "[null]",
    "[[1]]",
    '[{"a": {}}]',
    '{"a": [1]}',
    '{"a": null}',
    "[1.5, -3]",
    '["a", 1, true, null]',
    '[{"parent_id": "x", "duration_ms": 1e400}]',
]


@pytest.mark.parametrize(("group", "command"), SEED_COMMANDS)
def test_odd_documents_never_crash(write: Any, group: str, command: str) -> None:
    # invoke() fails the test on any uncaught exception; bad input is one line, exit 2.
    for number, document in enumerate(ODD_DOCUMENTS):
        path = write(f"odd{number}.json", document)
        extra = {
            ("config", "merge"): [path],
            ("migrate", "diff"): [path],
            ("balance", "round-robin"): ["-n", "3"],
            ("cache", "simulate"): ["-c", "2"],
            ("ratelimit", "simulate"): ["-c", "1", "-r", "1"],
        }.get((group, command), [])
        result = invoke(group, command, path, *extra)
        assert result.exit_code in {0, 1, 2}, (document, result.exit_code)
        if result.exit_code == 2:
            message = result.stderr.strip()
            assert message.startswith("error: "), (document, message)
            assert "\n" not in message, (document, message)


# --- through a real process ----------------------------------------------------------


def shipshape(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    uv = shutil.which("uv")
    assert uv is not None, "uv is not on PATH"
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [uv, "run", "--quiet", "shipshape", *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_process_deploy_validate_exit_codes(write: Any) -> None:
    good = write("good.yaml", "region: us-east-1\ninstance_type: t3.micro\nmin_instances: 2\n")
    bad = write("bad.yaml", "region: us-east-1\nmin_instances: 0\n")
    broken = write("broken.yaml", "region: [us-east-1\n")

    ok = shipshape("deploy", "validate", good, "--json")
    assert ok.returncode == 0
    assert seed_fields(json.loads(ok.stdout)) == {"valid": True, "errors": []}

    findings = shipshape("deploy", "validate", bad, "--json")
    assert findings.returncode == 1
    assert json.loads(findings.stdout)["errors"] == [
        "missing_instance_type",
        "min_instances_must_be_positive_integer",
    ]

    failed = shipshape("deploy", "validate", broken)
    assert failed.returncode == 2
    assert failed.stdout == ""
    message = failed.stderr.strip()
    assert "\n" not in message
    assert broken in message
    assert "Traceback" not in message


def test_process_dockerfile_validate_from_stdin() -> None:
    result = shipshape("dockerfile", "validate", "-", "--json", stdin="FROM python:3.11\n")
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "valid": False,
        "errors": ["base_image_not_slim", "missing_workdir", "missing_expose", "missing_cmd"],
    }


@pytest.mark.parametrize(("command", "what"), [("logs", "entries"), ("ratelimit", "timestamps")])
def test_empty_input_is_named_as_empty_not_as_a_python_type(
    write: Any, command: str, what: str
) -> None:
    path = write("empty.yaml", "")
    args = (
        ["logs", "format", path]
        if command == "logs"
        else ["ratelimit", "simulate", path, "-c", "1", "-r", "1"]
    )
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "NoneType" not in result.output
    assert "empty" in result.output
