"""Reconcile cycle: the spec and the class conform (a broken copy is caught), and scenarios of the cycle and
its capped exponential backoff with a SimClock."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eclipse.clock import SimClock
from eclipse.machines.conformance import differences
from eclipse.machines.invariants.conformance import (
    backoff_left_only_by_due_tick,
    failures_reach_backoff,
    start_only_in_idle,
)
from eclipse.machines.reconcile import (
    BACKOFF_FACTOR,
    K_CYCLES,
    RECONCILE,
    ReconcileCycle,
    ReconcileMachine,
    backoff_delay_ms,
)
from eclipse.machines.spec import Row, find_spec_dir, load_spec
from eclipse.machines.table import Runner, compile_spec

from .kit import (
    assert_broken_copy_caught,
    assert_checkers_bound,
    assert_runner_matches_class,
    rename_guard,
    retarget,
)

SPEC = load_spec(find_spec_dir(Path(__file__)) / "reconcile.toml")


def make(events: list[Mapping[str, object]] | None = None) -> tuple[SimClock, ReconcileCycle]:
    clock = SimClock(5_000)
    return clock, ReconcileCycle(clock, 2.0, 60.0, on_event=events.append if events is not None else None)


# --- conformance --------------------------------------------------------------------------------------------
def test_class_conforms_to_spec() -> None:
    assert differences(SPEC, RECONCILE) == []


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda rows: rows[:-1], id="row-dropped"),
        pytest.param(lambda rows: (*rows, Row("backoff", "start", "fetching")), id="row-added"),
        pytest.param(lambda rows: retarget(rows, "fetch_failed", "idle"), id="row-retargeted"),
        pytest.param(lambda rows: rename_guard(rows, "not_due", "due"), id="guard-renamed"),
        pytest.param(lambda rows: tuple(reversed(rows)), id="guard-order-swapped"),
    ],
)
def test_broken_copy_is_caught(mutate: Callable[[tuple[Row, ...]], tuple[Row, ...]]) -> None:
    assert_broken_copy_caught(SPEC, RECONCILE, mutate(SPEC.rows))


def test_broken_flags_are_caught() -> None:
    broken = dataclasses.replace(SPEC, initial="backoff", in_flight=frozenset({"fetching"}))
    found = differences(SPEC, compile_spec(broken))
    assert any("initial state" in d for d in found)
    assert any("in-flight state 'repairing'" in d for d in found)


def test_invariant_one_cycle_at_a_time_in_the_table() -> None:
    """one_cycle_at_a_time: start is accepted only in idle."""
    assert start_only_in_idle(RECONCILE) == []
    broken = dataclasses.replace(SPEC, rows=(*SPEC.rows, Row("backoff", "start", "fetching")))
    assert start_only_in_idle(compile_spec(broken)) != []


def test_invariant_failures_reach_backoff() -> None:
    """failures_reach_backoff: every in-flight state has a failure row into backoff."""
    assert failures_reach_backoff(RECONCILE) == []
    broken = dataclasses.replace(SPEC, rows=retarget(SPEC.rows, "repair_failed", "idle"))
    assert failures_reach_backoff(compile_spec(broken)) == ["repairing has no failure row into backoff"]


def test_invariant_backoff_waits_for_the_clock_in_the_table() -> None:
    """backoff_waits_for_the_clock: the only row leaving backoff is tick[due] to idle."""
    assert backoff_left_only_by_due_tick(RECONCILE) == []
    broken = dataclasses.replace(SPEC, rows=rename_guard(SPEC.rows, "due", None))
    assert backoff_left_only_by_due_tick(compile_spec(broken)) != []


def test_every_invariant_is_bound_to_checkers_the_suites_use() -> None:
    here = Path(__file__)
    assert_checkers_bound(SPEC, RECONCILE, here.parent / "test_reconcile_properties.py")


def test_the_spec_numbers_are_the_code_constants() -> None:
    """k_cycles and backoff_factor of specs/reconcile.toml are the code's (``eclipse specs check`` compares
    them too; a changed copy is caught in test_checkers.py)."""
    assert SPEC.constant("k_cycles") == K_CYCLES
    assert SPEC.constant("backoff_factor") == BACKOFF_FACTOR
    assert [backoff_delay_ms(n, 1_000, 60_000) for n in range(1, 9)] == [
        min(60_000, 1_000 * BACKOFF_FACTOR ** (n - 1)) for n in range(1, 9)
    ]
    assert "K=2" in SPEC.description


_EVENTS = sorted({r.event for r in SPEC.rows})
_GUARDS = {"clean": lambda c: c is True, "dirty": lambda c: c is False, "due": lambda c: c is True}
_GUARDS["not_due"] = _GUARDS["dirty"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_EVENTS), st.booleans()), max_size=25))
def test_runner_and_python_statemachine_agree(steps: list[tuple[str, bool]]) -> None:
    """The compiled table behaves like the python-statemachine class itself, refusals included."""
    sm = ReconcileMachine()
    runner = Runner(RECONCILE, _GUARDS)
    for event, flag in steps:
        assert_runner_matches_class(sm, runner, event, flag, clean=flag, due=flag)


# --- scenarios ----------------------------------------------------------------------------------------------
def test_clean_cycle() -> None:
    _, rc = make()
    assert rc.can_start()
    assert rc.start().target == "fetching"
    assert not rc.can_start()
    assert rc.fetched().target == "diffing"
    assert rc.diffed(True).target == "idle"
    assert (rc.cycles_started, rc.cycles_completed, rc.clean_cycles, rc.last_clean_ms) == (1, 1, 1, 5_000)
    assert rc.next_attempt_ms is None


def test_dirty_cycle_repairs_then_the_next_verifies() -> None:
    _, rc = make()
    rc.start()
    rc.fetched()
    assert rc.diffed(False).target == "repairing"
    assert rc.repaired().target == "idle"
    assert (rc.cycles_completed, rc.clean_cycles) == (1, 0)
    rc.start()
    rc.fetched()
    rc.diffed(True)
    assert rc.clean_cycles == 1


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    events: list[Mapping[str, object]] = []
    clock, rc = make(events)
    delays = []
    for i in range(8):
        rc.start()
        if i % 2:
            rc.fetch_failed()
        else:
            rc.fetched()
            rc.diffed(False)
            rc.repair_failed()
        assert rc.state == "backoff"
        assert rc.next_attempt_ms is not None
        delays.append(rc.next_attempt_ms - clock.now_ms())
        clock.advance(ms=delays[-1] - 1)
        assert not rc.tick()
        assert rc.state == "backoff"
        assert not rc.start().accepted, "no cycle while backing off"
        clock.advance(ms=1)
        assert rc.tick()
        assert rc.state == "idle"
        assert rc.next_attempt_ms is None
    assert delays == [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]
    assert [e["delay_ms"] for e in events if e["event"] == "reconcile.backoff"] == delays
    rc.start()
    rc.fetched()
    rc.diffed(True)
    assert rc.consecutive_failures == 0
    assert events[-1] == {"event": "reconcile.recovered", "ts_ms": clock.now_ms(), "after_failures": 8}
    rc.start()
    rc.fetch_failed()
    assert rc.next_attempt_ms == clock.now_ms() + 2_000


def test_backoff_delay_formula() -> None:
    assert [backoff_delay_ms(n, 500, 10_000) for n in range(7)] == [0, 500, 1000, 2000, 4000, 8000, 10_000]
    assert backoff_delay_ms(10_000, 500, 10_000) == 10_000


def test_refusals_never_raise_and_are_reported() -> None:
    events: list[Mapping[str, object]] = []
    _, rc = make(events)
    assert not rc.repaired().accepted
    rc.start()
    assert not rc.start().accepted
    assert not rc.diffed(True).accepted
    assert rc.state == "fetching"
    assert not rc.tick(), "a periodic tick outside backoff does nothing"
    assert [(e["event"], e["state"], e["trigger"]) for e in events] == [
        ("reconcile.transition_refused", "idle", "repaired"),
        ("reconcile.transition_refused", "fetching", "start"),
        ("reconcile.transition_refused", "fetching", "diffed"),
    ]
    assert rc.cycles_started == 1


def test_bad_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="base_backoff_sec"):
        ReconcileCycle(SimClock(), 0.0, 1.0)
    with pytest.raises(ValueError, match="base_backoff_sec"):
        ReconcileCycle(SimClock(), 5.0, 1.0)
