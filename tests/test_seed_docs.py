"""The examples in docs/seed.md run and print exactly what the page shows."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

import shipshape

SEED_DOC = Path(__file__).resolve().parents[1] / "docs" / "seed.md"
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.IGNORE_EXCEPTION_DETAIL


def pycon_blocks() -> list[tuple[int, str]]:
    """Each ```pycon block of the page with the line it starts on."""
    text = SEED_DOC.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, match.start()) + 2, match.group(1))
        for match in re.finditer(r"^```pycon\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
    ]


SEED_FUNCTIONS = [
    "validate_dockerfile",
    "validate_deploy_config",
    "merge_config",
    "compute_migration",
    "format_log_entries",
    "compute_latency_metrics",
    "find_critical_path",
    "check_health",
    "round_robin_balance",
    "lru_cache_sim",
    "token_bucket_limiter",
    "failover_decisions",
]


def test_every_seed_function_has_a_section_and_an_example() -> None:
    text = SEED_DOC.read_text(encoding="utf-8")
    examples = "\n".join(block for _, block in pycon_blocks())
    assert [name for name in SEED_FUNCTIONS if f"### `{name}(" not in text] == []
    assert [name for name in SEED_FUNCTIONS if f"{name}(" not in examples] == []


@pytest.mark.parametrize(
    ("line", "block"), pycon_blocks(), ids=[f"line-{line}" for line, _ in pycon_blocks()]
)
def test_seed_doc_example(line: int, block: str) -> None:
    namespace = {name: getattr(shipshape, name) for name in shipshape.__all__}
    test = doctest.DocTestParser().get_doctest(
        block, namespace, "docs/seed.md", str(SEED_DOC), line
    )
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=lambda report: pytest.fail(f"docs/seed.md:{line}\n{report}"))
    assert runner.failures == 0
    assert runner.tries > 0
