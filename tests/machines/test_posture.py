"""Risk posture and belief debt: the spec and the class conform (a broken copy is caught), the debt formula,
and scenarios of escalation, hysteresis, RED_LOCK recovery and the critical streak with a SimClock."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eclipse.clock import SimClock
from eclipse.machines.conformance import differences
from eclipse.machines.debt import DEFAULT_WEIGHTS, BeliefDebt
from eclipse.machines.invariants.conformance import (
    knobs_monotone,
    knobs_never_block_exits_or_protection,
    red_lock_leaves_only_to_warmup,
)
from eclipse.machines.posture import (
    DEFAULT_RED_LOCK_CRITICAL_STREAK,
    KNOBS,
    POSTURE,
    GuardKnobs,
    Posture,
    PostureController,
    PostureMachine,
    PostureThresholds,
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

SPEC = load_spec(find_spec_dir(Path(__file__)) / "posture.toml")
MIN = 60_000

GREEN, YELLOW, ORANGE, RED, WARMUP = (
    Posture.GREEN,
    Posture.YELLOW,
    Posture.ORANGE,
    Posture.RED_LOCK,
    Posture.POST_RED_WARMUP,
)


def make(**kw: object) -> tuple[SimClock, PostureController, list[Mapping[str, object]]]:
    clock = SimClock(10 * MIN)
    events: list[Mapping[str, object]] = []
    ctl = PostureController(clock, on_event=events.append, **kw)  # type: ignore[arg-type]
    return clock, ctl, events


def changes(events: list[Mapping[str, object]]) -> list[tuple[object, object]]:
    return [(e["from"], e["to"]) for e in events if e["event"] == "posture.changed"]


# --- conformance --------------------------------------------------------------------------------------------
def test_class_conforms_to_spec() -> None:
    assert differences(SPEC, POSTURE) == []


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda rows: rows[1:], id="row-dropped"),
        pytest.param(lambda rows: (*rows, Row("red_lock", "relax", "orange")), id="row-added"),
        pytest.param(lambda rows: retarget(rows, "release", "green"), id="row-retargeted"),
        pytest.param(lambda rows: rename_guard(rows, "to_orange", "to_red"), id="guard-renamed"),
        pytest.param(lambda rows: tuple(reversed(rows)), id="guard-order-swapped"),
    ],
)
def test_broken_copy_is_caught(mutate: Callable[[tuple[Row, ...]], tuple[Row, ...]]) -> None:
    assert_broken_copy_caught(SPEC, POSTURE, mutate(SPEC.rows))


def test_broken_flags_are_caught() -> None:
    broken = dataclasses.replace(SPEC, terminal=frozenset({"red_lock"}))
    assert any("terminal state 'red_lock'" in d for d in differences(SPEC, compile_spec(broken)))


def test_invariant_never_blocks_exits_or_protection() -> None:
    """never_blocks_exits_or_protection: every posture's knobs allow exits and protection, and they are not
    settable fields at all (the registered conformance checker)."""
    assert knobs_never_block_exits_or_protection(POSTURE) == []
    fields = {f.name for f in dataclasses.fields(GuardKnobs)}
    assert "min_confidence_delta" in fields
    assert "notional_scale" in fields
    assert not fields & {"exits_allowed", "protection_allowed"}


def test_invariant_warmup_before_normal_in_the_table() -> None:
    """warmup_before_normal: RED_LOCK leaves only to POST_RED_WARMUP."""
    assert red_lock_leaves_only_to_warmup(POSTURE) == []
    broken = dataclasses.replace(SPEC, rows=retarget(SPEC.rows, "release", "green"))
    assert red_lock_leaves_only_to_warmup(compile_spec(broken)) != []


def test_invariant_knobs_monotone() -> None:
    """knobs_monotone: GREEN <= YELLOW <= ORANGE <= POST_RED_WARMUP <= RED_LOCK in strictness."""
    assert knobs_monotone(POSTURE) == []
    assert not KNOBS[RED].entries_allowed
    assert KNOBS[GREEN].entries_allowed
    assert not KNOBS[GREEN].restricts


def test_every_invariant_is_bound_to_checkers_the_suites_use() -> None:
    here = Path(__file__)
    assert_checkers_bound(SPEC, POSTURE, here.parent / "test_posture_properties.py")


def test_the_spec_numbers_are_the_code_constants() -> None:
    """red_lock_critical_streak of specs/posture.toml is the controller's default."""
    assert SPEC.constant("red_lock_critical_streak") == DEFAULT_RED_LOCK_CRITICAL_STREAK
    assert SPEC.constant("step_down_levels") == 1


_EVENTS = sorted({r.event for r in SPEC.rows})
_TARGETS = [p.state for p in (GREEN, YELLOW, ORANGE, RED)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_EVENTS), st.sampled_from(_TARGETS)), max_size=25))
def test_runner_and_python_statemachine_agree(steps: list[tuple[str, str]]) -> None:
    """The compiled table behaves like the python-statemachine class itself, refusals included."""
    sm = PostureMachine()
    guards: dict[str, Callable[[object], bool]] = {
        "to_green": lambda t: t == "green",
        "to_yellow": lambda t: t == "yellow",
        "to_orange": lambda t: t == "orange",
        "to_red": lambda t: t == "red_lock",
    }
    runner = Runner(POSTURE, guards)
    for event, target in steps:
        assert_runner_matches_class(sm, runner, event, target, level=target)


