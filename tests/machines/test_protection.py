"""Position protection: the spec and the class conform (a broken copy is caught), and scenarios of the
T_protect rule with a SimClock."""

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
    exits_and_protection_accepted,
    position_closed_leads_to_flat,
)
from eclipse.machines.protection import PROTECTION, ProtectionMachine, ProtectionTracker
from eclipse.machines.spec import Row, find_spec_dir, load_spec
from eclipse.machines.table import Runner, compile_spec

from .kit import assert_broken_copy_caught, assert_checkers_bound, assert_runner_matches_class, retarget

SPEC = load_spec(find_spec_dir(Path(__file__)) / "protection.toml")
T = 10.0


def make(events: list[Mapping[str, object]] | None = None) -> tuple[SimClock, ProtectionTracker]:
    clock = SimClock(1_000_000)
    sink = events.append if events is not None else None
    return clock, ProtectionTracker("BTCUSDT", clock, T, on_event=sink)


def opened(clock: SimClock, tracker: ProtectionTracker) -> None:
    assert tracker.enter().accepted
    assert tracker.entry_filled().accepted
    assert tracker.state == "open_unprotected"


# --- conformance --------------------------------------------------------------------------------------------
def test_class_conforms_to_spec() -> None:
    assert differences(SPEC, PROTECTION) == []


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda rows: rows[1:], id="row-dropped"),
        pytest.param(lambda rows: (*rows, Row("flat", "exit", "exiting")), id="row-added"),
        pytest.param(lambda rows: retarget(rows, "protection_missing", "flat"), id="row-retargeted"),
        pytest.param(
            lambda rows: tuple(dataclasses.replace(r, guard=None) for r in rows), id="guard-dropped"
        ),
        pytest.param(lambda rows: tuple(reversed(rows)), id="guard-order-swapped"),
    ],
)
def test_broken_copy_is_caught(mutate: Callable[[tuple[Row, ...]], tuple[Row, ...]]) -> None:
    assert_broken_copy_caught(SPEC, PROTECTION, mutate(SPEC.rows))


def test_broken_flags_are_caught() -> None:
    broken = dataclasses.replace(SPEC, in_flight=frozenset({"entering"}), terminal=frozenset({"flat"}))
    found = differences(SPEC, compile_spec(broken))
    assert any("in-flight state 'exiting'" in d for d in found)
    assert any("terminal state 'flat'" in d for d in found)


def test_invariant_exits_and_protection_never_blocked_in_the_table() -> None:
    """exits_and_protection_never_blocked: every open state accepts exit (or is exiting) and
    protection_placed (the registered conformance checker), and a table without them is caught."""
    assert exits_and_protection_accepted(PROTECTION) == []
    broken = dataclasses.replace(
        SPEC, rows=tuple(r for r in SPEC.rows if (r.source, r.event) != ("protected", "exit"))
    )
    assert exits_and_protection_accepted(compile_spec(broken)) == ["protected does not accept exit"]


def test_invariant_venue_flat_always_wins() -> None:
    """venue_flat_always_wins: position_closed leads to flat from every open or entering state."""
    assert position_closed_leads_to_flat(PROTECTION) == []
    broken = dataclasses.replace(SPEC, rows=retarget(SPEC.rows, "position_closed", "open_unprotected"))
    assert len(position_closed_leads_to_flat(compile_spec(broken))) == 4


def test_every_invariant_is_bound_to_checkers_the_suites_use() -> None:
    here = Path(__file__)
    assert_checkers_bound(SPEC, PROTECTION, here.parent / "test_protection_properties.py")


_EVENTS = sorted({r.event for r in SPEC.rows})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_EVENTS), st.booleans()), max_size=25))
def test_runner_and_python_statemachine_agree(steps: list[tuple[str, bool]]) -> None:
    """The compiled table behaves like the python-statemachine class itself, refusals included."""
    sm = ProtectionMachine()
    runner = Runner(PROTECTION, {"covered": bool})
    for event, covered in steps:
        assert_runner_matches_class(sm, runner, event, covered, covered=covered)


# --- scenarios ----------------------------------------------------------------------------------------------
def test_protected_in_time_never_blocks() -> None:
    clock, tr = make()
    opened(clock, tr)
    clock.advance(T)
    assert not tr.entries_blocked()
    assert tr.unprotected_sec() == T
    assert tr.unprotected_debt_sec() == 0.0
    assert tr.protection_placed().accepted
    assert (tr.state, tr.covered, tr.unprotected_sec(), tr.entries_blocked()) == (
        "protected",
        True,
        0.0,
        False,
    )
    clock.advance(1000)
    assert not tr.entries_blocked()
    assert tr.stop_hit().target == "flat"
    assert not tr.is_open


def test_past_t_protect_entries_block_and_the_gap_counts_as_debt() -> None:
    events: list[Mapping[str, object]] = []
    clock, tr = make(events)
    opened(clock, tr)
    clock.advance(T, ms=1)
    assert tr.entries_blocked()
    assert tr.unprotected_debt_sec() == pytest.approx(0.001)
    clock.advance(4)
    assert tr.unprotected_debt_sec() == pytest.approx(4.001)
    assert tr.exits_allowed()
    assert tr.protection_allowed()
    assert tr.check()
    assert tr.check()
    assert [e["event"] for e in events] == ["protection.overdue"]
    snap = tr.snapshot()
    assert (snap.state, snap.entries_blocked) == ("open_unprotected", True)
    assert snap.debt_sec == pytest.approx(4.001)
    assert tr.protection_placed().accepted
    assert not tr.entries_blocked()
    assert tr.unprotected_debt_sec() == 0.0
    closed = events[-1]
    assert closed["event"] == "protection.gap_closed"
    assert closed["debt_sec"] == pytest.approx(4.001)
    assert closed["unprotected_sec"] == pytest.approx(T + 4.001)


