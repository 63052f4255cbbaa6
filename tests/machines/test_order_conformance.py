"""The order machine in code equals ``specs/order.toml``; the check can fail; the compiled table behaves like
the python-statemachine class it was compiled from."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statemachine.exceptions import TransitionNotAllowed

from eclipse.machines.conformance import differences
from eclipse.machines.invariants.conformance import (
    only_late_reports_leave_terminal,
    transport_errors_stay_in_flight,
    trigger_rows,
)
from eclipse.machines.order import GUARDS, ORDER_TABLE, OrderMachine
from eclipse.machines.spec import Row, Spec, find_spec_dir, load_spec
from eclipse.machines.table import Runner, compile_class, compile_spec

from .kit import assert_checkers_bound

SPEC = load_spec(find_spec_dir(Path(__file__)) / "order.toml")


def test_class_conforms_to_the_spec() -> None:
    assert differences(SPEC, compile_class(OrderMachine)) == []
    assert differences(SPEC, ORDER_TABLE) == []
    assert ORDER_TABLE.name == OrderMachine.NAME == "order"


def test_every_invariant_is_bound_to_checkers_the_suites_use() -> None:
    """Every conformance checker the spec names passes on the code's table; every property checker is called
    by the property suite."""
    here = Path(__file__)
    assert_checkers_bound(SPEC, ORDER_TABLE, here.parent / "test_order_properties.py")


def _without(spec: Spec, source: str, event: str, target: str) -> Spec:
    rows = tuple(r for r in spec.rows if (r.source, r.event, r.target) != (source, event, target))
    assert len(rows) == len(spec.rows) - 1
    return dataclasses.replace(spec, rows=rows)


def test_conformance_reports_a_row_missing_from_the_spec() -> None:
    edited = _without(SPEC, "canceled", "fill", "filled")
    found = differences(edited, ORDER_TABLE)
    assert found == [
        "order: transition canceled --fill[completes]--> filled is in the code but not in the spec"
    ]


def test_conformance_reports_a_row_missing_from_the_code() -> None:
    leave = Row("filled", "fill", "partially_filled", "leaves_remainder", "bogus: leaves a terminal state")
    edited = dataclasses.replace(SPEC, rows=(*SPEC.rows, leave))
    found = differences(edited, ORDER_TABLE)
    assert found == [
        "order: transition filled --fill[leaves_remainder]--> partially_filled "
        "is in the spec but not in the code"
    ]


def test_conformance_reports_swapped_guard_precedence_and_state_sets() -> None:
    rows = list(SPEC.rows)
    i = next(
        k for k, r in enumerate(rows) if (r.source, r.event, r.guard) == ("accepted", "fill", "completes")
    )
    rows[i], rows[i + 1] = rows[i + 1], rows[i]
    found = differences(dataclasses.replace(SPEC, rows=tuple(rows)), ORDER_TABLE)
    assert any("guard order of accepted --fill-->" in d for d in found)
    moved = dataclasses.replace(SPEC, terminal=SPEC.terminal - {"absent"})
    assert any(
        "terminal state 'absent' is in the code but not in the spec" in d
        for d in differences(moved, ORDER_TABLE)
    )


def test_terminal_states_are_not_final_and_sets_match() -> None:
    assert not any(s.final for s in OrderMachine.states)
    assert frozenset(SPEC.terminal) == OrderMachine.TERMINAL == ORDER_TABLE.terminal
    assert frozenset(SPEC.in_flight) == OrderMachine.IN_FLIGHT == ORDER_TABLE.in_flight


def test_only_the_documented_late_rows_leave_a_terminal_state() -> None:
    """terminal_states_absorb: the registered checker passes, the late rows are exactly these, and a row
    leaving a terminal state for a live one is caught."""
    assert only_late_reports_leave_terminal(ORDER_TABLE) == []
    leaving = {
        (r.source, r.event, r.target, r.guard) for r in ORDER_TABLE.rows if r.source in ORDER_TABLE.terminal
    }
    assert leaving == {
        ("canceled", "fill", "filled", "completes"),
        ("canceled", "fill", "canceled", "leaves_remainder"),
        ("expired", "fill", "filled", "completes"),
        ("expired", "fill", "expired", "leaves_remainder"),
        ("canceled", "qty_reduced", "filled", "now_complete"),
        ("canceled", "qty_reduced", "canceled", "leaves_remainder"),
    }
    assert all(r.note for r in SPEC.rows if r.source in SPEC.terminal)
    reopened = dataclasses.replace(SPEC, rows=(*SPEC.rows, Row("filled", "ack", "accepted", None, "bogus")))
    assert only_late_reports_leave_terminal(compile_spec(reopened)) == [
        "filled --ack--> accepted: only a late fill or qty_reduced may leave a terminal state, into a "
        "terminal one"
    ]


def test_transport_errors_never_reach_a_terminal_state() -> None:
    """transport_errors_never_definitive: the registered checker passes, and a decisive row is caught."""
    assert transport_errors_stay_in_flight(ORDER_TABLE) == []
    rows = tuple(
        dataclasses.replace(r, target="rejected")
        if (r.source, r.event) == ("submitting", "transport_error")
        else r
        for r in SPEC.rows
    )
    assert transport_errors_stay_in_flight(compile_spec(dataclasses.replace(SPEC, rows=rows))) == [
        "submitting --transport_error--> rejected: a transport error must leave the order in flight "
        "(never terminal)"
    ]


def test_every_live_state_takes_the_trigger() -> None:
    """trigger_fills_belong_to_the_order (conformance): the trigger is taken in every live state after the
    submission, triggered takes fills and reductions, and nothing leaves triggered for another live state."""
    assert trigger_rows(ORDER_TABLE) == []
    without = _without(SPEC, "pending_cancel", "trigger", "triggered")
    assert trigger_rows(compile_spec(without)) == [
        "pending_cancel does not accept trigger (a trigger seen in pending_cancel would be lost)"
    ]
    back = dataclasses.replace(SPEC, rows=(*SPEC.rows, Row("triggered", "ack", "accepted")))
    assert trigger_rows(compile_spec(back)) == [
        "triggered --ack--> accepted: leaves triggered for a live state other than triggered"
    ]


def test_a_lookup_is_the_only_way_out_of_unknown_to_absent() -> None:
    into_absent = {(r.source, r.event) for r in ORDER_TABLE.rows if r.target == "absent"}
    assert into_absent == {("unknown", "lookup_absent")}


QTYS = (0.0, 0.25, 0.5, 1.0 - 1e-12, 1.0, 2.0)


def test_guards_of_one_source_and_event_are_exhaustive_and_exclusive() -> None:
    """For every guarded (state, event) exactly one row holds: guards alone never refuse an event."""
    assert set(GUARDS) == set(SPEC.guards)
    for (source, event), rows in ORDER_TABLE.rows_for.items():
        if not any(r.guard for r in rows):
            assert len(rows) == 1, (source, event)
            continue
        for filled, quantity in itertools.product(QTYS, QTYS[1:]):
            held = [r.target for r in rows if r.guard is not None and GUARDS[r.guard]((filled, quantity))]
            assert len(held) == 1, (source, event, filled, quantity, held)


def test_class_guard_methods_agree_with_the_table_guards() -> None:
    machine = OrderMachine()
    for name, guard in GUARDS.items():
        method = getattr(machine, name)
        for filled, quantity in itertools.product(QTYS, QTYS[1:]):
            assert method(filled=filled, quantity=quantity) == guard((filled, quantity)), (name, filled)


EVENTS = ORDER_TABLE.events
STEP = st.tuples(st.sampled_from(EVENTS), st.sampled_from(QTYS), st.sampled_from(QTYS[1:]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=1, max_size=25))
def test_compiled_table_behaves_like_the_statemachine_class(steps: list[tuple[str, float, float]]) -> None:
    """Differential test: python-statemachine's ``send`` and the table Runner take the same transitions."""
    slow = OrderMachine()
    fast = Runner(ORDER_TABLE, GUARDS)
    spec = Runner(compile_spec(SPEC), GUARDS)
    for event, filled, quantity in [("submit", 0.0, 1.0), *steps]:
        try:
            slow.send(event, filled=filled, quantity=quantity)
            slow_ok = True
        except TransitionNotAllowed:
            slow_ok = False
        out = fast.fire(event, (filled, quantity))
        assert spec.fire(event, (filled, quantity)).target == out.target
        assert out.accepted == slow_ok, (event, out)
        assert slow.current_state_value == fast.state == spec.state


@pytest.mark.parametrize("state", SPEC.states)
def test_every_state_is_reachable_from_created(state: str) -> None:
    seen = {SPEC.initial}
    frontier = [SPEC.initial]
    for _ in range(len(SPEC.states)):  # each round reaches at least one new state, or the frontier is empty
        frontier = [
            r.target for here in frontier for r in SPEC.rows if r.source == here and r.target not in seen
        ]
        seen.update(frontier)
        if not frontier:
            break
    assert state in seen
