"""Property tests of the order trackers: random sequences of venue reports and faults (duplicated reports,
reordered and replayed fills, lost acks, lookups, cancels, triggers, venue quantity reductions, new attempts)
drive an IntentOrders. The test's venue records what happened to each order (OrderVenueRecord: every report,
every fill with its trade id and quantity) before the tracker sees it, whatever the tracker does with it; the
registered checkers of specs/order.toml compare the trackers with that record after every step.

Hypothesis explores and shrinks (``TestOrderFaults``); a seeded random walk over the same model then proves
the suite's breadth: every row of the spec is taken at least once.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from eclipse.machines.invariants.order import (
    OrderVenueRecord,
    filled_qty_monotonic_and_bounded,
    one_live_order,
    terminal_states_absorb,
    trade_id_applied_once,
    transport_errors_never_definitive,
    unknown_resolved_before_resubmit,
    venue_fills_never_lost,
)
from eclipse.machines.order import ORDER_TABLE, IntentOrders, OrderOutcome, OrderRuleError, OrderTracker
from eclipse.machines.spec import find_spec_dir, load_spec
from eclipse.machines.table import CompiledMachine, compile_spec

from .kit import copy_specs, drop_row

SPEC = load_spec(find_spec_dir(Path(__file__)) / "order.toml")
SPEC_ROWS = {(r.source, r.event, r.target) for r in SPEC.rows}
TERMINAL = SPEC.terminal
REPORTS = tuple(e for e in SPEC.events if e not in ("fill", "qty_reduced"))
ACCEPTED_IN = {s: sorted({r.event for r in SPEC.rows if r.source == s}) for s in SPEC.states}
MAX_LIVE = int(SPEC.constant("max_live_orders_per_intent"))
INTENT = "intent-prop"

QTYS = (0.5, 1.0, 2.5, 3.0)
PORTIONS = (0.25, 0.5, 1.0, 1.0, 1.5)  # of the open quantity; 1.5 overfills
KEPT = (0.0, 0.5, 1.0)  # share of the open quantity a venue reduction keeps
WHICH = st.integers(-4, 6)  # negative: the latest attempt (most reports concern it); else an older one
PORTION = st.sampled_from(PORTIONS)
PRICE = st.floats(1.0, 1000.0)

T = TypeVar("T")
Choose = Callable[[Sequence[T]], T]


class OrderFaults(RuleBasedStateMachine):
    """One intent's orders under a hostile venue and network."""

    table: CompiledMachine = ORDER_TABLE  # the machine the attempts run (a mutant's, in the mutation test)

    def __init__(self) -> None:
        super().__init__()
        self.sink: list[dict[str, Any]] = []
        self.intent = IntentOrders(INTENT, on_event=self.sink.append, table=self.table)
        self.refusals = 0
        self.venue: list[OrderVenueRecord] = []  # per attempt: what the venue did, accepted or not
        self.last: list[tuple[str, float, float]] = []  # per attempt: (state, filled, quantity) last seen
        self.delivered: list[tuple[int, str, float, float]] = []  # fills sent (replayed as duplicates)
        self.held: list[tuple[int, str, float, float]] = []  # fills delayed on the wire (reordering)
        self.sent: list[tuple[int, str]] = []  # reports already sent (duplicated later)
        self.rows_taken: set[tuple[str, str, str]] = set()
        self.trades = 0

    # --- checks of every outcome ----------------------------------------------------------------------------
    def _check(self, order: OrderTracker, event: str, out: OrderOutcome) -> None:
        """Every outcome: a spec row when accepted (a documented one out of a terminal state, never a terminal
        one by a transport error); otherwise unchanged, and each refusal emitted once."""
        assert out.event == event
        assert order.state == out.target
        if out.accepted:
            row = (out.source, event, out.target)
            assert row in SPEC_ROWS, out
            self.rows_taken.add(row)
            assert terminal_states_absorb(ORDER_TABLE, out.source, event, out.target) == []
            assert transport_errors_never_definitive(ORDER_TABLE, out) == []
        else:
            assert out.source == out.target
            if not out.duplicate:
                self.refusals += 1
                record = self.sink[-1]
                assert (record["reason"], record["trigger"]) == (out.refusal, event)
                assert record["state"] == out.source
                assert record["client_order_id"] == order.client_order_id
                if out.source in TERMINAL and not out.overfill:
                    assert out.stale

    def _deliver(self, idx: int, trade_id: str, qty: float, price: float) -> None:
        order = self.intent.orders[idx]
        self.venue[idx].fill(trade_id, qty)  # the venue sent it, whatever the tracker does with it
        before = order.filled_qty
        seen = order.has_trade(trade_id)
        out = order.fill(trade_id, qty, price)
        if seen:
            assert out.duplicate
            assert order.filled_qty == before
        elif out.accepted:
            self.delivered.append((idx, trade_id, qty, price))
            assert order.filled_qty == (order.quantity if out.target == "filled" else before + qty)
        else:
            self.delivered.append((idx, trade_id, qty, price))
            assert order.filled_qty == before
            assert not order.has_trade(trade_id)
            assert out.overfill == (before + qty > order.quantity * (1 + 1e-9))
        self._check(order, "fill", out)

    # --- actions (shared by the hypothesis rules and the seeded walk) ---------------------------------------
    def _pick(self, which: int) -> int:
        n = len(self.intent.orders)
        return n - 1 if which < 0 else which % n

    def _new_fill(self, idx: int, portion: float, price: float) -> tuple[int, str, float, float]:
        order = self.intent.orders[idx]
        open_qty = order.quantity - order.filled_qty
        qty = portion * open_qty if open_qty > 1e-6 else 0.1 * order.quantity
        self.trades += 1
        return (idx, f"T{self.trades}", qty, price)

    def _report(self, idx: int, event: str) -> None:
        order = self.intent.orders[idx]
        self.venue[idx].report(event)
        self._check(order, event, getattr(order, event)())
        self.sent.append((idx, event))

    def _reduce(self, idx: int, kept: float) -> None:
        order = self.intent.orders[idx]
        new_qty = order.filled_qty + kept * (order.quantity - order.filled_qty)
        if new_qty <= 0.0:
            new_qty = 0.5 * order.quantity
        self.venue[idx].report("qty_reduced")
        self._check(order, "qty_reduced", order.qty_reduced(new_qty))

    def _plausible(self, steps: int, choose: Choose[Any]) -> None:
        """Reports the spec accepts in the latest attempt's state; after a terminal one, a new attempt."""
        for _ in range(steps):
            idx = len(self.intent.orders) - 1
            order = self.intent.orders[idx]
            events = ACCEPTED_IN[order.state]
            if order.state in TERMINAL and (not events or choose((True, False))):
                self.new_order(choose(QTYS))
                continue
            event = choose(events)
            if event == "fill":
                self._deliver(*self._new_fill(idx, choose(PORTIONS), choose((99.5, 100.0, 101.0))))
            elif event == "qty_reduced":
                self._reduce(idx, choose(KEPT))
            else:
                self._report(idx, event)

    # --- rules ----------------------------------------------------------------------------------------------
    @initialize(qty=st.sampled_from(QTYS))
    def first_order(self, qty: float) -> None:
        self.new_order(qty)

    @rule(qty=st.sampled_from(QTYS))
    def new_order(self, qty: float) -> None:
        before = self.intent.orders
        if any(o.is_live for o in before):
            unknown = any(o.needs_lookup for o in before)
            with pytest.raises(OrderRuleError, match="unknown outcome" if unknown else "still live"):
                self.intent.new_order(qty)
            assert self.intent.orders == before
            assert unknown_resolved_before_resubmit(before, created=False) == []
            return
        order = self.intent.new_order(qty)
        assert unknown_resolved_before_resubmit(before, created=True) == []
        assert order.attempt == len(before)
        self.venue.append(OrderVenueRecord())
        self.last.append((order.state, 0.0, qty))

    @rule(event=st.sampled_from(REPORTS), which=WHICH)
    def report(self, event: str, which: int) -> None:
        self._report(self._pick(which), event)

    @rule(data=st.data(), steps=st.integers(1, 6))
    def plausible_reports(self, data: st.DataObject, steps: int) -> None:
        self._plausible(steps, lambda options: data.draw(st.sampled_from(options)))

    @rule(which=WHICH)
    def submit_and_lose_the_ack(self, which: int) -> None:
        idx = self._pick(which)
        self._report(idx, "submit")
        self._report(idx, "transport_error")

    @rule(found=st.booleans())
    def lookup(self, found: bool) -> None:
        for idx, order in enumerate(self.intent.orders):
            if order.needs_lookup:
                self._report(idx, "lookup_found" if found else "lookup_absent")

    @rule(which=WHICH, portion=PORTION, price=PRICE)
    def fill(self, which: int, portion: float, price: float) -> None:
        self._deliver(*self._new_fill(self._pick(which), portion, price))

    @rule(which=WHICH, portion=PORTION, price=PRICE)
    def delay_a_fill(self, which: int, portion: float, price: float) -> None:
        self.held.append(self._new_fill(self._pick(which), portion, price))

    @precondition(lambda self: bool(self.held))
    @rule(k=st.integers(0, 50))
    def deliver_a_delayed_fill(self, k: int) -> None:
        self._deliver(*self.held.pop(k % len(self.held)))

    @precondition(lambda self: bool(self.delivered))
    @rule(k=st.integers(0, 50))
    def replay_a_fill(self, k: int) -> None:
        self._deliver(*self.delivered[k % len(self.delivered)])

    @precondition(lambda self: bool(self.sent))
    @rule(k=st.integers(0, 50))
    def duplicate_a_report(self, k: int) -> None:
        idx, event = self.sent[k % len(self.sent)]
        self._report(idx, event)

    @rule(which=WHICH, kept=st.sampled_from(KEPT))
    def venue_reduces_quantity(self, which: int, kept: float) -> None:
        self._reduce(self._pick(which), kept)

    # --- invariants, after every step: the registered checkers against the venue's record -----------------
    @invariant()
    def one_live_order_per_intent(self) -> None:
        assert one_live_order(self.intent, MAX_LIVE) == []

    @invariant()
    def quantities_and_fills(self) -> None:
        for i, order in enumerate(self.intent.orders):
            record = self.venue[i]
            refusals = [r for r in self.sink if r["client_order_id"] == order.client_order_id]
            assert filled_qty_monotonic_and_bounded(order, self.last[i][1:]) == []
            assert trade_id_applied_once(order, record) == []
            assert venue_fills_never_lost(order, record, refusals) == []
        assert self.intent.filled_qty == pytest.approx(sum(o.filled_qty for o in self.intent.orders))

    @invariant()
    def every_refusal_was_emitted_once(self) -> None:
        assert len(self.sink) == self.refusals
        assert all(r["event"] == "order.transition_refused" and r["machine"] == "order" for r in self.sink)

    @invariant()
    def terminal_states_absorb(self) -> None:  # runs last: it records the state for the next step
        for i, order in enumerate(self.intent.orders):
            assert terminal_states_absorb(ORDER_TABLE, self.last[i][0], None, order.state) == []
            self.last[i] = (order.state, order.filled_qty, order.quantity)

    def check_all(self) -> None:
        """Every invariant, in the order above (the seeded walk calls this after each step)."""
        self.one_live_order_per_intent()
        self.quantities_and_fills()
        self.every_refusal_was_emitted_once()
        self.terminal_states_absorb()