# --- belief debt --------------------------------------------------------------------------------------------
def test_debt_formula_and_growth() -> None:
    clock = SimClock(0)
    debt = BeliefDebt(clock, aging_min=10.0, growth_window_sec=60.0)
    assert debt.add("pos:BTC", "position_mismatch")
    assert debt.debt() == DEFAULT_WEIGHTS["position_mismatch"] == 4.0
    assert debt.growth_per_min() == pytest.approx(4.0)
    clock.advance(5 * 60)
    assert debt.debt() == pytest.approx(4.0 * 1.5)
    assert debt.growth_per_min() == pytest.approx(4.0 / 10)  # aging only: weight / aging_min per minute
    assert not debt.add("pos:BTC", "position_mismatch", 100.0), "re-reporting keeps the age and weight"
    assert debt.debt() == pytest.approx(6.0)
    debt.add("x", "weird_kind")
    debt.add("y", "orphan_order", 0.5)
    assert debt.debt() == pytest.approx(6.0 + 2.0 + 0.5)
    assert [c.key for c in debt.open_contradictions()] == ["pos:BTC", "x", "y"]
    clock.advance(60)
    assert debt.resolve("pos:BTC")
    assert not debt.resolve("pos:BTC")
    assert not debt.is_open("pos:BTC")
    before = 4.0 * 1.5 + 2.0 + 0.5
    now = 2.0 * (1 + 0.1) + 0.5 * (1 + 0.1)
    assert debt.debt() == pytest.approx(now)
    assert debt.growth_per_min() == pytest.approx(now - before)
    clock.advance(60)
    assert debt.growth_per_min() == pytest.approx(2.5 / 10)
    with pytest.raises(ValueError, match="debt is known"):
        debt.debt(clock.now_ms() - 61_000)
    with pytest.raises(ValueError, match="weight"):
        debt.add("z", "fill_gap", 0.0)
    with pytest.raises(ValueError, match="aging_min"):
        BeliefDebt(clock, aging_min=0.0)


# --- scenarios ----------------------------------------------------------------------------------------------
def test_escalation_is_immediate_and_may_skip_levels() -> None:
    _, ctl, events = make()
    assert ctl.posture is GREEN
    assert ctl.add_contradiction("a", "orphan_order") is YELLOW  # debt 2
    assert ctl.add_contradiction("b", "position_mismatch") is ORANGE  # debt 6
    assert ctl.add_contradiction("c", "balance_mismatch") is RED  # debt 14
    assert changes(events) == [("GREEN", "YELLOW"), ("YELLOW", "ORANGE"), ("ORANGE", "RED_LOCK")]
    assert events[0]["debt"] == pytest.approx(2.0)
    _, ctl2, events2 = make()
    ctl2.belief.add("a", "balance_mismatch")
    ctl2.belief.add("b", "position_mismatch")
    assert ctl2.update() is RED
    assert changes(events2) == [("GREEN", "RED_LOCK")]
    assert not ctl2.knobs().entries_allowed
    assert ctl2.exits_allowed()
    assert ctl2.protection_allowed()
    assert ctl2.knobs().exits_allowed


def test_growth_escalates_before_the_debt_does() -> None:
    clock, ctl, events = make()
    ctl.add_contradiction("a", "position_mismatch")
    assert ctl.add_contradiction("b", "fill_gap") is ORANGE, "debt 5 is YELLOW, but 5/min of growth is ORANGE"
    assert ctl.target() is ORANGE
    clock.advance(61)
    assert ctl.target() is YELLOW, "growth has left the window"
    assert ctl.update() is ORANGE
    ctl.resolve_contradiction("b")  # else aging alone takes the debt to 6 (ORANGE) within two minutes
    clock.advance(119)
    assert ctl.update() is ORANGE
    clock.advance(1)
    assert ctl.update() is YELLOW
    assert changes(events)[-1] == ("ORANGE", "YELLOW")


def test_de_escalation_is_one_level_per_hysteresis_window() -> None:
    clock, ctl, events = make()
    ctl.add_contradiction("a", "position_mismatch")
    ctl.add_contradiction("b", "orphan_order")
    assert ctl.posture is ORANGE
    clock.advance(30)
    ctl.resolve_contradiction("a")
    ctl.resolve_contradiction("b")
    assert ctl.target() is GREEN
    for _ in range(11):
        clock.advance(10)
        assert ctl.update() is ORANGE
    clock.advance(10)  # 120 s after the first calm update
    assert ctl.update() is YELLOW
    clock.advance(119)
    assert ctl.update() is YELLOW, "each step down waits a full window"
    clock.advance(1)
    assert ctl.update() is GREEN
    assert changes(events) == [
        ("GREEN", "YELLOW"),
        ("YELLOW", "ORANGE"),
        ("ORANGE", "YELLOW"),
        ("YELLOW", "GREEN"),
    ]


