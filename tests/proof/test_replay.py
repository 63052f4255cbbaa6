"""``eclipse replay``: a recorded simulated-time run pushed back through the daemon against the venue its
recording describes. The run is reproduced record for record, twice the same bytes; a changed knob diverges
and the divergence names its seq; a window replays as a restart; a run with seeded venue faults (unknown
outcomes, retries, failed reads) is reproduced too; every user mistake is one line and exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from eclipse.cli import main
from eclipse.contracts import IntentKind, OrderSubmitting
from eclipse.execution.journal import Journal, JournalRecord
from eclipse.market.bars import embedded_dataset
from eclipse.proof.recording import Recording
from eclipse.proof.replay import ReplayConfig, format_ms, replay_run
from eclipse.proof.simulation import SIMTEST_KNOBS, SimtestConfig, run_seed

BARS = 240
KNOBS = {"ENTRY_MIN_CONFIDENCE": "0.15", "FIXED_NOTIONAL_USDT": "200"}
"""The recorded run's knobs (it trades): a run directory does not hold them, the replay is given them."""


@pytest.fixture(autouse=True)
def _knobs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in KNOBS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated-time run of the embedded month that trades (entries, stops, take-profits)."""
    run_dir = tmp_path_factory.mktemp("recorded") / "run"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in KNOBS.items():
            mp.setenv(name, value)
        args = ["run", "--clock", "sim", "--max-bars", str(BARS), "--dir", str(run_dir), "--plain"]
        assert main(args) == 0
    return run_dir


def _journal(path: Path) -> list[JournalRecord]:
    with Journal.open_reader(path) as reader:
        return list(reader.records())


def _replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["replay", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_run_directory_holds_its_market(recorded: Path) -> None:
    """Every bar the daemon handled is in the telemetry (``data.bar``), as the data has it."""
    rec = Recording.load(recorded)
    (frame,) = rec.bars.values()
    assert len(frame) == BARS
    month = embedded_dataset()
    i = int((month.ts_ms < frame.ts_ms[0]).sum())
    for col in ("ts_ms", "open", "high", "low", "close", "volume"):
        assert (getattr(frame, col) == getattr(month, col)[i : i + BARS]).all(), col


def test_a_recorded_run_is_reproduced(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = _journal(recorded / "journal.sqlite")
    fills = [r for r in journal if r.name == "order.fill"]
    assert len(fills) >= 4  # entries and exits: the replay has something to reproduce
    code, out, _ = _replay(capsys, str(recorded))
    assert code == 0, out
    assert f"result: reproduced ({len(journal)} journal records identical)" in out
    assert f"{len(fills)} fills answered from the recording" in out
    assert "divergences 0" in out
    assert "checkers     ok" in out


def test_two_replays_print_and_write_the_same_bytes(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = []
    for name in ("a", "b"):
        code, out, _ = _replay(
            capsys, str(recorded), "--out", str(tmp_path / name), "--json", str(tmp_path / f"{name}.json")
        )
        assert code == 0
        journal = [(r.seq, r.ts_ms, r.event) for r in _journal(tmp_path / name / "journal.sqlite")]
        telemetry = (tmp_path / name / "telemetry.jsonl").read_bytes()
        runs.append((out, (tmp_path / f"{name}.json").read_text(), telemetry, journal))
    assert runs[0] == runs[1]
    replayed = [r.event for r in _journal(tmp_path / "a" / "journal.sqlite")]
    assert replayed == [r.event for r in _journal(recorded / "journal.sqlite")]


def test_a_changed_entry_knob_diverges_at_the_first_record_it_changes(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _replay(capsys, str(recorded), "--knob", "ENTRY_MIN_CONFIDENCE=0.2")
    assert code == 1
    journal = _journal(recorded / "journal.sqlite")
    # the first recorded entry below the new threshold is the first record the replay does not write
    first = next(
        r for r in journal if r.name == "intent.created" and getattr(r.event, "confidence", 1.0) < 0.2
    )
    assert f"result: DIVERGED at seq {first.seq}\n" in out
    assert f'recorded     intent.created {{"ts_ms":{first.ts_ms},' in out
    assert "knobs        ENTRY_MIN_CONFIDENCE=0.2" in out
    assert "hint" not in out


def test_a_changed_stop_is_refused_by_the_recorded_venue(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _replay(capsys, str(recorded), "--knob", "EXIT_STOP_LOSS_PCT=0.02")
    assert code == 1
    journal = _journal(recorded / "journal.sqlite")
    seq, stop = next(
        (r.seq, r.event)
        for r in journal
        if isinstance(r.event, OrderSubmitting) and r.event.kind is IntentKind.STOP_LOSS
    )
    assert f"result: DIVERGED at seq {seq}\n" in out
    assert "differs in   trigger_price\n" in out
    assert f"venue        at {stop.ts_ms}: create_order {stop.client_order_id} asked" in out
    assert "protection.run.one_stop_within_t_protect" in out  # the refused stop left the position bare


def test_a_window_replays_as_a_restart(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = _journal(recorded / "journal.sqlite")
    start = journal[len(journal) // 3].ts_ms // 60_000 * 60_000  # mid-run, a position may be open there
    end = journal[2 * len(journal) // 3].ts_ms // 60_000 * 60_000
    code, out, _ = _replay(capsys, str(recorded), "--from", format_ms(start), "--to", str(end))
    assert code == 0, out
    assert f"window       {format_ms(start)} .. {format_ms(end)}" in out
    prefix = sum(1 for r in journal if r.ts_ms < start + 60_000)
    inside = sum(1 for r in journal if start + 60_000 <= r.ts_ms <= end + 61_500)
    assert inside > 0
    assert f"journal      seq {prefix + 1}..{prefix + inside}: {inside} recorded, {inside} replayed" in out
    assert "replayed as a restart" in out
    code, out, _ = _replay(capsys, str(recorded), "--to", format_ms(end))  # from the start: no restart
    assert code == 0, out
    assert "restart" not in out


def test_a_run_with_venue_faults_is_reproduced(tmp_path: Path) -> None:
    """Seeded unknown outcomes, lost requests, retries and failed reads: the replay fails the same reads at
    the same moments and answers each send as it was answered."""
    seed = 11
    run_dir = tmp_path / "run"
    result = run_seed(seed, SimtestConfig(bars=60, crashes=False, changes=False), run_dir=run_dir)
    assert result.ok
    assert result.faults > 10
    replay = replay_run(run_dir, ReplayConfig(env=SIMTEST_KNOBS, seed=seed))
    assert replay.reproduced, "\n".join(replay.lines())
    assert replay.failures[0] == replay.failures[1] > 10
    unknown = [r for r in replay_journal(run_dir) if r.name == "order.unknown"]
    assert unknown
    assert replay.recorded_records == replay.replayed_records > 100


def replay_journal(run_dir: Path) -> list[JournalRecord]:
    """The recorded journal of a simulation run directory."""
    return _journal(run_dir / "journal.sqlite")


def test_a_run_directory_without_bars_is_refused(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old"
    shutil.copytree(recorded, old)
    lines = (old / "telemetry.jsonl").read_text().splitlines()
    kept = [line for line in lines if json.loads(line)["event"] != "data.bar"]
    (old / "telemetry.jsonl").write_text("\n".join(kept) + "\n")
    code, out, err = _replay(capsys, str(old))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "no bars recorded (data.bar events)" in err
    assert "record it again" in err


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--from", "yesterday"], "--from: expected Unix ms or ISO-8601"),
        (["--from", "2023-01-01"], "--from 2023-01-01T00:00:00Z is outside the recording"),
        (["--to", "2022-01-10T12:30Z", "--from", "2022-01-10T13:00Z"], "swap them"),
        (["--knob", "NO_SUCH_KNOB=1"], "no knob named NO_SUCH_KNOB"),
        (["--knob", "ENTRY_MIN_CONFIDENCE=high"], "ENTRY_MIN_CONFIDENCE"),
        (["--knob", "ENTRY_MIN_CONFIDENCE"], "expected NAME=VALUE"),
        (["--data", "BTCUSDT=/no/such.csv"], "--data: /no/such.csv: file not found"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(
    recorded: Path, extra: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _replay(capsys, str(recorded), *extra)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert says in err


def test_missing_or_busy_directories_are_one_line_and_exit_2(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _replay(capsys, str(tmp_path / "nothing"))
    assert code == 2
    assert err.count("\n") == 1
    assert "no such run directory" in err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    code, _, err = _replay(capsys, str(recorded), "--out", str(busy))
    assert code == 2
    assert err.count("\n") == 1
    assert "is not empty" in err
    (tmp_path / "empty").mkdir()
    code, _, err = _replay(capsys, str(tmp_path / "empty"))
    assert code == 2
    assert err.count("\n") == 1
    assert "no journal.sqlite" in err


def test_a_wall_clock_run_is_replayed_on_its_recorded_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The built-in simulator at x600 through the real ccxt client: bars taken late, the venue's answers
    arriving seconds of market time later. The replay steps on the recorded schedule and paces the clock."""
    run_dir = tmp_path / "wall"
    assert main(["run", "--max-bars", "60", "--speed", "600", "--dir", str(run_dir), "--plain"]) == 0
    capsys.readouterr()
    journal = _journal(run_dir / "journal.sqlite")
    code, out, _ = _replay(capsys, str(run_dir))
    assert "replay of" in out
    assert "history      the embedded BTC month" in out  # the simulator's volume printed with 3 decimals
    first_fill = next((r.seq for r in journal if r.name == "order.fill"), None)
    if code != 0:  # the loops of a wall-clock daemon may interleave otherwise later on, not before the entry
        diverged = int(out.split("result: DIVERGED at seq ")[1].split()[0])
        assert first_fill is not None
        assert diverged > first_fill, out
