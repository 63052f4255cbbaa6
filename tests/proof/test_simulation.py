"""The deterministic simulation of the whole daemon: seeds hold, the same seed gives the same bytes, the seeds
that found bugs stay as regressions (each fails again with its fix taken out), crash points, ``simtest``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eclipse.cli import main
from eclipse.execution.exits import ProtectionPlan
from eclipse.execution.exits.protection import ProtectionManager
from eclipse.proof.batch import SIMTEST_KNOBS, reproduce_command
from eclipse.proof.simulation import SimtestConfig, run_seed, seed_plan
from eclipse.runtime.crashpoints import POINTS, CrashPlan, SimulatedCrash, parse_crash_at

CONFIG = SimtestConfig(env=SIMTEST_KNOBS)


@pytest.mark.parametrize("seed", [0, 3, 5, 7, 11])
def test_seeds_with_faults_crashes_and_changes_hold(seed: int) -> None:
    result = run_seed(seed, CONFIG)
    assert result.ok, [str(v) for v in result.report.violations]
    assert result.bars >= CONFIG.bars


def test_the_seeds_exercise_the_order_path_crashes_and_faults() -> None:
    results = [run_seed(s, CONFIG) for s in (3, 11)]
    assert sum(r.report.measures.fills for r in results) > 5
    assert sum(len(r.crashes) for r in results) >= 3
    assert all(r.faults > 0 for r in results)


def test_same_seed_same_bytes() -> None:
    a, b = run_seed(11, CONFIG), run_seed(11, CONFIG)
    assert a.crashes  # a seed with crashes and restarts
    assert a.digest == b.digest
    c = run_seed(12, CONFIG)
    assert c.digest != a.digest


def test_regression_seed_1_fills_that_complete_an_order_end_it_in_the_journal() -> None:
    """Seed 1: an entry completed by two partial fills stayed "acked" (in flight) in the journal forever."""
    assert run_seed(1, CONFIG).ok


def test_regression_seed_9_a_shrunk_stops_fills_complete_it_in_the_journal() -> None:
    """Seed 9: a stop the venue shrank (reduce-only) triggered and filled; the journal kept the asked qty."""
    assert run_seed(9, CONFIG).ok


def test_regression_seed_15_a_stop_shrunk_below_the_position_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seed 15: the venue took the stop for 0.002 of a 0.005 position; the engine called it protected for 44
    minutes. With the fix taken out a seed fails again on the protection checker (seed 8 since the landing
    window changed the order timings: a seed's path moves with the code, the mechanism's test stays)."""
    assert run_seed(15, CONFIG).ok
    assert run_seed(8, CONFIG).ok
    monkeypatch.setattr(ProtectionManager, "shrunk", lambda self, *args: False)
    broken = run_seed(8, CONFIG)
    assert {v.checker for v in broken.report.violations} == {"protection.run.one_stop_within_t_protect"}


