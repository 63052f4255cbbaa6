"""An unusable SCALPER_AUDIT_PATH: a ConfigError naming the knob (one line from ``eclipse signals``, exit 2),
never a traceback."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from eclipse.cli import main
from eclipse.clock import SimClock
from eclipse.errors import ConfigError, DataError
from eclipse.strategy.audit import AUDIT_COLUMNS, AuditWriter
from eclipse.strategy.decision import Decision

T0 = 1_641_081_600_000


class _Signal:
    raw_confidence = 0.5
    regime = "NORMAL"
    vol_ratio = 1.0
    vol_multiplier = 1.0

    def components(self) -> list[Any]:
        return []

    def explain(self) -> str:
        return "long"


def _signal_decision() -> Decision:
    sig: Any = _Signal()
    return Decision("BTC", T0, 1, Decision.side_of(1), 0.6, 1, None, False, sig)


def _bad_paths(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    a_file = tmp_path / "plain.txt"
    a_file.write_text("not a directory")
    a_dir = tmp_path / "adir"
    a_dir.mkdir()
    return {
        "under a file": (a_file / "audit.csv", "a parent of it is a file, not a directory"),
        "deeper under a file": (a_file / "sub" / "audit.csv", "a parent of it is a file, not a directory"),
        "a directory": (a_dir, "Is a directory"),
    }


@pytest.mark.parametrize("case", ["under a file", "deeper under a file", "a directory"])
def test_writer_raises_config_error_naming_the_knob(tmp_path: Path, case: str) -> None:
    path, reason = _bad_paths(tmp_path)[case]
    writer = AuditWriter(path, 60.0, SimClock())
    with pytest.raises(ConfigError) as info:
        writer.record(_signal_decision())
    err = info.value
    assert err.knob == "SCALPER_AUDIT_PATH"
    assert str(err).startswith(f"SCALPER_AUDIT_PATH={str(path)!r}: expected a writable file path")
    assert reason in str(err)
    assert writer.rows_written == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_writer_in_a_read_only_directory(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match=r"SCALPER_AUDIT_PATH=.*Permission denied"):
            AuditWriter(ro / "audit.csv", 60.0, SimClock()).record(_signal_decision())
    finally:
        ro.chmod(0o755)


def test_a_binary_file_in_the_way_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "audit.csv"
    path.write_bytes(b"\xff\xfe\x00\x01binary")
    with pytest.raises(DataError, match="existing file is not an audit CSV; move it aside"):
        AuditWriter(path, 60.0, SimClock()).record(_signal_decision())


def test_a_good_path_still_writes(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "audit.csv"
    writer = AuditWriter(path, 60.0, SimClock())
    assert writer.record(_signal_decision())
    assert path.read_text().splitlines()[0] == ",".join(AUDIT_COLUMNS)
    assert writer.rows_written == 1


def test_eclipse_signals_reports_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path, reason = _bad_paths(tmp_path)["under a file"]
    monkeypatch.setenv("SCALPER_AUDIT", "1")
    monkeypatch.setenv("SCALPER_AUDIT_PATH", str(path))
    assert main(["signals", "--show", "none"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: SCALPER_AUDIT_PATH={str(path)!r}: expected a writable file path (cannot write "
                      f"the audit: {reason})"]  # fmt: skip