def test_a_debt_hovering_at_a_threshold_does_not_flap() -> None:
    clock, ctl, events = make()
    for i in range(10):
        ctl.add_contradiction(f"k{i}", "orphan_order")
        assert ctl.posture is YELLOW
        clock.advance(100)
        ctl.resolve_contradiction(f"k{i}")
        clock.advance(20)
        assert ctl.update() is YELLOW
    assert changes(events) == [("GREEN", "YELLOW")]


def test_red_lock_recovers_through_warmup() -> None:
    clock, ctl, events = make()
    ctl.add_contradiction("a", "unknown_position")
    ctl.add_contradiction("b", "position_mismatch")
    assert ctl.posture is RED
    assert ctl.red_lock_streak == 1
    clock.advance(60)
    ctl.resolve_contradiction("a")
    ctl.resolve_contradiction("b")
    clock.advance(119)
    assert ctl.update() is RED
    clock.advance(1)
    assert ctl.update() is WARMUP
    assert ctl.knobs() == KNOBS[WARMUP]
    assert ctl.knobs().entries_allowed
    clock.advance(299)
    assert ctl.update() is WARMUP
    clock.advance(1)
    assert ctl.update() is GREEN
    assert ctl.red_lock_streak == 0
    assert changes(events) == [
        ("GREEN", "ORANGE"),
        ("ORANGE", "RED_LOCK"),
        ("RED_LOCK", "POST_RED_WARMUP"),
        ("POST_RED_WARMUP", "GREEN"),
    ]
    assert not [e for e in events if e["event"] == "posture.red_lock_critical"]


def test_relapse_during_warmup_is_critical() -> None:
    clock, ctl, events = make()
    ctl.add_contradiction("a", "unknown_position", 20.0)
    ctl.resolve_contradiction("a")
    clock.advance(120)
    assert ctl.update() is WARMUP
    clock.advance(100)
    assert ctl.add_contradiction("b", "unknown_position", 20.0) is RED
    assert ctl.red_lock_streak == 2
    critical = [e for e in events if e["event"] == "posture.red_lock_critical"]
    assert len(critical) == 1
    assert critical[0]["streak"] == 2
    assert events[-2]["event"] == "posture.changed"
    assert (events[-2]["from"], events[-2]["to"]) == ("POST_RED_WARMUP", "RED_LOCK")
    ctl.resolve_contradiction("b")
    clock.advance(120)
    ctl.update()
    clock.advance(300)
    assert ctl.update() is GREEN
    assert ctl.red_lock_streak == 0
    ctl.add_contradiction("c", "unknown_position", 20.0)
    assert ctl.red_lock_streak == 1
    assert len([e for e in events if e["event"] == "posture.red_lock_critical"]) == 1


def test_warmup_ends_on_the_level_the_debt_calls_for() -> None:
    clock, ctl, events = make()
    ctl.add_contradiction("a", "unknown_position", 20.0)
    ctl.resolve_contradiction("a")
    clock.advance(120)
    assert ctl.update() is WARMUP
    ctl.add_contradiction("b", "position_mismatch")
    ctl.add_contradiction("c", "orphan_order")
    clock.advance(300)
    assert ctl.target() is ORANGE
    assert ctl.update() is ORANGE
    assert changes(events)[-1] == ("POST_RED_WARMUP", "ORANGE")


def test_an_unresolved_contradiction_ages_into_red() -> None:
    clock, ctl, _ = make()
    assert ctl.add_contradiction("a", "orphan_order") is YELLOW  # 2 * (1 + age/10)
    clock.advance(20 * 60 - 1)
    assert ctl.update() is YELLOW
    clock.advance(1)
    assert ctl.update() is ORANGE  # 6 at 20 min
    clock.advance(30 * 60)
    assert ctl.update() is RED  # 12 at 50 min
    assert ctl.exits_allowed()


def test_refusals_never_raise_and_are_reported() -> None:
    clock, ctl, events = make()
    out = ctl._fire("relax", GREEN, 0.0, 0.0, clock.now_ms())
    assert not out.accepted
    assert ctl.posture is GREEN
    assert events == [
        {
            "event": "posture.transition_refused",
            "ts_ms": clock.now_ms(),
            "state": "green",
            "trigger": "relax",
            "reason": "not_accepted",
        }
    ]


def test_bad_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="thresholds"):
        PostureThresholds(debt_yellow=5.0, debt_orange=4.0)
    with pytest.raises(ValueError, match="hysteresis_sec"):
        PostureController(SimClock(), hysteresis_sec=-1.0)
    with pytest.raises(ValueError, match="red_lock_critical_streak"):
        PostureController(SimClock(), red_lock_critical_streak=0)


def test_thresholds_are_inclusive_and_take_the_higher_level() -> None:
    th = PostureThresholds()
    assert th.level(1.99, 0.0) is GREEN
    assert th.level(2.0, 0.0) is YELLOW
    assert th.level(2.0, 10.0) is RED
    assert th.level(12.0, -50.0) is RED
