"""``eclipse sim-venue``: starts, prints the URL and the test key, serves, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from eclipse.cli import main

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
