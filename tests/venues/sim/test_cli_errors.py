"""``eclipse sim-venue`` mistakes: each is ONE line ``error: ...`` (or argparse's one-line usage error) with
exit code 2 and no traceback, saying what is wrong and how to fix it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eclipse.cli import main
from eclipse.venues.sim.config import KNOWN_QUOTES, SimConfig, check_host, split_symbol
from eclipse.venues.sim.faults import load_fault_plan
from eclipse.venues.sim.runner import SimServerThread

REPO = Path(__file__).resolve().parents[3]
BARS = "ts_ms,open,high,low,close,volume\n" + "".join(
    f"{1_700_000_000_000 + 60_000 * i},100,101,99,100.5,3\n" for i in range(10)
)


@pytest.fixture
def bars(tmp_path: Path) -> Path:
    path = tmp_path / "bars.csv"
    path.write_text(BARS)
    return path


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port some other socket is listening on."""
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    try:
        yield int(blocker.getsockname()[1])
    finally:
        blocker.close()


def one_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``eclipse sim-venue *argv``; the one error line (exit 2, nothing else on stderr but notes)."""
    code = main(["sim-venue", *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1, err
    notes = [ln for ln in err.splitlines() if "error:" not in ln]
    assert all(ln.startswith("using the embedded dataset") for ln in notes), err
    return lines[0]


def test_a_busy_port(capsys: pytest.CaptureFixture[str], busy_port: int, bars: Path) -> None:
    line = one_error(capsys, ["--stepped", "--port", str(busy_port), "--data", f"BTCUSDT={bars}"])
    assert line.startswith("error: cannot listen on 127.0.0.1:")
    assert f":{busy_port}: the port is already in use" in line
    assert "or 0 for a free one" in line


def test_db_is_a_directory_or_cannot_be_created(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bars: Path
) -> None:
    data = ["--stepped", "--data", f"BTCUSDT={bars}"]
    line = one_error(capsys, [*data, "--db", str(tmp_path)])
    assert line == f"error: {tmp_path}: is a directory; give a file path such as {tmp_path / 'sim.db'}"
    a_file = tmp_path / "plain"
    a_file.write_text("x")
    line = one_error(capsys, [*data, "--db", str(a_file / "s.db")])
    assert f"{a_file} is not a directory" in line
    line = one_error(capsys, [*data, "--db", str(tmp_path / "no" / "s.db")])
    assert f"{tmp_path / 'no'} does not exist" in line


@pytest.mark.parametrize(
    ("host", "needle"),
    [
        ("999.1.1.1", "host '999.1.1.1' is not a valid IPv4 address"),
        ("1.2.3", "host '1.2.3' is not a valid IPv4 address"),
        ("[::1]", "host '[::1]' is not a valid IPv6 address (write it without brackets"),
        ("bad host!", "host 'bad host!' is neither an IP address nor a valid host name"),
        ("", "host must not be empty"),
    ],
)
def test_an_invalid_host(capsys: pytest.CaptureFixture[str], host: str, needle: str) -> None:
    line = one_error(capsys, ["--host", host])
    assert line.startswith("error: "), line
    assert needle in line, line


def test_an_unresolvable_host_name(capsys: pytest.CaptureFixture[str], bars: Path) -> None:
    line = one_error(capsys, ["--stepped", "--host", "no-such-host.invalid", "--data", f"BTCUSDT={bars}"])
    assert "unknown host name 'no-such-host.invalid'" in line, line


@pytest.mark.parametrize("speed", ["nan", "inf", "-inf", "0", "-1", "fast"])
def test_a_bad_speed(capsys: pytest.CaptureFixture[str], speed: str) -> None:
    line = one_error(capsys, [f"--speed={speed}"])
    assert "argument --speed: expected a" in line, line
    assert "number > 0" in line, line
    assert repr(speed) in line


def test_speed_must_be_finite_in_the_config_too() -> None:
    for speed in (float("nan"), float("inf"), 0.0, -2.0):
        with pytest.raises(ValueError, match="speed must be a finite number > 0"):
            SimConfig(speed=speed)
    assert SimConfig(speed=1e6).speed == 1e6


def test_data_with_an_unknown_quote_names_the_known_ones(
    capsys: pytest.CaptureFixture[str], bars: Path
) -> None:
    line = one_error(capsys, ["--data", f"FOOXYZ={bars}"])
    assert line.startswith("error: FOOXYZ: cannot tell base from quote")
    for quote in KNOWN_QUOTES:
        assert quote in line
    assert split_symbol("ETHFDUSD") == ("ETH", "FDUSD")
    assert split_symbol("SOLBTC") == ("SOL", "BTC")


def test_data_file_missing_or_malformed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = one_error(capsys, ["--stepped", "--data", f"BTCUSDT={tmp_path / 'none.csv'}"])
    assert line == f"error: {tmp_path / 'none.csv'}: cannot read: no such file"
    line = one_error(capsys, ["--stepped", "--data", f"BTCUSDT={tmp_path}"])
    assert line == f"error: {tmp_path}: cannot read: is a directory, not a CSV file"
    bad = tmp_path / "bad.csv"
    bad.write_text(BARS + "1700000600000,100,101,99,-5,1\n")
    line = one_error(capsys, ["--stepped", "--data", f"BTCUSDT={bad}"])
    assert line.startswith(f"error: {bad}: line 12: non-positive price close=-5.0"), line
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x00\xff\xfegarbage")
    line = one_error(capsys, ["--stepped", "--data", f"BTCUSDT={junk}"])
    assert line.startswith(f"error: {junk}: cannot read: not UTF-8 text"), line
    trades = tmp_path / "trades.csv"
    trades.write_text("ts_ms,trade_id,price,quantity,buyer_maker\n1000,1,100,1,true\n1001,2,0,1,true\n")
    line = one_error(capsys, ["--stepped", "--data", f"BTCUSDT={trades}"])
    assert line == f"error: {trades}: line 3: price must be > 0, got 0.0"


def test_a_data_file_with_a_bom_serves(tmp_path: Path) -> None:
    excel = tmp_path / "excel.csv"
    excel.write_text("\ufeff" + BARS.replace("\n", "\r\n"), encoding="utf-8")
    with SimServerThread(SimConfig(stepped=True, data=(("ETHUSDT", str(excel)),))) as sim:
        assert sim.call(lambda: sim.ctx.feed.symbols()) == ["ETHUSDT"]


def test_faults_not_json_vs_no_such_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = one_error(capsys, ["--faults", "not json"])
    assert "cannot read fault plan 'not json': no such file, and not inline JSON either" in line, line
    line = one_error(capsys, ["--faults", '{"stall": tru}'])
    assert line.startswith("error: inline fault plan is not valid JSON: Expecting value at line 1 column 11")
    assert "near '{\"stall\": tru}'" in line
    plan = tmp_path / "plan.json"
    plan.write_text('{\n  "stall": true,\n}\n')
    line = one_error(capsys, ["--faults", str(plan)])
    assert line.startswith(f"error: fault plan file {plan} is not valid JSON: ")
    assert "at line 3 column 1" in line, line
    line = one_error(capsys, ["--faults", str(tmp_path)])
    assert line == f"error: cannot read fault plan {tmp_path}: is a directory, expected a JSON file"
    line = one_error(capsys, ["--faults", "[1, 2]"])
    assert line == "error: fault plan must be a JSON object, got list"


def test_fault_plan_unknown_keys_and_faults_list_what_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    line = one_error(capsys, ["--faults", json.dumps({"stal": True})])
    assert "fault plan: unknown key(s) ['stal']; allowed: ['clock_skew_ms', 'engine', 'random'," in line
    line = one_error(capsys, ["--faults", json.dumps({"random": [{"on": "*", "fault": "boom"}]})])
    assert "random[0]: unknown fault 'boom'; known: ['latency', 'unknown_503'," in line
    line = one_error(capsys, ["--faults", json.dumps({"script": [{"on": "order_create"}]})])
    assert "script[0]: missing \"fault\"; known faults: ['latency'," in line
    line = one_error(capsys, ["--faults", json.dumps({"random": [{"on": "orders", "fault": "http_429"}]})])
    assert "unknown endpoint class 'orders'; known: ['order_create'," in line
    line = one_error(capsys, ["--faults", json.dumps({"stall": "yes"})])
    assert "stall must be true or false, got 'yes'" in line
    assert load_fault_plan(' {"stall": true} ').stall is True


def test_check_host_accepts_addresses_and_names() -> None:
    for host in ("127.0.0.1", "0.0.0.0", "::1", "::", "localhost", "sim-1.example.org", "example.org."):
        check_host(host)


def test_a_busy_port_from_the_real_command_has_no_traceback(busy_port: int, bars: Path) -> None:
    """The console process, end to end: one line on stderr, exit 2."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "eclipse.cli",
            "sim-venue",
            "--port",
            str(busy_port),
            "--data",
            f"BTCUSDT={bars}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("error: cannot listen on 127.0.0.1:")
    assert proc.stdout == ""
