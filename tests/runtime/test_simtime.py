"""The daemon in simulated time (``eclipse run --clock sim``): it trades the embedded month through the
whole engine, every entry fill gets a protective stop, and the same seed gives the same journal and the same
telemetry, record for record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eclipse.cli import main
from eclipse.contracts import FillRecorded, IntentKind, OrderSubmitting, ProtectionEvent, ProtectionState
from eclipse.execution.journal import Journal

BARS = 1500


def _run(tmp: Path, *extra: str) -> int:
    return main(["run", "--clock", "sim", "--max-bars", str(BARS), "--dir", str(tmp), "--plain", *extra])


def _events(run_dir: Path) -> list[object]:
    journal = Journal.open(run_dir / "journal.sqlite")
    try:
        return [r.event for r in journal.records(0)]
    finally:
        journal.close()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("simtime") / "run"
    assert _run(run_dir) == 0
    return run_dir


def test_it_trades_and_protects_every_position(first_run: Path) -> None:
    summary = json.loads((first_run / "summary.json").read_text())
    assert summary["mode"] == "simulated-time"
    assert summary["bars"] == BARS
    assert summary["trades"] >= 3
    assert summary["stops_placed"] >= summary["trades"]
    assert summary["stop_reason"] == f"--max-bars {BARS} reached"
    events = _events(first_run)
    kinds = {e.client_order_id: e.kind for e in events if isinstance(e, OrderSubmitting)}
    entry_fills = [
        e for e in events if isinstance(e, FillRecorded) and kinds[e.client_order_id] is IntentKind.ENTRY
    ]
    assert entry_fills
    placed = [e for e in events if isinstance(e, ProtectionEvent) and e.state is ProtectionState.PLACED]
    # every entry's first fill is followed by a confirmed stop
    for fill in entry_fills:
        later = [p for p in placed if p.ts_ms >= fill.ts_ms and p.symbol == fill.fill.symbol]
        assert later, f"no stop placed after the entry fill {fill}"
    telemetry = [json.loads(line) for line in (first_run / "telemetry.jsonl").read_text().splitlines()]
    names = [e["event"] for e in telemetry]
    assert names[0] == "engine.resumed"
    assert "runtime.started" in names
    assert names[-1] == "runtime.stopped"
    assert (first_run / "summary.md").read_text().startswith("#")


def test_same_seed_same_journal_and_telemetry(first_run: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert _run(again) == 0
    assert _events(again) == _events(first_run)
    assert (again / "telemetry.jsonl").read_text() == (first_run / "telemetry.jsonl").read_text()


def test_simulated_time_starts_from_an_empty_directory(
    first_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(first_run) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "already holds a simulated-time run" in err[0]


def test_a_directory_never_mixes_venues(first_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--max-bars", "5", "--dir", str(first_run), "--plain"]) == 2
    assert "never mixes venues" in capsys.readouterr().err


@pytest.mark.slow
def test_the_whole_month_runs_to_the_end_of_its_data(tmp_path: Path) -> None:
    run_dir = tmp_path / "month"
    assert main(["run", "--clock", "sim", "--max-bars", "0", "--dir", str(run_dir), "--plain"]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stop_reason"] == "the replay reached the end of its data"
    assert summary["bars"] > 30_000
    assert summary["trades"] > 50
    assert summary["stops_placed"] >= summary["trades"]
