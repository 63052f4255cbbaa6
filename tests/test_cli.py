"""The ``eclipse`` command end to end through ``main([...])``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eclipse import __version__
from eclipse.cli import main
from eclipse.config.registry import REGISTRY
from eclipse.strategy.decision import NEAR_MISS_BLOCKS

PACKAGE = Path(__file__).resolve().parent.parent / "python" / "eclipse"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No knob from the developer's shell leaks into these tests."""
    for p in REGISTRY:
        for name in (p.name, *p.aliases):
            monkeypatch.delenv(name, raising=False)


def test_signals_on_the_embedded_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signals"]) == 0
    out, err = capsys.readouterr()
    assert "embedded dataset" in err
    assert "45031 bars" in out
    lines = out.splitlines()
    signal_lines = [line for line in lines if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC  (long|short) ", line)]
    assert signal_lines, "no signal printed"
    assert "confidence histogram" in out
    assert not [line for line in lines if line != line.rstrip()], "trailing whitespace in the output"
    assert "top block reasons" in out
    assert "bars/s" in out
    m = re.search(r"signals: (\d+) \(long (\d+), short (\d+)\)", out)
    assert m is not None
    assert int(m[1]) == len(signal_lines) == int(m[2]) + int(m[3])
    assert int(m[2]) > 0, "no long signal over January 2022"
    assert int(m[3]) > 0, "no short signal over January 2022"
    near = re.search(r"near-misses: (\d+)", out)
    assert near is not None
    by_block = dict(parse_counts(out, "near-misses by block:"))
    assert set(by_block) <= NEAR_MISS_BLOCKS
    assert {"trend_gate", "below_min_confidence"} <= set(by_block)
    assert sum(by_block.values()) == int(near[1])
    blocks = dict(parse_counts(out, "top block reasons:"))
    assert blocks["trend_warmup"] > 0  # counted as a block, not as a near-miss


def parse_counts(out: str, title: str) -> list[tuple[str, int]]:
    """The ``  name  count`` lines printed under ``title``."""
    lines = out.splitlines()
    rows = []
    for line in lines[lines.index(title) + 1 :]:
        m = re.fullmatch(r"  (\w+)\s+(\d+)", line)
        if m is None:
            break
        rows.append((m[1], int(m[2])))
    return rows


def test_signals_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signals", "--json", "--limit", "6000", "--profile", "production"]) == 0
    out, _ = capsys.readouterr()
    summary = json.loads(out)
    assert summary["bars"] == 6000
    assert summary["profile"] == "production"
    assert summary["symbol"] == "BTC-PERP"
    sig = summary["signals"]
    assert sig["total"] == sig["long"] + sig["short"]
    hist = summary["confidence_histogram"]
    assert len(hist["counts"]) == 10
    assert len(hist["edges"]) == 11
    assert sum(hist["counts"]) == sig["total"]
    assert "warmup" in summary["blocked"]
    assert set(summary["near_miss_blocks"]) <= NEAR_MISS_BLOCKS
    assert sum(summary["near_miss_blocks"].values()) == summary["near_misses"]
    assert summary["bars_per_sec"] > 0


def test_show_all_prints_every_bar(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signals", "--limit", "50", "--show", "all", "--symbol", "XBT"]) == 0
    out, _ = capsys.readouterr()
    bar_lines = [line for line in out.splitlines() if " UTC  " in line and not line.startswith("XBT")]
    assert len(bar_lines) == 50
    assert "UTC  -      0.000  [warmup] none" in bar_lines[0]
    assert out.count("\n") > 50
    assert "XBT [micro]" in out
    assert main(["signals", "--limit", "50", "--show", "none"]) == 0
    assert " UTC  " not in capsys.readouterr().out.split("bars in")[0]


def test_signals_from_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["ts_ms,open,high,low,close,volume"]
    rows += [f"{1640995200000 + i * 60000},100,101,99,100,5" for i in range(30)]
    path = tmp_path / "ethusdt_1m_test.csv"
    path.write_text("\n".join(rows) + "\n")
    assert main(["signals", "--data", str(path), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["symbol"] == "ETHUSDT"
    assert json.loads(out)["bars"] == 30
    assert "embedded" not in err


def test_bad_env_knob_exits_2_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCALPER_SESSION_UTC", "25-3")
    assert main(["signals", "--limit", "10"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: SCALPER_SESSION_UTC='25-3': expected comma-separated UTC hour ranges")
    assert out == ""


def test_force_entry_refused_in_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCALPER_DEBUG_FORCE_ENTRY", "long")
    assert main(["signals", "--limit", "10", "--profile", "production"]) == 2
    assert "refused in the production profile" in capsys.readouterr().err
    assert main(["signals", "--limit", "10", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["forced"] == 10


def test_missing_and_bad_data_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.csv"
    assert main(["signals", "--data", str(missing)]) == 2
    assert f"error: {missing}: file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("ts_ms,open,high,low,close\n1,1,1,1,1\n")
    assert main(["signals", "--data", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err
    assert "missing column(s) volume" in err
    five = tmp_path / "xrp_5m.csv"
    five.write_text(
        "ts_ms,open,high,low,close,volume\n" + "".join(f"{i * 300000},1,1,1,1,1\n" for i in range(5))
    )
    assert main(["signals", "--data", str(five)]) == 2
    assert "expected 1m bars" in capsys.readouterr().err


def test_audit_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "logs" / "audit.csv"
    monkeypatch.setenv("SCALPER_AUDIT", "1")
    monkeypatch.setenv("SCALPER_AUDIT_PATH", str(path))
    assert main(["signals", "--limit", "16000", "--json"]) == 0  # past the 1h trend warm-up
    replayed = json.loads(capsys.readouterr().out)
    assert path.is_file()
    assert main(["audit", "report"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("last ")
    assert f"signals: {replayed['signals']['total']} (" in out
    near = re.search(r"near-misses: (\d+);", out)
    assert near is not None
    assert 0 < int(near[1]) <= replayed["near_misses"]  # the audit throttles near-miss rows
    assert "ignored" not in out
    assert main(["audit", "report", "--path", str(path), "--summary-only"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"audit {path}:")
    assert "last " not in out
    assert main(["audit", "report", "--path", str(tmp_path / "none.csv")]) == 2
    assert "audit file not found" in capsys.readouterr().err


def test_params_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    for p in REGISTRY:
        assert p.name in out
    assert out.splitlines()[0].split()[:4] == ["name", "type", "micro", "production"]
    assert main(["params", "--profile", "production"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "type", "production"]
    row = next(line for line in lines if line.startswith("SCALPER_VOL_RATIO_WEIGHT "))
    assert row.split()[2] == "0.35"


def test_version_help_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith(f"eclipse {__version__} (core ")
    assert main([]) == 2
    assert main(["signals", "--limit", "0"]) == 2
    assert main(["signals", "--profile", "mega"]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["--help"]) == 0
    capsys.readouterr()
    assert main(["sim-venue", "--algo-ids", "bogus"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line: what is wrong and where the help is, no usage block
    assert "--algo-ids" in err
    assert "coincide" in err
    assert "eclipse sim-venue --help" in err


CLI_MAIN = PACKAGE / "cli" / "__init__.py"


def test_environ_is_read_only_in_the_cli() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if path != CLI_MAIN and re.search(r"\benviron\b|\bgetenv\b|\bputenv\b", text):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []
    assert "os.environ" in CLI_MAIN.read_text()


def test_wall_clock_is_read_only_in_clock_py() -> None:
    pattern = re.compile(r"\btime\.(time|time_ns|monotonic)\(|datetime\.(now|utcnow|today)\(|\bdate\.today\(")
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.name != "clock.py" and pattern.search(p.read_text())
    ]
    assert offenders == []


def test_output_into_a_closed_pipe_is_not_an_error() -> None:
    """`eclipse params | head -1`: the reader stops early; the command must exit cleanly, no traceback."""
    import subprocess
    import sys

    code = "import sys; from eclipse.cli import main; sys.exit(main(['params']))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # before the child has written anything: every write of it hits a closed pipe
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err


def test_signal_lines_carry_the_decision_time_bar_close(capsys: pytest.CaptureFixture[str]) -> None:
    """The first bar of the embedded month opens 2021-12-31 23:01 UTC; its decision is at its close, 23:02."""
    assert main(["signals", "--show", "all", "--limit", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("decision time (bar close, UTC)")
    assert out[1].startswith("2021-12-31 23:02 UTC")