OrderFaults.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestOrderFaults = OrderFaults.TestCase


def _walk_step(m: OrderFaults, rng: random.Random) -> None:
    which = rng.randint(-4, 6)
    kind = rng.randrange(11)
    if kind == 0:
        m.new_order(rng.choice(QTYS))
    elif kind == 1:
        m.report(rng.choice(REPORTS), which)
    elif kind in (2, 3, 4):
        m._plausible(rng.randint(1, 6), rng.choice)
    elif kind == 5:
        m.submit_and_lose_the_ack(which)
    elif kind == 6:
        m.lookup(rng.random() < 0.5)
    elif kind == 7:
        m.fill(which, rng.choice(PORTIONS), rng.uniform(1.0, 1000.0))
    elif kind == 8:
        m.delay_a_fill(which, rng.choice(PORTIONS), rng.uniform(1.0, 1000.0))
    elif kind == 9:
        if m.held:
            m.deliver_a_delayed_fill(rng.randrange(50))
        elif m.delivered:
            m.replay_a_fill(rng.randrange(50))
    elif m.sent and rng.random() < 0.5:
        m.duplicate_a_report(rng.randrange(50))
    else:
        m.venue_reduces_quantity(which, rng.choice(KEPT))


def walks(factory: Callable[[], OrderFaults], seed: int, count: int, steps: int) -> set[tuple[str, str, str]]:
    """``count`` seeded walks of ``steps`` steps, every invariant checked after each; the rows taken."""
    rng = random.Random(seed)
    taken: set[tuple[str, str, str]] = set()
    for _ in range(count):
        m = factory()
        m.first_order(rng.choice(QTYS))
        m.check_all()
        for _ in range(steps):
            _walk_step(m, rng)
            m.check_all()
        taken |= m.rows_taken
    return taken


