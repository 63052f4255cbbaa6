"""The CLI sets up logging: records on stderr from ``--log-level`` up (default WARNING), and the strategy's
confidence diagnostics when SCALPER_CONFIDENCE_DIAG=1 (throttled to one per symbol per DIAG_INTERVAL_MS)."""

from __future__ import annotations

import logging
import re

import pytest

from eclipse.cli import DIAG_LOGGER, main
from eclipse.config.registry import REGISTRY
from eclipse.market.bars import BAR_MS
from eclipse.strategy.engine import DIAG_INTERVAL_MS

BARS = 600  # the diagnostics start within the first 300 bars of the embedded dataset
DIAG = re.compile(rf"INFO {re.escape(DIAG_LOGGER)}: confidence BTC-PERP: raw=\d\.\d{{4}} vol_mult=")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No knob from the developer's shell leaks into these tests."""
    for p in REGISTRY:
        for name in (p.name, *p.aliases):
            monkeypatch.delenv(name, raising=False)


def diag_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if DIAG.match(line)]


def test_confidence_diag_prints_throttled_lines_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCALPER_CONFIDENCE_DIAG", "1")
    handlers = list(logging.getLogger().handlers)
    assert main(["signals", "--limit", str(BARS), "--show", "none"]) == 0
    out, err = capsys.readouterr()
    lines = diag_lines(err)
    assert lines, err
    assert len(lines) <= BARS * BAR_MS // DIAG_INTERVAL_MS + 1  # throttled on the replay clock
    assert diag_lines(out) == []  # the report stays clean
    assert logging.getLogger().handlers == handlers  # nothing left behind
    assert main(["--log-level", "error", "signals", "--limit", str(BARS), "--show", "none"]) == 0
    assert len(diag_lines(capsys.readouterr().err)) == len(lines)  # the knob, not the level, turns them on


def test_no_diag_without_the_knob(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signals", "--limit", str(BARS), "--show", "none"]) == 0
    assert diag_lines(capsys.readouterr().err) == []
    assert main(["--log-level", "INFO", "signals", "--limit", str(BARS), "--show", "none"]) == 0
    assert diag_lines(capsys.readouterr().err) == []  # the engine logs them only when the knob is on


@pytest.mark.parametrize(
    ("argv", "shown"),
    [([], ["WARNING", "ERROR"]), (["--log-level", "debug"], ["DEBUG", "INFO", "WARNING", "ERROR"])],
)
def test_records_from_the_log_level_up_go_to_stderr(
    argv: list[str], shown: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A command whose code logs at every level: stderr shows one line per record from the level up."""
    from eclipse.cli import config

    def logs_everything(*_: object) -> int:
        log = logging.getLogger("eclipse.test")
        for level in ("DEBUG", "INFO", "WARNING", "ERROR"):
            log.log(logging.getLevelNamesMapping()[level], "a %s record", level.lower())
        return 0

    monkeypatch.setattr(config, "_cmd_params", logs_everything)
    assert main([*argv, "params"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"{level} eclipse.test: a {level.lower()} record" for level in shown]


def test_a_bad_log_level_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--log-level", "loud", "params"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--log-level" in err
