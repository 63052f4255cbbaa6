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
from eclipse.machines.order import GUARDS, ORDER_TABLE, OrderMachine
from eclipse.machines.spec import Row, Spec, find_spec_dir, load_spec
from eclipse.machines.table import Runner, compile_class, compile_spec

SPEC = load_spec(find_spec_dir(Path(__file__)) / "order.toml")

# The spec's invariants enforced by the "conformance" suite, and the test that enforces each.
CONFORMANCE_CHECKS = {
    "terminal_states_absorb": "test_only_the_documented_late_rows_leave_a_terminal_state",
    "transport_errors_never_definitive": "test_transport_errors_never_reach_a_terminal_state",
}


def test_class_conforms_to_the_spec() -> None:
    assert differences(SPEC, compile_class(OrderMachine)) == []
    assert differences(SPEC, ORDER_TABLE) == []
    assert ORDER_TABLE.name == OrderMachine.NAME == "order"


def test_every_conformance_invariant_of_the_spec_has_a_check() -> None:
    wanted = {i.name for i in SPEC.invariants if "conformance" in i.suites}
    assert wanted <= set(CONFORMANCE_CHECKS), (
        f"no conformance check for {sorted(wanted - set(CONFORMANCE_CHECKS))}"
    )
    for test_name in CONFORMANCE_CHECKS.values():
        assert callable(globals()[test_name])


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


def test_transport_errors_never_reach_a_terminal_state() -> None:
    rows = [r for r in ORDER_TABLE.rows if r.event == "transport_error"]
    assert rows
    assert all(r.target not in ORDER_TABLE.terminal for r in rows)
    assert all(r.target in ORDER_TABLE.in_flight for r in rows)


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
    while frontier:
        here = frontier.pop()
        for r in SPEC.rows:
            if r.source == here and r.target not in seen:
                seen.add(r.target)
                frontier.append(r.target)
    assert state in seen
