"""The deploy seed contract: validate_dockerfile, validate_deploy_config, merge_config,
compute_migration (issue 2, exactly as specified)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipshape import (
    compute_migration,
    merge_config,
    validate_deploy_config,
    validate_dockerfile,
)

# No deadlines and no too-slow health check: the suite runs on small, shared machines.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

ALL_DOCKERFILE_CODES = [
    "missing_from",
    "base_image_not_slim",
    "missing_workdir",
    "missing_expose",
    "missing_cmd",
]

COURSE_DOCKERFILE = """\
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
EXPOSE 8000
CMD ["uvicorn", "main:app", "--host", "0.0.0.0"]
"""


# --- validate_dockerfile -------------------------------------------------------------


def test_dockerfile_course_example_is_valid() -> None:
    assert validate_dockerfile(COURSE_DOCKERFILE) == {"valid": True, "errors": []}


def test_dockerfile_empty_text_reports_every_code_except_the_base_image() -> None:
    # With no FROM there is no base image to judge, so base_image_not_slim cannot apply.
    assert validate_dockerfile("") == {
        "valid": False,
        "errors": ["missing_from", "missing_workdir", "missing_expose", "missing_cmd"],
    }


def test_dockerfile_without_from_still_checks_the_other_instructions() -> None:
    text = "WORKDIR /app\nEXPOSE 80\nCMD run\n"
    assert validate_dockerfile(text) == {"valid": False, "errors": ["missing_from"]}


def test_dockerfile_codes_come_in_the_documented_order() -> None:
    result = validate_dockerfile("FROM python:3.11\nRUN true\n")
    assert result == {
        "valid": False,
        "errors": ["base_image_not_slim", "missing_workdir", "missing_expose", "missing_cmd"],
    }


@pytest.mark.parametrize(
    ("missing", "code"),
    [("WORKDIR /app", "missing_workdir"), ("EXPOSE 8000", "missing_expose")],
)
def test_dockerfile_each_missing_instruction_has_its_code(missing: str, code: str) -> None:
    text = COURSE_DOCKERFILE.replace(missing + "\n", "")
    assert validate_dockerfile(text) == {"valid": False, "errors": [code]}


def test_dockerfile_missing_cmd_when_neither_cmd_nor_entrypoint() -> None:
    text = COURSE_DOCKERFILE.replace('CMD ["uvicorn", "main:app", "--host", "0.0.0.0"]\n', "")
    assert validate_dockerfile(text) == {"valid": False, "errors": ["missing_cmd"]}


def test_dockerfile_entrypoint_counts_as_cmd() -> None:
    text = COURSE_DOCKERFILE.replace("CMD ", "ENTRYPOINT ")
    assert validate_dockerfile(text) == {"valid": True, "errors": []}


@pytest.mark.parametrize(
    "image",
    [
        "python:3.11-slim",
        "python:3.12-slim-bookworm",
        "python:3.11-alpine",
        "alpine:3.20",
        "gcr.io/distroless/python3-debian12",
        "python:3.11-slim@sha256:" + "ab" * 32,
    ],
)
def test_dockerfile_slim_alpine_distroless_bases_are_slim(image: str) -> None:
    text = COURSE_DOCKERFILE.replace("python:3.11-slim", image)
    assert validate_dockerfile(text) == {"valid": True, "errors": []}


@pytest.mark.parametrize("image", ["python:3.11", "python", "ubuntu:24.04", "python:3.11-bookworm"])
def test_dockerfile_other_bases_are_not_slim(image: str) -> None:
    text = COURSE_DOCKERFILE.replace("python:3.11-slim", image)
    assert validate_dockerfile(text) == {"valid": False, "errors": ["base_image_not_slim"]}


def test_dockerfile_from_flags_are_not_the_image() -> None:
    text = COURSE_DOCKERFILE.replace("FROM ", "FROM --platform=linux/amd64 ")
    assert validate_dockerfile(text) == {"valid": True, "errors": []}


def test_dockerfile_instructions_are_case_insensitive() -> None:
    text = "from python:3.11-slim\nworkdir /app\nExpose 8000\ncmd python app.py\n"
    assert validate_dockerfile(text) == {"valid": True, "errors": []}


def test_dockerfile_comments_and_blank_lines_are_ignored() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n\n"
        "FROM python:3.11-slim\n"
        "# WORKDIR /app\n"
        "\n\n"
        "# EXPOSE 8000\n"
        "#CMD python app.py\n"
    )
    assert validate_dockerfile(text) == {
        "valid": False,
        "errors": ["missing_workdir", "missing_expose", "missing_cmd"],
    }


def test_dockerfile_continuations_are_joined() -> None:
    text = (
        "FROM \\\n    python:3.11-slim\n"
        "WORKDIR /app\n"
        "RUN pip install \\\n    uvicorn \\\n    fastapi\n"
        "EXPOSE \\\n 8000\n"
        'CMD ["uvicorn", \\\n     "main:app"]\n'
    )
    assert validate_dockerfile(text) == {"valid": True, "errors": []}


def test_dockerfile_continuation_lines_are_not_instructions() -> None:
    # "CMD" and "EXPOSE" here are arguments of RUN, carried over by the continuations.
    text = "FROM python:3.11-slim\nWORKDIR /app\nRUN echo \\\n  EXPOSE 80 \\\n  CMD done\n"
    assert validate_dockerfile(text) == {
        "valid": False,
        "errors": ["missing_expose", "missing_cmd"],
    }


def test_dockerfile_checks_apply_to_the_final_stage() -> None:
    text = (
        "FROM python:3.11-slim AS build\n"
        "WORKDIR /src\n"
        "EXPOSE 8000\n"
        "CMD build\n"
        "FROM python:3.11\n"
        "COPY --from=build /src /app\n"
    )
    assert validate_dockerfile(text) == {"valid": False, "errors": ALL_DOCKERFILE_CODES[1:]}


def test_dockerfile_slim_final_stage_after_a_fat_builder_is_valid() -> None:
    text = (
        "FROM python:3.11 AS build\n"
        "RUN pip wheel -w /wheels .\n"
        "FROM python:3.11-slim\n"
        "WORKDIR /app\n"
        "COPY --from=build /wheels /wheels\n"
        "EXPOSE 8000\n"
        "CMD serve\n"
    )
    assert validate_dockerfile(text) == {"valid": True, "errors": []}


def test_dockerfile_final_stage_built_from_a_stage_inherits_it() -> None:
    # FROM <stage> builds on that stage's image: its base image and WORKDIR carry over.
    text = "FROM python:3.11-slim AS base\nWORKDIR /app\nFROM base\nEXPOSE 8000\nCMD serve\n"
    assert validate_dockerfile(text) == {"valid": True, "errors": []}


@relaxed
@given(st.sets(st.sampled_from(["WORKDIR /app", "EXPOSE 80", "CMD run"])), st.booleans())
def test_dockerfile_valid_iff_no_errors(present: set[str], slim: bool) -> None:
    base = "python:3.11-slim" if slim else "python:3.11"
    result = validate_dockerfile("\n".join([f"FROM {base}", *sorted(present)]))
    assert result["valid"] is (result["errors"] == [])
    assert result["errors"] == [c for c in ALL_DOCKERFILE_CODES if c in result["errors"]]
    assert ("base_image_not_slim" in result["errors"]) is (not slim)
    assert len(result["errors"]) == (0 if slim else 1) + 3 - len(present)


def test_dockerfile_crlf_line_endings() -> None:
    assert validate_dockerfile(COURSE_DOCKERFILE.replace("\n", "\r\n")) == {
        "valid": True,
        "errors": [],
    }


def test_dockerfile_indented_instructions() -> None:
    text = "  FROM python:3.11-slim\n\tWORKDIR /app\n   EXPOSE 8000\n CMD run\n"
    assert validate_dockerfile(text) == {"valid": True, "errors": []}


def test_dockerfile_comment_lines_inside_a_continuation_are_dropped() -> None:
    text = "FROM python:3.11-slim\nWORKDIR /app\nEXPOSE 80\nRUN a \\\n# CMD not\n  b\n"
    assert validate_dockerfile(text) == {"valid": False, "errors": ["missing_cmd"]}


def test_dockerfile_escape_directive_changes_the_continuation_character() -> None:
    text = "# escape=`\nFROM python:3.11-slim\nWORKDIR C:\\app\nEXPOSE 80\nRUN echo `\n  CMD x\n"
    assert validate_dockerfile(text) == {"valid": False, "errors": ["missing_cmd"]}


def test_dockerfile_heredoc_body_is_not_instructions() -> None:
    text = "FROM python:3.11-slim\nWORKDIR /app\nRUN <<EOF\nEXPOSE 80\nCMD fake\nEOF\n"
    assert validate_dockerfile(text) == {
        "valid": False,
        "errors": ["missing_expose", "missing_cmd"],
    }


def test_dockerfile_onbuild_triggers_do_not_count() -> None:
    text = "FROM python:3.11-slim\nWORKDIR /app\nEXPOSE 80\nONBUILD CMD run\n"
    assert validate_dockerfile(text) == {"valid": False, "errors": ["missing_cmd"]}


_BODY_INSTRUCTIONS = [
    ("WORKDIR", "/app"),
    ("EXPOSE", "8000"),
    ("CMD", '["python", "-m", "app"]'),
    ("ENTRYPOINT", "serve"),
    ("RUN", "pip install fastapi"),
    ("RUN", "echo EXPOSE 1 CMD x WORKDIR /"),
    ("COPY", ". ."),
    ("ENV", "MODE=prod"),
]
_COMMENTS = ["", "# CMD run", "#EXPOSE 80", "  # WORKDIR /srv", "\t"]


@st.composite
def single_stage_dockerfiles(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    def keyword(word: str) -> str:
        return draw(st.sampled_from([word, word.lower(), word.title()]))

    def instruction(word: str, args: str) -> str:
        head = keyword(word)
        if draw(st.booleans()):  # a continuation between every word of the arguments
            return head + " \\\n    " + " \\\n    ".join(args.split(" "))
        return f"{head} {args}"

    image = draw(st.sampled_from(["python:3.12-slim", "python:3.12", "alpine:3.20", "debian"]))
    body = draw(st.lists(st.sampled_from(_BODY_INSTRUCTIONS), max_size=8))
    lines = [instruction("FROM", image)]
    for word, args in body:
        lines.extend(draw(st.lists(st.sampled_from(_COMMENTS), max_size=2)))
        lines.append(instruction(word, args))
    return "\n".join(lines) + "\n", image, [word for word, _ in body]


@relaxed
@given(single_stage_dockerfiles())
def test_dockerfile_matches_a_reference_on_generated_files(
    generated: tuple[str, str, list[str]],
) -> None:
    text, image, keywords = generated
    expected = []
    if not any(marker in image for marker in ("slim", "alpine", "distroless")):
        expected.append("base_image_not_slim")
    if "WORKDIR" not in keywords:
        expected.append("missing_workdir")
    if "EXPOSE" not in keywords:
        expected.append("missing_expose")
    if "CMD" not in keywords and "ENTRYPOINT" not in keywords:
        expected.append("missing_cmd")
    assert validate_dockerfile(text) == {"valid": not expected, "errors": expected}


# --- validate_deploy_config ----------------------------------------------------------

GOOD_CONFIG = {"region": "us-east-1", "instance_type": "t3.micro", "min_instances": 2}


def test_deploy_config_course_example_is_valid() -> None:
    assert validate_deploy_config(GOOD_CONFIG) == {"valid": True, "errors": []}


def test_deploy_config_missing_region_faq() -> None:
    config = {"instance_type": "t3.micro", "min_instances": 2}
    assert validate_deploy_config(config) == {"valid": False, "errors": ["missing_region"]}


def test_deploy_config_empty_reports_every_missing_field_in_order() -> None:
    assert validate_deploy_config({}) == {
        "valid": False,
        "errors": ["missing_region", "missing_instance_type", "missing_min_instances"],
    }


def test_deploy_config_wrong_types_in_order() -> None:
    config = {"region": 1, "instance_type": None, "min_instances": "2"}
    assert validate_deploy_config(config) == {
        "valid": False,
        "errors": [
            "region_must_be_string",
            "instance_type_must_be_string",
            "min_instances_must_be_positive_integer",
        ],
    }


def test_deploy_config_missing_codes_come_before_type_codes() -> None:
    config = {"instance_type": 3, "min_instances": 0}
    assert validate_deploy_config(config) == {
        "valid": False,
        "errors": [
            "missing_region",
            "instance_type_must_be_string",
            "min_instances_must_be_positive_integer",
        ],
    }


@pytest.mark.parametrize("value", [0, -1, True, False, 1.0, 2.5, "2", None, [2]])
def test_deploy_config_min_instances_must_be_a_positive_int(value: object) -> None:
    result = validate_deploy_config({**GOOD_CONFIG, "min_instances": value})
    assert result == {"valid": False, "errors": ["min_instances_must_be_positive_integer"]}


@pytest.mark.parametrize("value", [1, 2, 10**12])
def test_deploy_config_positive_ints_are_accepted(value: int) -> None:
    assert validate_deploy_config({**GOOD_CONFIG, "min_instances": value})["valid"] is True


def test_deploy_config_extra_keys_are_allowed() -> None:
    config = {**GOOD_CONFIG, "max_instances": 10, "tags": {"team": "api"}}
    assert validate_deploy_config(config) == {"valid": True, "errors": []}


def test_deploy_config_accepts_any_mapping() -> None:
    assert validate_deploy_config(MappingProxyType(GOOD_CONFIG)) == {"valid": True, "errors": []}


@pytest.mark.parametrize("config", [None, [], [("region", "x")], "region", 42])
def test_deploy_config_non_mapping_raises_type_error(config: Any) -> None:
    with pytest.raises(TypeError):
        validate_deploy_config(config)


def test_deploy_config_input_is_not_mutated() -> None:
    config = {"region": 1, "extra": [1, 2]}
    before = copy.deepcopy(config)
    validate_deploy_config(config)
    assert config == before


_DEPLOY_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), st.text(max_size=3)
)


@relaxed
@given(
    st.dictionaries(
        st.sampled_from(["region", "instance_type", "min_instances", "extra"]), _DEPLOY_VALUES
    )
)
def test_deploy_config_matches_the_specification(config: dict[str, Any]) -> None:
    expected = [
        f"missing_{f}" for f in ("region", "instance_type", "min_instances") if f not in config
    ]
    if "region" in config and not isinstance(config["region"], str):
        expected.append("region_must_be_string")
    if "instance_type" in config and not isinstance(config["instance_type"], str):
        expected.append("instance_type_must_be_string")
    if "min_instances" in config:
        value = config["min_instances"]
        if type(value) is not int or value < 1:
            expected.append("min_instances_must_be_positive_integer")
    assert validate_deploy_config(config) == {"valid": not expected, "errors": expected}


# --- merge_config --------------------------------------------------------------------


def test_merge_course_example() -> None:
    defaults = {"debug": False, "db": {"host": "localhost", "port": 5432}}
    prod = {"db": {"host": "prod-db.example.com"}}
    final = merge_config(defaults, prod)
    assert final == {"db": {"host": "prod-db.example.com", "port": 5432}, "debug": False}
    assert list(final) == ["db", "debug"]
    assert list(final["db"]) == ["host", "port"]


def test_merge_faq_keeps_unoverridden_nested_port() -> None:
    defaults = {"db": {"host": "localhost", "port": 5432}}
    overrides = {"db": {"host": "prod.example.com"}}
    assert merge_config(defaults, overrides)["db"]["port"] == 5432


def test_merge_keys_only_in_one_side_are_kept() -> None:
    assert merge_config({"a": 1}, {"b": 2}) == {"a": 1, "b": 2}


def test_merge_lists_are_replaced_not_concatenated() -> None:
    assert merge_config({"hosts": ["a", "b"]}, {"hosts": ["c"]}) == {"hosts": ["c"]}


@pytest.mark.parametrize(
    ("default", "override"),
    [({"host": "x"}, "y"), ("y", {"host": "x"}), ({"a": 1}, None), ({"a": 1}, ["a"])],
)
def test_merge_override_wins_unless_both_sides_are_dicts(default: Any, override: Any) -> None:
    assert merge_config({"k": default}, {"k": override}) == {"k": override}


def test_merge_none_and_false_overrides_win() -> None:
    assert merge_config({"a": 1, "b": True}, {"a": None, "b": False}) == {"a": None, "b": False}


def test_merge_keys_are_sorted_at_every_level() -> None:
    defaults = {"z": {"y": 1, "b": {"d": 1, "c": 2}}, "m": 0}
    overrides = {"a": {"q": 1, "p": 2}, "z": {"x": 1}}
    result = merge_config(defaults, overrides)
    assert list(result) == ["a", "m", "z"]
    assert list(result["a"]) == ["p", "q"]
    assert list(result["z"]) == ["b", "x", "y"]
    assert list(result["z"]["b"]) == ["c", "d"]


def test_merge_does_not_mutate_inputs() -> None:
    defaults = {"db": {"host": "a", "opts": {"ssl": False}}, "hosts": [1, 2]}
    overrides = {"db": {"opts": {"ssl": True}}, "hosts": [3]}
    before = copy.deepcopy((defaults, overrides))
    merge_config(defaults, overrides)
    assert (defaults, overrides) == before


def test_merge_result_does_not_alias_inputs() -> None:
    defaults = {"only_default": {"n": [1]}, "shared": {"inner": {"x": 1}}, "lst": [1]}
    overrides = {"only_override": {"m": [2]}, "shared": {"inner": {"y": 2}}, "lst": [[3]]}
    before = copy.deepcopy((defaults, overrides))
    result = merge_config(defaults, overrides)
    result["only_default"]["n"].append(99)
    result["only_override"]["m"].append(99)
    result["shared"]["inner"]["x"] = 99
    result["lst"][0].append(99)
    assert (defaults, overrides) == before


def test_merge_later_input_changes_do_not_reach_the_result() -> None:
    defaults = {"a": {"b": [1]}}
    overrides = {"c": {"d": [2]}}
    result = merge_config(defaults, overrides)
    defaults["a"]["b"].append(3)
    overrides["c"]["d"].append(4)
    assert result == {"a": {"b": [1]}, "c": {"d": [2]}}


def test_merge_empty_sides() -> None:
    assert merge_config({}, {}) == {}
    assert merge_config({"b": 1, "a": 2}, {}) == {"a": 2, "b": 1}
    assert merge_config({}, {"b": 1, "a": 2}) == {"a": 2, "b": 1}


_keys = st.text(alphabet="abcde", min_size=1, max_size=2)
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=3),
)
_configs = st.recursive(
    st.dictionaries(_keys, _leaves, max_size=4),
    lambda children: st.dictionaries(_keys, st.one_of(_leaves, children), max_size=4),
    max_leaves=20,
)


def _check_merged(result: Any, defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> None:
    assert isinstance(result, dict)
    assert list(result) == sorted(set(defaults) | set(overrides))
    for key, value in result.items():
        if key in defaults and key in overrides:
            base, override = defaults[key], overrides[key]
            if isinstance(base, dict) and isinstance(override, dict):
                _check_merged(value, base, override)
            else:
                assert value == override
        elif key in overrides:
            assert value == overrides[key]
        else:
            assert value == defaults[key]


def _nested_keys(value: Any) -> list[list[str]]:
    if not isinstance(value, dict):
        return []
    return [list(value)] + [keys for item in value.values() for keys in _nested_keys(item)]


def _mutables(value: Any) -> list[Any]:
    found: list[Any] = []
    if isinstance(value, dict | list):
        found.append(value)
        for item in value.values() if isinstance(value, dict) else value:
            found.extend(_mutables(item))
    return found


@settings(relaxed, max_examples=200)
@given(_configs, _configs)
def test_merge_never_loses_a_key_and_override_wins_at_leaves(
    defaults: dict[str, Any], overrides: dict[str, Any]
) -> None:
    before = copy.deepcopy((defaults, overrides))
    result = merge_config(defaults, overrides)
    _check_merged(result, defaults, overrides)
    assert all(keys == sorted(keys) for keys in _nested_keys(result))
    assert (defaults, overrides) == before
    input_ids = {id(obj) for obj in _mutables(defaults) + _mutables(overrides)}
    assert not input_ids & {id(obj) for obj in _mutables(result)}


@relaxed
@given(_configs)
def test_merge_with_empty_overrides_is_a_sorted_copy(defaults: dict[str, Any]) -> None:
    assert merge_config(defaults, {}) == defaults
    assert merge_config({}, defaults) == defaults


# --- compute_migration ---------------------------------------------------------------


def test_migration_course_example() -> None:
    old = {"name": "str", "age": "int", "email": "str"}
    new = {"name": "str", "age": "float", "phone": "str"}
    assert compute_migration(old, new) == {
        "added": [{"field": "phone", "type": "str"}],
        "removed": [{"field": "email", "type": "str"}],
        "changed": [{"field": "age", "old_type": "int", "new_type": "float"}],
    }


def test_migration_identical_schemas_have_no_steps() -> None:
    schema = {"id": "int", "name": "str"}
    assert compute_migration(schema, dict(schema)) == {"added": [], "removed": [], "changed": []}


def test_migration_from_nothing_adds_everything_sorted() -> None:
    assert compute_migration({}, {"b": "int", "a": "str"}) == {
        "added": [{"field": "a", "type": "str"}, {"field": "b", "type": "int"}],
        "removed": [],
        "changed": [],
    }


def test_migration_each_list_is_sorted_by_field() -> None:
    old = {"z": "int", "y": "int", "m": "int", "c": "int"}
    new = {"z": "str", "m": "str", "x": "int", "b": "int"}
    steps = compute_migration(old, new)
    assert [s["field"] for s in steps["added"]] == ["b", "x"]
    assert [s["field"] for s in steps["removed"]] == ["c", "y"]
    assert [s["field"] for s in steps["changed"]] == ["m", "z"]


def test_migration_entries_have_exactly_the_documented_keys() -> None:
    steps = compute_migration({"a": "int", "b": "int"}, {"a": "str", "c": "int"})
    assert set(steps) == {"added", "removed", "changed"}
    assert [set(s) for s in steps["added"]] == [{"field", "type"}]
    assert [set(s) for s in steps["removed"]] == [{"field", "type"}]
    assert [set(s) for s in steps["changed"]] == [{"field", "old_type", "new_type"}]


def test_migration_does_not_mutate_inputs() -> None:
    old, new = {"b": "int", "a": "str"}, {"c": "int", "a": "int"}
    before = copy.deepcopy((old, new))
    compute_migration(old, new)
    assert (old, new) == before


def test_migration_returns_new_objects_never_the_inputs_types() -> None:
    shared = {"t": 1}
    items = ["int"]
    steps = compute_migration({"x": shared, "gone": items}, {"x": {}, "new": items})
    steps["changed"][0]["old_type"]["t"] = 5
    steps["removed"][0]["type"].append("str")
    steps["added"][0]["type"].append("float")
    assert shared == {"t": 1}
    assert items == ["int"]


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ({1: "int", "a": "str"}, {}, "1 (int) and 'a' (str)"),
        ({}, {"a": "str", None: "int"}, "'a' (str) and None (NoneType)"),
    ],
)
def test_field_names_that_cannot_be_sorted_are_a_clear_type_error(
    old: dict[Any, str], new: dict[Any, str], named: str
) -> None:
    with pytest.raises(TypeError) as raised:
        compute_migration(old, new)
    assert str(raised.value) == (
        f"compute_migration: field names must be sortable together (use strings); got {named}"
    )


_schemas = st.dictionaries(
    st.text(alphabet="abcdef", min_size=1, max_size=3), st.sampled_from(["int", "str", "float"])
)


@relaxed
@given(_schemas, _schemas)
def test_migration_partitions_the_fields(old: dict[str, str], new: dict[str, str]) -> None:
    steps = compute_migration(old, new)
    added = [s["field"] for s in steps["added"]]
    removed = [s["field"] for s in steps["removed"]]
    changed = [s["field"] for s in steps["changed"]]
    assert added == sorted(new.keys() - old.keys())
    assert removed == sorted(old.keys() - new.keys())
    assert changed == sorted(f for f in old.keys() & new.keys() if old[f] != new[f])
    assert all(s["type"] == new[s["field"]] for s in steps["added"])
    assert all(s["type"] == old[s["field"]] for s in steps["removed"])
    assert all(
        (s["old_type"], s["new_type"]) == (old[s["field"]], new[s["field"]])
        for s in steps["changed"]
    )
    unchanged = {f for f in old.keys() & new.keys() if old[f] == new[f]}
    assert unchanged.isdisjoint(added + removed + changed)
