"""``shipshape balance simulate`` through the CLI app and a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipshape.cli import app
from shipshape.scale.simulate import SimulationSpec, simulate_balance, sticky_moves

runner = CliRunner()
SHIPSHAPE = str(Path(sys.executable).parent / "shipshape")

SPEC = """
backends:
  - {name: a, weight: 5, latency_ms: 20}
  - {name: b, weight: 1, latency_ms: 5}
  - {name: c, weight: 1, latency_ms: 50}
"""


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "backends.yaml"
    path.write_text(SPEC)
    return path


def run_json(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["balance", "simulate", *args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def counts(result: dict[str, object]) -> dict[str, int]:
    rows = result["backends"]
    assert isinstance(rows, list)
    return {row["name"]: row["requests"] for row in rows}


def test_round_robin_counts(spec_file: Path) -> None:
    result = run_json(str(spec_file), "--strategy", "round-robin", "-n", "10")
    assert counts(result) == {"a": 4, "b": 3, "c": 3}
    assert result["unserved"] == 0


def test_weighted_counts_follow_weights(spec_file: Path) -> None:
    assert counts(run_json(str(spec_file), "-s", "weighted", "-n", "700")) == {
        "a": 500,
        "b": 100,
        "c": 100,
    }


def test_sticky_reports_moved_keys(spec_file: Path) -> None:
    result = run_json(str(spec_file), "-s", "sticky", "-n", "100", "--remove", "a")
    sticky = result["sticky"]
    assert isinstance(sticky, dict)
    assert sticky["removed"] == "a"
    assert sticky["moved"] == sticky["owned_by_removed"]
    assert sticky["moved_from_other_backends"] == 0


def test_least_request_is_deterministic_per_seed(spec_file: Path) -> None:
    first = run_json(str(spec_file), "-s", "least-request", "-n", "2000", "--seed", "4")
    again = run_json(str(spec_file), "-s", "least-request", "-n", "2000", "--seed", "4")
    assert first == again
    assert sum(counts(first).values()) == 2000


def test_failing_backend_is_ejected_and_table_output() -> None:
    spec = SimulationSpec.model_validate(
        {
            "backends": [{"name": "ok"}, {"name": "bad", "failure_rate": 1.0}],
            "policy": {"max_failures": 3, "ejection_time": 100},
        }
    )
    result = simulate_balance(spec, "round-robin", 1000)
    rows = {row["name"]: row for row in result["backends"]}
    assert rows["bad"]["ejections"] == 1
    assert rows["bad"]["failures"] >= 3
    assert rows["ok"]["requests"] > 990


def test_all_backends_failing_leaves_requests_unserved(tmp_path: Path) -> None:
    path = tmp_path / "down.json"
    path.write_text(
        json.dumps(
            {
                "backends": [{"name": "x", "failure_rate": 1, "latency_ms": 0}],
                "policy": {"max_failures": 1, "ejection_time": 1000},
            }
        )
    )
    result = runner.invoke(app, ["balance", "simulate", str(path), "-n", "50"])
    assert result.exit_code == 1
    assert "1 of 50 requests served" in result.stdout


def test_sticky_moves_core_counts_only_removed_keys() -> None:
    moves = sticky_moves({f"b{i}": 1.0 for i in range(10)}, "b0", 5000)
    assert moves["moved"] == moves["owned_by_removed"] > 0
    with pytest.raises(ValueError, match="only backend"):
        sticky_moves({"a": 1.0}, "a", 10)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("backends: []", "backends: List should have at least 1 item"),
        ("backends: [{name: a, latency_ms: -1}]", "backends.0.latency_ms"),
        ("backends: [{name: a}, {name: a}]", "duplicate backend name 'a'"),
        ("backends: [{name: a, wieght: 2}]", "backends.0.wieght: Extra inputs"),
        ("backends: [{name: a}]\nrate: 0", "rate: Input should be greater than 0"),
        ("backends: [", "invalid YAML"),
        ("backends: [{name: a, weight: .inf}]", "backends.0.weight: Input should be a finite"),
        ("backends: [{name: a, latency_ms: .inf}]", "backends.0.latency_ms: Input should be a"),
        ("backends: [{name: a}]\nrate: .inf", "rate: Input should be a finite number"),
    ],
)
def test_bad_input_exits_2_naming_file_and_field(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(content)
    result = runner.invoke(app, ["balance", "simulate", str(path)])
    assert result.exit_code == 2
    assert str(path) in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("strategy", ["round-robin", "weighted", "least-request", "sticky"])
def test_weights_near_the_float_limit_are_balanced_not_a_crash(
    tmp_path: Path, strategy: str
) -> None:
    path = tmp_path / "huge.json"
    path.write_text('[{"name": "a", "weight": 1e308}, {"name": "b", "weight": 1e308}]')
    result = runner.invoke(app, ["balance", "simulate", str(path), "-s", strategy, "-n", "10"])
    assert result.exit_code == 0, result.output
    assert result.exception is None


def test_bad_strategy_and_remove(spec_file: Path) -> None:
    result = runner.invoke(app, ["balance", "simulate", str(spec_file), "-s", "fastest"])
    assert result.exit_code == 2
    assert "unknown strategy 'fastest'" in result.stderr
    result = runner.invoke(
        app, ["balance", "simulate", str(spec_file), "-s", "weighted", "--remove", "a"]
    )
    assert result.exit_code == 2
    assert "only applies to the sticky strategy" in result.stderr


def test_subprocess_reads_stdin_list(spec_file: Path) -> None:
    backends = [{"name": "a"}, {"name": "b", "weight": 2}]
    completed = subprocess.run(
        [SHIPSHAPE, "balance", "simulate", "-", "-s", "weighted", "-n", "30", "--json"],
        input=json.dumps(backends),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert counts(json.loads(completed.stdout)) == {"a": 10, "b": 20}
