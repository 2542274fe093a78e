"""The scale commands' inputs: exact JSON integers, NaN keys, one-line option errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_seed_cli import assert_bad_input, invoke, json_out


@pytest.fixture
def write(tmp_path: Path) -> Any:
    def write(name: str, content: str) -> str:
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        return str(path)

    return write


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("accesses.json", "[18446744073709551616, 18446744073709551617]"),
        ("accesses.json", '{"accesses": [18446744073709551616, 18446744073709551617]}'),
        ("accesses.jsonl", "18446744073709551616\n18446744073709551617\n"),
        ("accesses.json", f"[{'9' * 400}, {'9' * 399}8]"),
    ],
)
def test_json_integers_beyond_64_bits_stay_exact(write: Any, name: str, content: str) -> None:
    result = invoke("cache", "simulate", write(name, content), "-c", "2", "--json")
    assert result.exit_code == 0, result.stderr
    document = json_out(result)
    assert document["hits"] == 0
    assert document["misses"] == 2
    assert all(isinstance(key, int) for key in document["cache"])


def test_json_with_long_digit_runs_is_still_strict_json(write: Any) -> None:
    path = write("accesses.json", '["12345678901234567890", NaN]')
    assert_bad_input(invoke("cache", "simulate", path, "-c", "2"), path, "invalid JSON")


@pytest.mark.parametrize(
    ("content", "value"), [("- .nan\n- .nan\n", "nan"), ("- a\n- .inf\n", "inf")]
)
def test_cache_simulate_refuses_keys_that_are_not_finite_numbers(
    write: Any, content: str, value: str
) -> None:
    path = write("accesses.yaml", content)
    index = 0 if value == "nan" else 1
    assert_bad_input(
        invoke("cache", "simulate", path, "-c", "2"),
        path,
        f"accesses[{index}]: a key must be a finite number, got {value}",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ratelimit", "simulate", "{t}", "-c", "nan", "-r", "1"], "--capacity: must be a finite"),
        (["ratelimit", "simulate", "{t}", "-c", "1", "-r", "-1"], "--refill-rate: must be >= 0"),
        (["ratelimit", "simulate", "{t}", "-c", "-1", "-r", "1"], "--capacity: must be >= 0"),
        (["cache", "simulate", "{a}", "-c", "-1"], "--capacity: must be >= 0, got -1"),
        (["balance", "round-robin", "{s}", "-n", "-1"], "--requests: must be >= 0, got -1"),
        (["balance", "simulate", "{b}", "-n", "-1"], "--requests: must be >= 0, got -1"),
        (["balance", "simulate", "{b}", "-s", "nope"], "--strategy: unknown strategy 'nope'"),
        (["failover", "plan", "{p}", "--epoch", "-1"], "--epoch: must be >= 0, got -1"),
        (["failover", "plan", "{p}", "--max-lag", "nan"], "--max-lag: must be >= 0, got nan"),
        (["failover", "watch", "{w}", "--interval", "-1"], "--interval: must be >= 0"),
        (["failover", "watch", "{w}", "--max-rounds", "0"], "--max-rounds: must be >= 1, got 0"),
    ],
)
def test_bad_option_values_are_one_line_errors_naming_the_option(
    write: Any, args: list[str], message: str
) -> None:
    files = {
        "{t}": write("timestamps.json", "[0, 1]"),
        "{a}": write("accesses.json", '["a"]'),
        "{s}": write("servers.json", '["a"]'),
        "{b}": write("backends.json", '[{"name": "a"}]'),
        "{p}": write("plan.yaml", "epoch: 3\nservers:\n  - {name: db1, role: primary}\n"),
        "{w}": write("watch.yaml", "servers:\n  - {name: db1, url: 'http://127.0.0.1:9'}\n"),
    }
    result = invoke(*(files.get(arg, arg) for arg in args))
    assert_bad_input(result, f"error: {message}")
    assert not any(path in result.stderr for path in files.values())
