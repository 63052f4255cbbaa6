"""``eclipse sim-venue``: starts, prints the URL and the test key, serves, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from eclipse.cli import main
from eclipse.market.bars import embedded_dataset

REPO = Path(__file__).resolve().parents[3]


def test_sim_venue_serves_until_ctrl_c(tmp_path: Path) -> None:
    plan = json.dumps({"script": [{"on": "market_data", "fault": "latency", "ms": 1}]})
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "eclipse.cli",
            "sim-venue",
            "--stepped",
            "--db",
            str(tmp_path / "s.db"),
            "--faults",
            plan,
            "--log-requests",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving on http://127.0.0.1:" in line, line + (proc.stderr.read() if proc.stderr else "")
        url = line.split("serving on ", 1)[1].split()[0]
        key_line = proc.stdout.readline()
        assert "eclipse-sim-key" in key_line
        with urllib.request.urlopen(url + "/fapi/v1/time", timeout=10) as resp:
            assert "serverTime" in json.loads(resp.read())
        with urllib.request.urlopen(url + "/_sim/faults", timeout=10) as resp:
            assert json.loads(resp.read())["injected"] == {"latency": 1}
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        code = proc.wait(timeout=15)
        assert code == 0
        assert time.monotonic() - t0 < 10
        err = proc.stderr.read() if proc.stderr else ""
        assert "GET /fapi/v1/time 200" in err
        assert "stopped" in err
        assert "Traceback" not in err
        assert (tmp_path / "s.db").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sim_venue_usage_errors_exit_2(tmp_path: Path) -> None:
    assert main(["sim-venue", "--data", "nonsense"]) == 2
    assert main(["sim-venue", "--faults", '{"random": [{"fault": "nope"}]}']) == 2
    assert main(["sim-venue", "--speed", "2", "--stepped"]) == 2


def _get(url: str, key: str, method: str = "GET") -> tuple[int, dict[str, object] | list[object]]:
    """One request with API key ``key`` (the order-count client; weight counts per IP); (status, decoded
    body) even for an error."""
    req = urllib.request.Request(url, method=method, headers={"X-MBX-APIKEY": key})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_sim_venue_limits_and_start_offset_flags() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "eclipse.cli",
            "sim-venue",
            "--stepped",
            "--weight-limit",
            "20",
            "--order-limit-10s",
            "3",
            "--order-limit-1m",
            "2",
            "--start-offset-bars",
            "10",
            "--algo-ids",
            "coincide",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving on http://127.0.0.1:" in line, line + (proc.stderr.read() if proc.stderr else "")
        url = line.split("serving on ", 1)[1].split()[0]
        banner = [proc.stdout.readline() for _ in range(4)]
        assert (
            "limits: weight 20/min, orders 3/10s and 2/min; replay starts 10 bars into the data" in banner[2]
        )
        assert "ids: algo ids coincide; next futures order id 1, next algo id 1" in banner[3]

        # the replay starts 10 bars into the embedded data, then later by under a day so that the data's
        # time of day matches market time (rebase by whole days): every bar up to there is history
        status, state = _get(url + "/_sim/state", "k-state")
        assert status == 200
        assert isinstance(state, dict)
        market_ms = int(str(state["market_time"]))
        futures = state["futures"]
        assert isinstance(futures, dict)
        assert futures["next_ids"] == {"order": 1, "algo": 1, "trade": 1}  # --algo-ids coincide
        first_ms = int(embedded_dataset().ts_ms[0])
        start_ms = first_ms + 10 * 60_000
        history = 10 + (market_ms - start_ms) % 86_400_000 // 60_000
        status, rows = _get(url + "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1500", "k-klines")
        assert status == 200
        assert isinstance(rows, list)
        assert len(rows) == history + 1  # and the bar forming now

        # request weight (per IP: every request above shares it, so start afresh): a 429 naming the limit
        # within 20 weight (two minutes' worth if a minute turns)
        assert _get(url + "/_sim/limits/reset", "k-control", "POST")[0] == 200
        answers = [_get(url + "/fapi/v1/time", "k-weight") for _ in range(42)]
        refused = [body for status, body in answers if status == 429]
        assert refused, answers
        assert isinstance(refused[0], dict)
        assert "current limit is 20 requests per minute" in str(refused[0]["msg"])
        assert [s for s, _ in answers[:20]].count(200) >= 10

        # order rate (per API key; the weight ban above is the IP's, so reset it first): orders are counted
        # before authentication, so unsigned attempts spend the budget
        assert _get(url + "/_sim/limits/reset", "k-control", "POST")[0] == 200
        codes = [_get(url + "/fapi/v1/order", "k-orders", "POST") for _ in range(6)]
        limited = [str(body["msg"]) for status, body in codes if status == 429 and isinstance(body, dict)]
        assert limited, codes
        assert limited[0] in (
            "Too many new orders; current limit is 2 orders per MINUTE.",
            "Too many new orders; current limit is 3 orders per 10 SECOND.",  # only if a minute turned
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_sim_venue_rejects_bad_limit_flags_naming_them(capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        ("--weight-limit", "0"),
        ("--weight-limit", "lots"),
        ("--order-limit-10s", "-1"),
        ("--order-limit-1m", "2.5"),
        ("--start-offset-bars", "-1"),
    ]
    for flag, value in cases:
        assert main(["sim-venue", flag, value]) == 2
        err = capsys.readouterr().err
        assert f"argument {flag}: expected an integer >= " in err, err
        assert repr(value) in err
    assert main(["sim-venue", "--algo-ids", "both"]) == 2
    [line] = capsys.readouterr().err.splitlines()  # one line, no usage block
    assert "argument --algo-ids: invalid choice: 'both' (choose from 'apart', 'coincide')" in line, line
    assert line.endswith("(see eclipse sim-venue --help)"), line
