"""Replay: codec round trips, the fold of each event, fills counted once, positions from fills, and the
hypothesis property that any interleaving of appends, replays and catch-ups gives one and the same state."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eclipse.contracts import (
    CancelRecorded,
    Fill,
    FillRecorded,
    IntentCreated,
    IntentKind,
    JournalEvent,
    KnobChanged,
    OrderAcked,
    OrderResolved,
    OrderSubmitting,
    OrderUnknown,
    PositionChanged,
    PositionSnapshot,
    PostureChanged,
    ProtectionEvent,
    ProtectionState,
)
from eclipse.execution.journal.codec import CodecError, decode_event, encode_event
from eclipse.execution.journal.state import JournalState, OrderPhase, apply_fill
from eclipse.execution.journal.store import Journal, JournalRecord
from eclipse.venues.errors import VenueErrorKind
from eclipse.venues.types import OrderStatus, OrderType, Side

SYM = "BTC/USDT:USDT"
CIDS = ("c-1", "c-2", "c-3")

decimals = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(100_000), places=3, allow_nan=False)
ts = st.integers(0, 2**40)


def submitting(
    cid: str, ts_ms: int = 1, qty: str = "0.01", type_: OrderType = OrderType.MARKET
) -> OrderSubmitting:
    return OrderSubmitting(
        ts_ms, "I-1", cid, IntentKind.ENTRY, SYM, Side.BUY, type_, Decimal(qty), None, None, False, False, 0
    )


def fill(tid: str, side: Side, qty: str, price: str, cid: str = "c-1", fee: str = "0.1") -> Fill:
    return Fill(
        tid, "o-1", SYM, side, Decimal(price), Decimal(qty), Decimal(fee), "USDT", 10, client_order_id=cid
    )


fills = st.builds(
    Fill,
    trade_id=st.sampled_from(["t1", "t2", "t3", "t4"]),
    order_id=st.just("o-1"),
    symbol=st.just(SYM),
    side=st.sampled_from(Side),
    price=decimals,
    qty=decimals,
    fee=decimals,
    fee_asset=st.just("USDT"),
    ts_ms=ts,
    maker=st.booleans(),
    realized_pnl=decimals,
    client_order_id=st.sampled_from(CIDS) | st.none(),
)
events: st.SearchStrategy[JournalEvent] = st.one_of(
    st.builds(
        IntentCreated, ts, st.sampled_from(["I-1", "I-2"]), st.sampled_from(IntentKind), st.just(SYM),
        st.sampled_from(Side), decimals | st.none(), decimals, st.floats(0, 1),
    ),
    st.builds(
        OrderSubmitting, ts, st.just("I-1"), st.sampled_from(CIDS), st.sampled_from(IntentKind), st.just(SYM),
        st.sampled_from(Side), st.sampled_from(OrderType), decimals | st.none(), decimals | st.none(),
        decimals | st.none(), st.booleans(), st.booleans(), st.integers(0, 3),
    ),
    st.builds(OrderAcked, ts, st.sampled_from(CIDS), st.just("o-1"), st.sampled_from(OrderStatus), decimals),
    st.builds(OrderUnknown, ts, st.sampled_from(CIDS), st.sampled_from(VenueErrorKind), st.text(max_size=8)),
    st.builds(
        OrderResolved, ts, st.sampled_from(CIDS), st.sampled_from(OrderStatus),
        st.sampled_from(VenueErrorKind) | st.none(), st.integers(-3000, 0) | st.text(max_size=5) | st.none(),
        st.text(max_size=8), decimals | st.none(),
    ),
    st.builds(FillRecorded, ts, st.sampled_from(CIDS), fills),
    st.builds(CancelRecorded, ts, st.sampled_from(CIDS), st.booleans()),
    st.builds(
        PositionChanged, ts,
        st.builds(PositionSnapshot, st.just(SYM), decimals, decimals, decimals, decimals, ts | st.none(), ts),
    ),
    st.builds(
        ProtectionEvent, ts, st.just(SYM), st.sampled_from(ProtectionState), st.sampled_from(CIDS) | st.none()
    ),
    st.builds(KnobChanged, ts, st.sampled_from(["a", "b"]), st.text(max_size=4), st.text(max_size=4)),
    st.builds(PostureChanged, ts, st.text(max_size=4), st.text(max_size=4), st.text(max_size=4)),
)  # fmt: skip


@given(events)
def test_every_event_round_trips_through_json(event: JournalEvent) -> None:
    name, payload = encode_event(event)
    back = decode_event(name, payload)
    assert back == event
    assert type(back) is type(event)


ACK = '{"ts_ms":1,"client_order_id":"c","order_id":"o",'
RES = '{"ts_ms":1,"client_order_id":"c","status":"rejected",'


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("order.nope", "{}", "unknown journal event"),
        ("posture.changed", "[1", "not JSON"),
        ("posture.changed", '{"ts_ms": 1, "old": "a"}', "field 'new' of PostureChanged is missing"),
        ("posture.changed", '{"ts_ms": "1", "old": "a", "new": "b"}', "expected int"),
        ("posture.changed", '{"ts_ms": 1, "old": "a", "new": "b", "x": 1}', "unknown fields"),
        ("order.cancel", '{"ts_ms": 1, "client_order_id": "c", "requested": 1}', "expected bool"),
        ("order.acked", ACK + '"status":"open","filled":0.1}', "decimal"),
        ("order.acked", ACK + '"status":"gone","filled":"1"}', "OrderStatus"),
        ("order.resolved", RES + '"error_code":[]}', "none of"),
    ],
)  # fmt: skip
def test_payloads_that_do_not_fit_their_record_are_refused(name: str, payload: str, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        decode_event(name, payload)


class ListSource:
    """An in-memory journal (to check the fold without SQLite)."""

    def __init__(self, evs: list[JournalEvent]) -> None:
        self.path = Path("mem")
        self.recs = [JournalRecord(i + 1, e.ts_ms, encode_event(e)[0], e) for i, e in enumerate(evs)]

    def records(self, after_seq: int = 0):  # type: ignore[no-untyped-def]
        return iter(self.recs[after_seq:])


def test_order_lifecycle_is_folded_by_client_id() -> None:
    evs: list[JournalEvent] = [
        submitting("c-1"),
        OrderUnknown(2, "c-1", VenueErrorKind.OUTCOME_UNKNOWN, "timeout"),
        OrderAcked(3, "c-1", "o-1", OrderStatus.PARTIALLY_FILLED, Decimal("0.004")),
        OrderUnknown(4, "c-1", VenueErrorKind.OUTCOME_UNKNOWN, "late"),  # never demotes a known answer
        FillRecorded(5, "c-1", fill("t1", Side.BUY, "0.004", "100")),
        FillRecorded(6, "c-1", fill("t1", Side.BUY, "0.004", "100")),  # duplicate trade id
        CancelRecorded(7, "c-1", True),
        OrderResolved(8, "c-1", OrderStatus.CANCELED, filled=Decimal("0.004")),
        submitting("c-2"),
        OrderResolved(9, "c-2", OrderStatus.REJECTED, VenueErrorKind.INSUFFICIENT_FUNDS, -2019),
        submitting("c-3", type_=OrderType.STOP_MARKET),
        OrderAcked(10, "c-4", "o-9", OrderStatus.OPEN, Decimal(0)),  # never submitted
        KnobChanged(11, "min_confidence", "0.5", "0.6"),
        PostureChanged(12, "normal", "cautious"),
        ProtectionEvent(13, SYM, ProtectionState.MISSING),
    ]
    s = JournalState.replay(ListSource(evs))
    c1, c2, c3 = s.orders["c-1"], s.orders["c-2"], s.orders["c-3"]
    assert (c1.phase, c1.status, c1.order_id, c1.filled, c1.fills) == (
        OrderPhase.RESOLVED, OrderStatus.CANCELED, "o-1", Decimal("0.004"), 1,
    )  # fmt: skip
    assert c1.cancel_requested
    assert c1.fills_complete
    assert (c2.phase, c2.status, c2.venue_filled, c2.error_kind) == (
        OrderPhase.RESOLVED, OrderStatus.REJECTED, Decimal(0), VenueErrorKind.INSUFFICIENT_FUNDS,
    )  # fmt: skip
    assert c3.phase is OrderPhase.SUBMITTING
    assert c3.conditional
    assert [o.client_order_id for o in s.in_flight()] == ["c-3"]
    assert s.duplicate_fills == 1
    assert s.anomalies == ["seq 12: OrderAcked for unknown client id c-4"]
    assert s.knobs == {"min_confidence": "0.6"}
    assert s.posture == "cautious"
    assert s.protection[SYM].state is ProtectionState.MISSING
    assert s.position_qty(SYM) == Decimal("0.004")


def test_positions_from_fills_average_realize_flip_and_flatten() -> None:
    p = apply_fill(None, fill("1", Side.BUY, "1", "100"))
    p = apply_fill(p, fill("2", Side.BUY, "3", "200"))
    assert (p.qty, p.avg_entry, p.opened_ms) == (Decimal(4), Decimal(175), 10)
    p = apply_fill(p, fill("3", Side.SELL, "1", "275"))
    assert (p.qty, p.avg_entry, p.realized_pnl) == (Decimal(3), Decimal(175), Decimal(100))
    p = apply_fill(p, fill("4", Side.SELL, "5", "75"))  # closes 3 at a loss of 300, opens 2 short at 75
    assert (p.qty, p.avg_entry, p.realized_pnl) == (Decimal(-2), Decimal(75), Decimal(-200))
    p = apply_fill(p, fill("5", Side.BUY, "2", "50"))  # short profits 50
    assert (p.qty, p.avg_entry, p.realized_pnl, p.opened_ms) == (Decimal(0), Decimal(0), Decimal(-150), None)
    assert p.fees == Decimal("0.5")
    assert p.side is None


ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.lists(events, min_size=1, max_size=4)),
        st.tuples(st.just("replay"), st.none()),
        st.tuples(st.just("catch_up"), st.none()),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_any_interleaving_of_appends_and_replays_gives_the_same_state(
    script: list[tuple[str, list[JournalEvent] | None]],
) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "j.db"
        appended: list[JournalEvent] = []
        incremental = JournalState()
        with Journal.open(path) as j:
            for op, batch in script:
                if op == "append":
                    assert batch is not None
                    j.append_many(batch)
                    appended.extend(batch)
                    continue
                if op == "catch_up":
                    incremental.catch_up(j)
                    incremental.catch_up(j)  # a second catch-up applies nothing
                    continue
                full = JournalState.replay(j)
                assert full == JournalState.replay(j)  # deterministic
                incremental.catch_up(j)
                assert incremental == full  # incremental catch-ups == one full replay
                with Journal.open_reader(path) as r:
                    assert JournalState.replay(r) == full  # a reader sees the same journal
                assert full == JournalState.replay(ListSource(appended))  # == the fold of what was appended
                assert len({k for k in full.fills}) == len(full.fills)
                for rec in j.records():  # re-applying old records changes nothing
                    assert full.apply(rec) == 0
                assert full == incremental


def _fold(*events: JournalEvent) -> JournalState:
    state = JournalState()
    for i, ev in enumerate(events):
        state.apply(JournalRecord(i + 1, 1, type(ev).__name__, ev))
    return state


def test_fills_that_complete_an_acked_order_end_it() -> None:
    """Simulation seed 1: an entry completed by two partial fills stayed in flight in the journal."""
    ack = OrderAcked(1, "c-1", "7", OrderStatus.PARTIALLY_FILLED, Decimal("0.005"), Decimal("0.01"))
    part = FillRecorded(1, "c-1", fill("t1", Side.BUY, "0.005", "100"))
    state = _fold(submitting("c-1"), ack, part)
    assert state.orders["c-1"].phase is OrderPhase.ACKED
    state = _fold(submitting("c-1"), ack, part, FillRecorded(2, "c-1", fill("t2", Side.BUY, "0.005", "100")))
    o = state.orders["c-1"]
    assert (o.phase, o.status, o.venue_filled) == (OrderPhase.RESOLVED, OrderStatus.FILLED, Decimal("0.01"))
    assert state.in_flight() == []


def test_a_fill_never_ends_an_order_the_venue_has_not_acknowledged() -> None:
    state = _fold(submitting("c-1"), FillRecorded(1, "c-1", fill("t1", Side.BUY, "0.01", "100")))
    assert state.orders["c-1"].phase is OrderPhase.SUBMITTING


def test_the_venues_quantity_in_an_ack_is_the_orders() -> None:
    """Simulation seed 9: the venue shrank a reduce-only order; its fills of the shrunk qty complete it."""
    ack = OrderAcked(1, "c-1", "7", OrderStatus.OPEN, Decimal(0), Decimal("0.004"))
    state = _fold(submitting("c-1"), ack, FillRecorded(2, "c-1", fill("t1", Side.BUY, "0.004", "100")))
    o = state.orders["c-1"]
    assert (o.qty, o.phase) == (Decimal("0.004"), OrderPhase.RESOLVED)
