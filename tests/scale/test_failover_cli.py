"""``shipshape failover plan`` and ``failover watch`` against real HTTP servers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from shipshape.cli import app

runner = CliRunner()
SHIPSHAPE = str(Path(sys.executable).parent / "shipshape")


def write(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


# --- plan ------------------------------------------------------------------------------


def test_plan_json_promotes_one_replica(tmp_path: Path) -> None:
    path = write(
        tmp_path / "fleet.yaml",
        {
            "epoch": 3,
            "servers": [
                {"name": "db1", "role": "primary", "healthy": False},
                {"name": "db2", "role": "replica", "healthy": True, "priority": 2},
                {"name": "db3", "role": "replica", "healthy": True, "priority": 1, "lag": 0.2},
            ],
        },
    )
    result = runner.invoke(app, ["failover", "plan", str(path), "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["status"] == "failover"
    assert plan["promoted"] == "db3"
    assert plan["epoch"] == 4
    assert [a["action"] for a in plan["actions"]] == ["drain", "repoint", "promote"]


def test_plan_table_and_findings_exit_1_when_degraded(tmp_path: Path) -> None:
    path = write(
        tmp_path / "fleet.yaml",
        [
            {"name": "db1", "role": "primary", "healthy": False},
            {"name": "db2", "role": "replica", "healthy": False},
        ],
    )
    result = runner.invoke(app, ["failover", "plan", str(path)])
    assert result.exit_code == 1
    assert "degraded" in result.stdout
    assert "no healthy replica to promote" in result.stderr


def test_plan_epoch_and_max_lag_options(tmp_path: Path) -> None:
    path = write(
        tmp_path / "fleet.yaml",
        [
            {"name": "db1", "role": "primary", "healthy": False},
            {"name": "db2", "role": "replica", "healthy": True, "lag": 12},
        ],
    )
    result = runner.invoke(app, ["failover", "plan", str(path), "--epoch", "8", "--json"])
    assert json.loads(result.stdout)["epoch"] == 9
    result = runner.invoke(app, ["failover", "plan", str(path), "--max-lag", "5", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "degraded"


@pytest.mark.parametrize("max_lag", ["-1", "nan"])
def test_plan_a_negative_or_nan_max_lag_option_is_bad_input(tmp_path: Path, max_lag: str) -> None:
    # NaN compares false with every lag: it would silently mean "no limit".
    path = write(
        tmp_path / "fleet.yaml",
        [
            {"name": "db1", "role": "primary", "healthy": False},
            {"name": "db2", "role": "replica", "healthy": True, "lag": 12},
        ],
    )
    result = runner.invoke(app, ["failover", "plan", str(path), "--max-lag", max_lag])
    assert result.exit_code == 2
    assert result.stderr == f"error: --max-lag: must be >= 0, got {float(max_lag)}\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([{"name": "a", "role": "leader", "healthy": True}], "servers.0.role"),
        ([{"name": "a", "role": "primary"}], "servers.0.healthy: Field required"),
        ([{"name": "a", "role": "primary", "healthy": True, "priorty": 1}], "servers.0.priorty"),
        (
            [
                {"name": "a", "role": "primary", "healthy": True},
                {"name": "a", "role": "replica", "healthy": True},
            ],
            "duplicate server name(s): a",
        ),
        ({"hosts": []}, "servers: Field required"),
    ],
)
def test_plan_bad_input_exits_2(tmp_path: Path, data: Any, message: str) -> None:
    path = write(tmp_path / "fleet.yaml", data)
    result = runner.invoke(app, ["failover", "plan", str(path)])
    assert result.exit_code == 2
    assert str(path) in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("healthy", ["false", "no", "off", 0, 1, "yes"])
def test_plan_refuses_a_healthy_that_is_not_a_bool_as_decide_does(
    tmp_path: Path, healthy: object
) -> None:
    # "false" read as healthy (or 0 as down) would decide a failover on a typo.
    path = write(
        tmp_path / "fleet.yaml",
        [
            {"name": "db1", "role": "primary", "healthy": healthy},
            {"name": "db2", "role": "replica", "healthy": True},
        ],
    )
    for command in ("plan", "decide"):
        result = runner.invoke(app, ["failover", command, str(path), "--json"])
        assert result.exit_code == 2, (command, result.output)
        assert result.stdout == ""
        assert f"must be true or false, not {healthy!r}" in result.stderr
    result = runner.invoke(app, ["failover", "plan", str(path)])
    assert result.stderr.strip() == (
        f"error: {path}: servers.0.healthy: must be true or false, not {healthy!r}"
    )


def test_plan_never_promotes_a_replica_with_an_infinite_lag(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(
        "- {name: db1, role: primary, healthy: false}\n"
        "- {name: db2, role: replica, healthy: true, priority: 1, lag: .inf}\n"
        "- {name: db3, role: replica, healthy: true, priority: 5, lag: 1}\n"
    )
    result = runner.invoke(app, ["failover", "plan", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["promoted"] == "db3"

    path.write_text(
        "- {name: db1, role: primary, healthy: false}\n"
        "- {name: db2, role: replica, healthy: true, lag: .inf}\n"
    )
    result = runner.invoke(app, ["failover", "plan", str(path), "--json"])
    assert result.exit_code == 1
    plan = json.loads(result.stdout)
    assert plan["status"] == "degraded"
    assert "unknown (infinite) lag (db2)" in plan["alerts"][0]


# --- watch against real servers --------------------------------------------------------


def serve_in_thread(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """An HTTP server on a free 127.0.0.1 port, serving from a daemon thread; its URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