def test_regression_seed_98_a_shrunk_stop_is_regrown_without_waiting_for_a_listing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seed 98: a stop shrunk by the venue was re-placed only by the periodic check, which needs the open
    orders listed; three failed listings in a row left the position 24 s partly covered (T_protect 15 s)."""
    assert run_seed(98, CONFIG).ok
    monkeypatch.setattr(ProtectionManager, "regrow", lambda self, position: ProtectionPlan())
    broken = run_seed(98, CONFIG)
    assert {v.checker for v in broken.report.violations} == {"protection.run.one_stop_within_t_protect"}


def test_regression_seed_116_a_leg_in_flight_at_a_crash_is_not_taken_for_a_working_stop() -> None:
    """Seed 116: killed between journaling a stop's resend and sending it, restarted at once; recovery rightly
    left the stop unresolved (it might still land), but the restore called the leg placed: the position was
    believed protected and went 60 s without a stop."""
    result = run_seed(116, CONFIG)
    assert result.crashes == ("submit.journaled#3",)
    assert result.ok, [str(v) for v in result.report.violations]


def test_a_seed_decides_everything_up_front() -> None:
    from eclipse.proof.simulation import _frames

    frames = _frames(CONFIG)
    assert seed_plan(7, CONFIG, frames) == seed_plan(7, CONFIG, frames)
    assert seed_plan(7, CONFIG, frames) != seed_plan(8, CONFIG, frames)
    quiet = SimtestConfig(faults=False, crashes=False, changes=False)
    plan = seed_plan(7, quiet, frames)
    assert (plan.crashes, plan.changes, plan.venue_faults.rules, plan.engine_faults) == ((), (), (), {})


def test_crash_points_parse_and_fire_on_their_pass() -> None:
    assert parse_crash_at("submit.sent:2, bar") == {"submit.sent": 2, "bar": 1}
    for bad in ("nowhere:1", "bar:0", "bar:x"):
        with pytest.raises(ValueError, match="crash point"):
            parse_crash_at(bad)
    plan = CrashPlan.simulated({"fill.journaled": 2})
    plan.hit("fill.journaled")
    plan.hit("bar")
    with pytest.raises(SimulatedCrash) as info:
        plan.hit("fill.journaled")
    assert (info.value.point, info.value.hit) == ("fill.journaled", 2)
    assert set(POINTS) >= {"submit.journaled", "protect.sent", "reconcile.fetched", "shutdown"}


def test_simtest_command_reports_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json = tmp_path / "simtest.json"
    code = main(["simtest", "--seeds", "2", "--from", "3", "--jobs", "1", "--quiet", "--json", str(out_json)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "simtest: 2 seeds from 3" in out
    assert "violations          0" in out
    data = json.loads(out_json.read_text())
    assert data["summary"]["seeds"] == 2
    assert data["failures"] == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--knob", "ENTRY_MIN_CONFIDENCE=lots"], "ENTRY_MIN_CONFIDENCE"),
        (["--knob", "NO_SUCH_KNOB=1"], "no knob named NO_SUCH_KNOB"),
        (["--json", "/nonexistent-dir/x.json"], "no directory /nonexistent-dir"),
    ],
)
def test_simtest_refuses_a_mistake_in_one_line_before_running(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["simtest", "--seeds", "1", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert says in err


def test_the_replay_command_names_the_seed_and_the_changed_knobs() -> None:
    cmd = reproduce_command(
        42, SimtestConfig(env={**SIMTEST_KNOBS, "RECONCILE_MAX_LOOKUPS": "2"}, crashes=False)
    )
    assert cmd == (
        "eclipse simtest --seeds 1 --from 42 --bars 180 --no-crashes --knob RECONCILE_MAX_LOOKUPS=2 "
        "--keep eclipse-simtest-42"
    )


def test_a_daemon_that_raises_fails_its_seed_with_where_it_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from eclipse.runtime.daemon import Daemon

    calls = {"n": 0}
    real = Daemon.handle_bar

    async def flaky(self: Daemon, symbol: str, bar: object, speed: float | None = 1.0) -> None:
        calls["n"] += 1
        if calls["n"] == 40:
            raise RuntimeError("boom in the bar path")
        await real(self, symbol, bar, speed)  # type: ignore[arg-type]

    monkeypatch.setattr(Daemon, "handle_bar", flaky)
    result = run_seed(2, SimtestConfig(crashes=False))
    assert not result.ok
    assert result.error.startswith("the daemon raised RuntimeError: boom in the bar path (at ")
    assert [v.checker for v in result.report.violations][-1] == "simtest.harness"


def test_a_seed_never_resumes_a_directory_that_holds_a_run(tmp_path: Path) -> None:
    from eclipse.errors import EclipseError

    run_dir = tmp_path / "run"
    assert run_seed(3, SimtestConfig(bars=20), run_dir=run_dir).ok
    with pytest.raises(EclipseError, match="already holds a run"):
        run_seed(3, SimtestConfig(bars=20), run_dir=run_dir)


def test_a_disarmed_crash_plan_passes_its_point() -> None:
    armed = {"on": False}
    plan = CrashPlan.simulated({"bar": 1}, armed=lambda: armed["on"])
    plan.hit("bar")  # disarmed (the quiet end): no crash
    armed["on"] = True
    plan2 = CrashPlan.simulated({"bar": 1}, armed=lambda: armed["on"])
    with pytest.raises(SimulatedCrash):
        plan2.hit("bar")
