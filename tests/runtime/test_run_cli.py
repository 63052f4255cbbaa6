"""``eclipse run``'s refusals: each one line naming what is wrong and how to fix it, exit 2, nothing started
(live asked for only once, a live start with unset risk limits, bad flags, every bad knob at once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eclipse.cli import main

LIVE_LIMITS = ("MAX_DAILY_LOSS_PCT", "MAX_DRAWDOWN_PCT", "KILL_DAILY_HALT_SEC", "KILL_DRAWDOWN_HALT_SEC")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("EXCHANGE_ADAPTER", "SCALPER_DRY_RUN", "VENUE_API_URL", *LIVE_LIMITS, "FIRST_LIVE_SYMBOLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "no error printed"
    assert "Traceback" not in "\n".join(err)
    assert err[-1].startswith("error: ")
    return err[-1]


def test_dry_run_off_without_live_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("EXCHANGE_ADAPTER", "binanceusdm")
    monkeypatch.setenv("SCALPER_DRY_RUN", "0")
    assert main(["run", "--dir", str(tmp_path / "r")]) == 2
    line = _one_line_error(capsys)
    assert "SCALPER_DRY_RUN" in line
    assert "--live" in line
    assert not (tmp_path / "r" / "journal.sqlite").exists()


def test_live_flag_without_dry_run_off_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("EXCHANGE_ADAPTER", "binanceusdm")
    assert main(["run", "--live", "--dir", str(tmp_path / "r")]) == 2
    assert "SCALPER_DRY_RUN" in _one_line_error(capsys)


def test_live_flag_on_the_simulator_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["run", "--live", "--dir", str(tmp_path / "r")]) == 2
    assert "EXCHANGE_ADAPTER" in _one_line_error(capsys)


def test_a_live_start_prints_the_checklist_and_refuses_unset_limits(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("EXCHANGE_ADAPTER", "binanceusdm")
    monkeypatch.setenv("SCALPER_DRY_RUN", "0")
    monkeypatch.setenv("BINANCE_API_KEY", "k" * 20)
    monkeypatch.setenv("BINANCE_API_SECRET", "never-shown-secret-123")
    assert main(["run", "--live", "--dir", str(tmp_path / "r")]) == 2
    captured = capsys.readouterr()
    assert "never-shown-secret-123" not in captured.out + captured.err
    # the configuration check lists the unset limits (every one at once) before anything starts
    for name in LIVE_LIMITS:
        assert name in captured.err
    assert not (tmp_path / "r" / "journal.sqlite").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--speed", "max"], "--speed"),
        (["--clock", "sim", "--speed", "10"], "--speed"),
        (["--speed", "nan"], "--speed"),
        (["--duration", "soon"], "--duration"),
        (["--max-bars", "-1"], "--max-bars"),
        (["--data", "FOO"], "--data"),
    ],
)
def test_bad_flags(args: list[str], needle: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["run", "--dir", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert needle in err[0]


def test_every_bad_knob_is_listed_at_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("SCALPER_SESION_UTC", "13-17")
    monkeypatch.setenv("LEVERAGE_BTCUSDT", "abc")
    monkeypatch.setenv("PROTECTION_CHECK_SEC", "0")
    assert main(["run", "--dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "3 configuration problems" in err
    assert "did you mean SCALPER_SESSION_UTC" in err
    assert "LEVERAGE_BTCUSDT" in err
    assert "PROTECTION_CHECK_SEC" in err
    assert "Traceback" not in err


def test_a_live_start_with_every_limit_set_prints_the_checklist_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("EXCHANGE_ADAPTER", "binanceusdm")
    monkeypatch.setenv("SCALPER_DRY_RUN", "0")
    monkeypatch.setenv("BINANCE_API_KEY", "k" * 20)
    monkeypatch.setenv("BINANCE_API_SECRET", "never-shown-secret-123")
    monkeypatch.setenv("VENUE_API_URL", "http://127.0.0.1:9")  # nothing listens: the venue cannot be reached
    monkeypatch.setenv("VENUE_TIMEOUT_MS", "2000")
    for name in LIVE_LIMITS:
        monkeypatch.setenv(name, "0.05" if name.endswith("PCT") else "3600")
    monkeypatch.setenv("FIRST_LIVE_SYMBOLS", "BTCUSDT")
    assert main(["run", "--live", "--dir", str(tmp_path / "r"), "--plain"]) == 2
    captured = capsys.readouterr()
    assert "risk checklist (live)" in captured.out
    assert "MAX_DAILY_LOSS_PCT" in captured.out
    line = captured.err.strip().splitlines()[-1]
    assert line.startswith("error: ")
    assert "does not answer" in line
    assert "never-shown-secret-123" not in captured.out + captured.err