class ReadyServer:
    """Answers /readyz from a script: one entry per probe, the last one repeats."""

    def __init__(self, script: list[bool], body: dict[str, Any] | None = None) -> None:
        self.script = list(script)
        self.body = body or {}
        self.probes = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ready = owner.script[min(owner.probes, len(owner.script) - 1)]
                owner.probes += 1
                payload = json.dumps({"status": "pass" if ready else "fail", **owner.body})
                self.send_response(200 if ready else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload.encode())

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd, self.url = serve_in_thread(Handler)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fleet() -> Iterator[dict[str, ReadyServer]]:
    servers = {
        "p": ReadyServer([True, True, False]),
        "r1": ReadyServer([True]),
        "r2": ReadyServer([True]),
    }
    yield servers
    for server in servers.values():
        server.stop()


def config(tmp_path: Path, fleet: dict[str, ReadyServer], hooks: list[Any]) -> Path:
    return write(
        tmp_path / "servers.yaml",
        {
            "servers": [
                {"name": "p", "url": fleet["p"].url, "role": "primary"},
                {"name": "r1", "url": fleet["r1"].url, "role": "replica", "priority": 1},
                {"name": "r2", "url": fleet["r2"].url, "role": "replica", "priority": 2},
            ],
            "hooks": hooks,
            "timeout": 2,
        },
    )