def test_failed_placements_do_not_restart_the_clock() -> None:
    clock, tr = make()
    opened(clock, tr)
    clock.advance(6)
    assert tr.protection_failed().target == "open_unprotected"
    clock.advance(5)
    assert tr.entries_blocked()
    assert tr.unprotected_sec() == 11.0


def test_failed_exit_does_not_launder_the_gap() -> None:
    clock, tr = make()
    opened(clock, tr)
    clock.advance(8)
    assert tr.exit().target == "exiting"
    clock.advance(5)
    assert tr.entries_blocked(), "the position is still open and uncovered while exiting"
    assert tr.exit_failed().target == "open_unprotected"
    assert tr.unprotected_sec() == 13.0
    assert tr.entries_blocked()


def test_failed_exit_returns_to_protected_when_the_stop_still_covers() -> None:
    clock, tr = make()
    opened(clock, tr)
    tr.protection_placed()
    tr.exit()
    clock.advance(100)
    assert not tr.entries_blocked()
    assert tr.exit_failed().target == "protected"


def test_stop_lost_during_exit_then_exit_fails() -> None:
    clock, tr = make()
    opened(clock, tr)
    tr.protection_placed()
    clock.advance(50)
    tr.exit()
    tr.protection_missing()
    clock.advance(3)
    assert tr.state == "exiting"
    assert tr.unprotected_sec() == 3.0
    assert tr.exit_failed().target == "open_unprotected"
    clock.advance(8)
    assert tr.entries_blocked()


def test_stop_placed_during_exit_then_exit_fails() -> None:
    clock, tr = make()
    opened(clock, tr)
    tr.exit()
    clock.advance(3)
    assert tr.protection_placed().target == "exiting"
    assert tr.covered
    assert tr.exit_failed().target == "protected"


def test_late_entry_fill_outgrows_the_stop() -> None:
    clock, tr = make()
    opened(clock, tr)
    tr.protection_placed()
    clock.advance(100)
    assert tr.entry_filled().target == "open_unprotected"
    assert not tr.covered
    assert tr.unprotected_sec() == 0.0
    clock.advance(T + 1)
    assert tr.entries_blocked()
    assert tr.protection_placed().target == "protected"


def test_a_refused_fact_still_uncovers_the_position() -> None:
    """covered and the gap clock follow the facts: with a table that refuses entry_filled while exiting (a
    broken spec), the late fill still uncovers the position; the failed exit lands in open_unprotected and
    entries block after T_protect."""
    rows = tuple(r for r in SPEC.rows if (r.source, r.event) != ("exiting", "entry_filled"))
    clock = SimClock(0)
    tr = ProtectionTracker("X", clock, T, table=compile_spec(dataclasses.replace(SPEC, rows=rows)))
    opened(clock, tr)
    tr.protection_placed()
    tr.exit()
    assert tr.covered
    out = tr.entry_filled()
    assert not out.accepted
    assert (tr.state, tr.covered, tr.gap_since_ms) == ("exiting", False, 0)
    assert tr.exit_failed().target == "open_unprotected"
    clock.advance(T, ms=1)
    assert tr.entries_blocked()
    assert tr.table is not PROTECTION


def test_late_fill_after_a_failed_entry_opens_an_uncovered_position() -> None:
    clock, tr = make()
    tr.enter()
    tr.entry_failed()
    assert tr.state == "flat"
    clock.advance(1)
    assert tr.entry_filled().target == "open_unprotected"
    clock.advance(T + 1)
    assert tr.entries_blocked()


def test_adopted_position_starts_the_clock() -> None:
    clock, tr = make()
    assert tr.position_found().target == "open_unprotected"
    clock.advance(T + 0.5)
    assert tr.entries_blocked()
    assert tr.position_closed().target == "flat"
    assert not tr.entries_blocked()
    assert tr.unprotected_debt_sec() == 0.0


@pytest.mark.parametrize("closer", ["stop_hit", "take_profit_hit", "exit_filled", "position_closed"])
def test_every_close_clears_the_gap(closer: str) -> None:
    clock, tr = make()
    opened(clock, tr)
    tr.exit()
    clock.advance(T * 3)
    assert tr.entries_blocked()
    assert tr.fire(closer).target == "flat"
    assert not tr.entries_blocked()
    assert tr.unprotected_sec() == 0.0


def test_refusals_never_raise_and_are_reported() -> None:
    events: list[Mapping[str, object]] = []
    clock, tr = make(events)
    out = tr.stop_hit()
    assert not out.accepted
    assert tr.state == "flat"
    opened(clock, tr)
    assert not tr.enter().accepted
    assert tr.state == "open_unprotected"
    assert [(e["event"], e["state"], e["trigger"], e["reason"]) for e in events] == [
        ("protection.transition_refused", "flat", "stop_hit", "not_accepted"),
        ("protection.transition_refused", "open_unprotected", "enter", "not_accepted"),
    ]
    assert all(e["symbol"] == "BTCUSDT" for e in events)


def test_bad_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="t_protect_sec"):
        ProtectionTracker("X", SimClock(), -1.0)
