"""Deploy and config files whose YAML is legal but whose meaning is lost or endless."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shipshape.deploy.config import ConfigFileError, parse_document

SPEC = "region: eu-west-1\ninstance_type: m6i.large\nmin_instances: 2\n"


def shipshape(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("shipshape")), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=120,
    )


def test_a_key_written_twice_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(SPEC + "env:\n  A: '1'\nregion: us-east-1\n", encoding="utf-8")
    result = shipshape("deploy", "validate", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{path}:6: duplicate key 'region' (first on line 1)" in result.stderr


def test_a_duplicated_block_in_a_config_file_does_not_silently_drop_the_first(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "base.yaml").write_text(
        "database:\n  host: db\n  port: 1\ndatabase:\n  port: 5\n", encoding="utf-8"
    )
    (config / "prod.yaml").write_text("", encoding="utf-8")
    result = shipshape("config", "show", "--env", "prod", "--secrets-dir", "none", cwd=tmp_path)
    assert result.returncode == 2
    assert "config/base.yaml:4: duplicate key 'database' (first on line 1)" in result.stderr


def test_duplicate_keys_in_json(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError) as caught:
        parse_document('{"a": {"b": 1},\n "a": {"c": 2}}', "deploy.json")
    assert caught.value.line == 2
    assert "duplicate key 'a'" in caught.value.message


def test_the_same_key_in_different_mappings_and_merge_keys_are_fine() -> None:
    text = (
        "base: &base\n  region: eu\n  env: {A: '1'}\n"
        "environments:\n  prod:\n    <<: *base\n    region: us\n  dev:\n    <<: *base\n"
    )
    document = parse_document(text, "deploy.yaml")
    assert document.data["environments"]["prod"]["region"] == "us"
    assert document.lines[("environments", "prod", "region")] == 7


@pytest.mark.parametrize(
    "text", ["a: &a\n  x: *a\n", "a: &a [1, *a]\n", "- &a {b: [*a]}\n"], ids=str
)
def test_an_alias_inside_its_own_anchor_is_an_error_not_a_hang(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(text, encoding="utf-8")
    result = shipshape("deploy", "validate", str(path))
    assert result.returncode == 2
    assert "an alias refers to a node that contains it" in result.stderr
    assert "Traceback" not in result.stderr


def test_nested_aliases_are_read_once_not_once_per_path(tmp_path: Path) -> None:
    # each level refers to the one below nine times: 9**9 paths to the innermost mapping
    levels = ["l0: &l0 {x: 1, y: 2}"]
    for level in range(1, 10):
        refs = ", ".join(f"k{i}: *l{level - 1}" for i in range(9))
        levels.append(f"l{level}: &l{level} {{{refs}}}")
    path = tmp_path / "deploy.yaml"
    path.write_text("\n".join(levels) + "\n" + SPEC, encoding="utf-8")
    result = shipshape("deploy", "validate", str(path))
    assert result.returncode == 2
    assert f"{path}:1: default: l0: unknown key" in result.stderr