def test_seeded_random_walks_take_every_spec_row() -> None:
    """Breadth: 300 seeded walks of 60 steps keep every invariant and take every row of the spec."""
    assert SPEC_ROWS - walks(OrderFaults, 20_260_601, 300, 60) == set()


def test_the_random_suite_finds_a_deleted_fill_row(tmp_path: Path) -> None:
    """The same walks on the table of a copy without ``triggered --fill[leaves_remainder]--> triggered``
    (spec and class alike): a partial fill after a trigger is refused, and the checkers comparing the
    trackers with the venue's record report it."""
    spec = load_spec(
        drop_row(copy_specs(tmp_path), "order", "triggered", "fill", "triggered", "leaves_remainder")
    )

    class Mutant(OrderFaults):
        table = compile_spec(spec)

    with pytest.raises(AssertionError, match=r"refused in \['triggered"):
        walks(Mutant, 20_260_601, 300, 60)


def test_the_checkers_see_a_fill_the_machine_refuses(tmp_path: Path) -> None:
    """With the row ``triggered --fill[leaves_remainder]--> triggered`` deleted (spec and class alike: the
    tracker runs the table compiled from the copy), a partial fill of the order a conditional became is
    refused. The venue's record still has it, so venue_fills_never_lost reports it; the real table applies
    it."""
    spec = load_spec(
        drop_row(copy_specs(tmp_path), "order", "triggered", "fill", "triggered", "leaves_remainder")
    )
    for table in (ORDER_TABLE, compile_spec(spec)):
        sink: list[dict[str, Any]] = []
        order = OrderTracker(INTENT, 1.0, on_event=sink.append, table=table)
        record = OrderVenueRecord()
        for event in ("submit", "ack", "trigger"):
            record.report(event)
            order.fire(event)
        record.fill("T1", 0.4)
        order.fill("T1", 0.4, 100.0)
        problems = venue_fills_never_lost(order, record, sink)
        if table is ORDER_TABLE:
            assert problems == []
            assert order.state == "triggered"
        else:
            assert problems == [
                f"{order.client_order_id}: fill T1 refused in ['triggered (guard_failed)'], but the venue "
                "had the order (submitted=True, denied=False)"
            ]


def test_a_fill_for_an_order_the_venue_never_had_may_be_refused() -> None:
    sink: list[dict[str, Any]] = []
    order = OrderTracker(INTENT, 1.0, on_event=sink.append)
    record = OrderVenueRecord()
    record.fill("T0", 0.5)  # before any submit
    order.fill("T0", 0.5, 100.0)
    for event in ("submit", "reject"):
        record.report(event)
        order.fire(event)
    record.fill("T1", 0.5)
    order.fill("T1", 0.5, 100.0)
    assert order.state == "rejected"
    assert venue_fills_never_lost(order, record, sink) == []
    assert venue_fills_never_lost(order, record, []) == [
        f"{order.client_order_id}: fill T0 was neither applied nor reported refused",
        f"{order.client_order_id}: fill T1 was neither applied nor reported refused",
    ]
