"""Property tests of the order trackers: random sequences of venue reports and faults (duplicated reports,
reordered and replayed fills, lost acks, lookups, cancels, venue quantity reductions, new attempts) drive an
IntentOrders; the spec's invariants are checked after every step.

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

from eclipse.machines.order import IntentOrders, OrderOutcome, OrderRuleError, OrderTracker, client_order_id
from eclipse.machines.spec import find_spec_dir, load_spec

SPEC = load_spec(find_spec_dir(Path(__file__)) / "order.toml")
SPEC_ROWS = {(r.source, r.event, r.target) for r in SPEC.rows}
TERMINAL = SPEC.terminal
REPORTS = tuple(e for e in SPEC.events if e not in ("fill", "qty_reduced"))
LATE_FILL_ROWS = {(s, "fill", t) for s in ("canceled", "expired") for t in (s, "filled")} | {
    ("canceled", "qty_reduced", t) for t in ("canceled", "filled")
}  # the documented late-fill and late-reduction rows out of terminal states
ACCEPTED_IN = {s: sorted({r.event for r in SPEC.rows if r.source == s}) for s in SPEC.states}
INTENT = "intent-prop"

# The spec's invariants enforced by the "property" suite, and the OrderFaults methods that check each.
PROPERTY_CHECKS = {
    "one_live_order_per_intent": ("one_live_order_and_deterministic_ids", "new_order"),
    "filled_qty_monotonic_and_bounded": ("quantities", "_deliver"),
    "trade_id_applied_once": ("quantities", "_deliver"),
    "terminal_states_absorb": ("terminal_states_absorb", "_check"),
    "unknown_resolved_before_resubmit": ("new_order", "one_live_order_and_deterministic_ids"),
    "transport_errors_never_definitive": ("_check",),
}

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

    def __init__(self) -> None:
        super().__init__()
        self.sink: list[dict[str, Any]] = []
        self.intent = IntentOrders(INTENT, on_event=self.sink.append)
        self.refusals = 0
        self.applied: list[list[str]] = []  # per attempt: trade ids accepted, in order
        self.last: list[tuple[str, float, float]] = []  # per attempt: (state, filled, quantity) last seen
        self.delivered: list[tuple[int, str, float, float]] = []  # accepted fills (replayed as duplicates)
        self.held: list[tuple[int, str, float, float]] = []  # fills delayed on the wire (reordering)
        self.sent: list[tuple[int, str]] = []  # reports already sent (duplicated later)
        self.rows_taken: set[tuple[str, str, str]] = set()
        self.trades = 0

    # --- checks of every outcome ----------------------------------------------------------------------------
    def _check(self, order: OrderTracker, event: str, out: OrderOutcome) -> None:
        """Every outcome: a spec row when accepted; otherwise unchanged, and each refusal emitted once."""
        assert out.event == event
        assert order.state == out.target
        if out.accepted:
            row = (out.source, event, out.target)
            assert row in SPEC_ROWS, out
            self.rows_taken.add(row)
            if out.source in TERMINAL:
                assert row in LATE_FILL_ROWS
            if event == "transport_error":
                assert out.target not in TERMINAL
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
        before = order.filled_qty
        seen = order.has_trade(trade_id)
        out = order.fill(trade_id, qty, price)
        if seen:
            assert out.duplicate
            assert order.filled_qty == before
        elif out.accepted:
            assert trade_id not in self.applied[idx]
            self.applied[idx].append(trade_id)
            self.delivered.append((idx, trade_id, qty, price))
            assert order.filled_qty == (order.quantity if out.target == "filled" else before + qty)
        else:
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
        self._check(order, event, getattr(order, event)())
        self.sent.append((idx, event))

    def _reduce(self, idx: int, kept: float) -> None:
        order = self.intent.orders[idx]
        new_qty = order.filled_qty + kept * (order.quantity - order.filled_qty)
        if new_qty <= 0.0:
            new_qty = 0.5 * order.quantity
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
            return
        assert not any(o.needs_lookup for o in before)
        order = self.intent.new_order(qty)
        assert order.attempt == len(before)
        self.applied.append([])
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
        order = self.intent.orders[idx]
        self._check(order, event, getattr(order, event)())

    @rule(which=WHICH, kept=st.sampled_from(KEPT))
    def venue_reduces_quantity(self, which: int, kept: float) -> None:
        self._reduce(self._pick(which), kept)

    # --- invariants, after every step -----------------------------------------------------------------------
    @invariant()
    def one_live_order_and_deterministic_ids(self) -> None:
        orders = self.intent.orders
        assert sum(o.is_live for o in orders) <= 1
        assert not any(o.is_live for o in orders[:-1])  # every older attempt ended (unknown ones by a lookup)
        for i, order in enumerate(orders):
            assert order.attempt == i
            assert order.client_order_id == client_order_id(INTENT, i)
            assert self.intent.get(order.client_order_id) is order
        assert len({o.client_order_id for o in orders}) == len(orders)

    @invariant()
    def quantities(self) -> None:
        for i, order in enumerate(self.intent.orders):
            _, filled, quantity = self.last[i]
            assert filled <= order.filled_qty <= order.quantity <= quantity  # monotonic, bounded, shrinks
            if order.state == "filled":
                assert order.filled_qty == order.quantity
            assert len(self.applied[i]) == len(set(self.applied[i])) == len(order.trade_ids)
            assert set(self.applied[i]) == order.trade_ids
        assert self.intent.filled_qty == pytest.approx(sum(o.filled_qty for o in self.intent.orders))

    @invariant()
    def every_refusal_was_emitted_once(self) -> None:
        assert len(self.sink) == self.refusals
        assert all(r["event"] == "order.transition_refused" and r["machine"] == "order" for r in self.sink)

    @invariant()
    def terminal_states_absorb(self) -> None:  # runs last: it records the state for the next step
        for i, order in enumerate(self.intent.orders):
            state = self.last[i][0]
            if state in TERMINAL and order.state != state:
                assert any((state, ev, order.state) in LATE_FILL_ROWS for ev in ("fill", "qty_reduced"))
            self.last[i] = (order.state, order.filled_qty, order.quantity)

    def check_all(self) -> None:
        """Every invariant, in the order above (the seeded walk calls this after each step)."""
        self.one_live_order_and_deterministic_ids()
        self.quantities()
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


def test_seeded_random_walks_take_every_spec_row() -> None:
    """Breadth: 300 seeded walks of 60 steps keep every invariant and take every row of the spec."""
    rng = random.Random(20_260_601)
    taken: set[tuple[str, str, str]] = set()
    for _ in range(300):
        m = OrderFaults()
        m.first_order(rng.choice(QTYS))
        m.check_all()
        for _ in range(60):
            _walk_step(m, rng)
            m.check_all()
        taken |= m.rows_taken
    assert SPEC_ROWS - taken == set()


def test_every_property_invariant_of_the_spec_has_a_check() -> None:
    wanted = {i.name for i in SPEC.invariants if "property" in i.suites}
    assert wanted <= set(PROPERTY_CHECKS), f"no property check for {sorted(wanted - set(PROPERTY_CHECKS))}"
    assert all(hasattr(OrderFaults, name) for names in PROPERTY_CHECKS.values() for name in names)