def test_watch_prints_changes_and_runs_hooks(tmp_path: Path, fleet: dict[str, ReadyServer]) -> None:
    out = tmp_path / "hooks"
    out.mkdir()
    record = f'cat > "{out}/$SHIPSHAPE_FAILOVER_EPOCH-$SHIPSHAPE_FAILOVER_STATUS.json"'
    env = f'echo "$SHIPSHAPE_FAILOVER_PROMOTED|$SHIPSHAPE_FAILOVER_DRAIN" >> "{out}/env.txt"'
    path = config(tmp_path, fleet, [record, {"command": env, "timeout": 5}])
    args = ["failover", "watch", str(path), "--interval", "0", "--max-rounds", "4", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    # Rounds 1 and 2 agree, so only rounds 1, 3 (failover) and 4 (new steady state) print.
    assert [line["round"] for line in lines] == [1, 3, 4]
    statuses = [(line["plan"]["status"], line["plan"]["epoch"]) for line in lines]
    assert statuses == [("ok", 0), ("failover", 1), ("ok", 1)]
    failover = lines[1]["plan"]
    assert {a["server"]: a["action"] for a in failover["actions"]} == {
        "p": "drain",
        "r1": "promote",
        "r2": "repoint",
    }
    assert lines[2]["plan"]["primary"] == "r1"
    assert all(hook["ok"] for line in lines for hook in line["hooks"])
    assert json.loads((out / "1-failover.json").read_text())["promoted"] == "r1"
    assert sorted(p.name for p in out.glob("*.json")) == [
        "0-ok.json",
        "1-failover.json",
        "1-ok.json",
    ]
    assert (out / "env.txt").read_text().splitlines() == ["|", "r1|p", "|p"]
    assert fleet["p"].probes == 4


def test_watch_hook_failure_is_reported_not_fatal(
    tmp_path: Path, fleet: dict[str, ReadyServer]
) -> None:
    path = config(tmp_path, fleet, ["echo promotion refused >&2; exit 3", "true"])
    result = runner.invoke(
        app, ["failover", "watch", str(path), "--interval", "0", "--max-rounds", "3"]
    )
    assert result.exit_code == 1
    assert result.stderr.count("hook failed") == 2
    assert "promotion refused" in result.stderr
    assert "failover" in result.stdout
    assert fleet["r1"].probes == 3


def test_watch_once_in_a_subprocess_sees_a_dead_server(
    tmp_path: Path, fleet: dict[str, ReadyServer]
) -> None:
    fleet["r2"].stop()
    path = config(tmp_path, fleet, [])
    completed = subprocess.run(
        [SHIPSHAPE, "failover", "watch", str(path), "--once", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    (line,) = [json.loads(text) for text in completed.stdout.splitlines()]
    actions = {a["server"]: a["action"] for a in line["plan"]["actions"]}
    assert actions == {"p": "keep", "r1": "standby", "r2": "drain"}


class TricklingServer:
    """Answers 200 at once, then sends its body one byte every 0.2 s (8 s in all)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "40")
                self.end_headers()
                # the prober hangs up early: end quietly, so no thread outliving this test
                # prints a BrokenPipeError traceback into a later test's captured stderr
                try:
                    for _ in range(40):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.2)
                except OSError:
                    return

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd, self.url = serve_in_thread(Handler)


def test_watch_timeout_bounds_the_whole_probe_not_each_read(tmp_path: Path) -> None:
    server = TricklingServer()
    try:
        path = write(
            tmp_path / "servers.yaml",
            {"servers": [{"name": "db1", "url": server.url, "role": "primary"}], "timeout": 0.5},
        )
        started = time.monotonic()
        result = runner.invoke(app, ["failover", "watch", str(path), "--once", "--json"])
        took = time.monotonic() - started
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
    assert took < 4, f"a 0.5 s probe took {took:.1f} s"
    assert result.exit_code == 1
    (line,) = [json.loads(text) for text in result.stdout.splitlines()]
    assert line["plan"]["actions"][0]["action"] == "drain"


def test_watch_uses_role_and_epoch_from_the_readyz_body(tmp_path: Path) -> None:
    servers = {
        "a": ReadyServer([True], {"failover": {"role": "primary", "epoch": 5}}),
        "b": ReadyServer([True], {"role": "primary", "epoch": 6}),
    }
    try:
        path = write(
            tmp_path / "servers.yaml",
            [
                {"name": "a", "url": servers["a"].url, "role": "primary"},
                {"name": "b", "url": servers["b"].url, "role": "replica"},
            ],
        )
        result = runner.invoke(app, ["failover", "watch", str(path), "--once", "--json"])
    finally:
        for server in servers.values():
            server.stop()
    assert result.exit_code == 1
    plan = json.loads(result.stdout)["plan"]
    assert plan["status"] == "split_brain"
    assert plan["primary"] == "b"
    assert plan["epoch"] == 6


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"servers": []}, "servers: List should have at least 1 item"),
        ({"servers": [{"name": "a", "url": "db:5432", "role": "primary"}]}, "servers.0.url"),
        (
            {"servers": [{"name": "a", "url": "http://x", "role": "primary"}], "hooks": [{}]},
            "hooks.0.command",
        ),
        (
            {"servers": [{"name": "a", "url": "http://x", "role": "primary"}], "readyz_path": "r"},
            "readyz_path: Value error, must start with /",
        ),
    ],
)
def test_watch_bad_config_exits_2(tmp_path: Path, data: Any, message: str) -> None:
    path = write(tmp_path / "servers.yaml", data)
    result = runner.invoke(app, ["failover", "watch", str(path), "--once"])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_watch_down_after_ignores_a_single_failed_probe(tmp_path: Path) -> None:
    servers = {"p": ReadyServer([True, False, True, False, False]), "r": ReadyServer([True])}
    try:
        path = write(
            tmp_path / "servers.yaml",
            {
                "servers": [
                    {"name": "p", "url": servers["p"].url, "role": "primary"},
                    {"name": "r", "url": servers["r"].url, "role": "replica"},
                ],
                "down_after": 2,
            },
        )
        args = ["failover", "watch", str(path), "--interval", "0", "--max-rounds", "5", "--json"]
        result = runner.invoke(app, args)
    finally:
        for server in servers.values():
            server.stop()
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["round"], line["plan"]["status"]) for line in lines] == [
        (1, "ok"),
        (5, "failover"),
    ]
