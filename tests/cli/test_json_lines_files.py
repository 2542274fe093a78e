"""A ``.jsonl`` / ``.ndjson`` input is a list of its lines, however many there are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipshape.cli import app


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson"])
def test_a_one_line_file_is_a_list_of_one(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"accesses{suffix}"
    path.write_text('"a"\n')
    code, out, err = run("cache", "simulate", str(path), "-c", "2", "--json")
    assert code == 0, err
    assert json.loads(out)["misses"] == 1


def test_an_empty_file_is_an_empty_list(tmp_path: Path) -> None:
    path = tmp_path / "accesses.jsonl"
    path.write_text("")
    code, out, err = run("cache", "simulate", str(path), "-c", "2", "--json")
    assert code == 0, err
    assert json.loads(out)["misses"] == 0


def test_a_one_line_json_file_is_still_one_document(tmp_path: Path) -> None:
    path = tmp_path / "accesses.json"
    path.write_text('{"accesses": ["a", "a"]}\n')
    code, out, err = run("cache", "simulate", str(path), "-c", "2", "--json")
    assert code == 0, err
    assert json.loads(out)["hits"] == 1
