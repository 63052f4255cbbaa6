"""Power loss: with ``synchronous=NORMAL`` for every record (``durable_submits=False``) a power loss may drop
the journal's unsynced tail, including the ``OrderSubmitting`` of an order the venue has. Model it by running
a flow with our deterministic client ids, deleting the rows with seq > N (for every N) from a copy of the
file, and recovering against the same venue: every venue order that is open or has fills must be known again
(adopted by client id), no fill lost or counted twice, the position equal to the venue's."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from eclipse.contracts import (
    EntryIntent,
    IntentCreated,
    IntentKind,
    JournalEvent,
    OrderRequest,
    OrderSubmitting,
    ProtectionEvent,
    ProtectionState,
)
from eclipse.execution.journal.recovery import ClientId, parse_client_id, recover
from eclipse.execution.journal.state import JournalState, OrderPhase
from eclipse.execution.journal.store import Journal
from eclipse.venues.types import OrderStatus, OrderType, Side

from .journal_kit import SYM, Driver, FaultyPaper, Steps, make_venue, no_sleep, venue_truth


def truncated_copy(src: Path, dst: Path, n: int) -> None:
    """``dst`` = ``src`` without the rows with seq > ``n`` (append-only triggers lifted for the cut)."""
    dst.unlink(missing_ok=True)
    with closing(sqlite3.connect(src)) as a, closing(sqlite3.connect(dst, isolation_level=None)) as b:
        a.backup(b)
        triggers = b.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
        b.execute("BEGIN")
        for name, _ in triggers:
            b.execute(f'DROP TRIGGER "{name}"')
        b.execute("DELETE FROM events WHERE seq > ?", (n,))
        for _, sql in triggers:
            b.execute(sql)
        b.execute("COMMIT")


class OurIds(Driver):
    """The kit's driver with the engine's client id formats: the order of client id ``c`` belongs to the
    intent ``self.intent[c]`` (the kit names it ``I-<c>``)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.intent: dict[str, str] = {}
        self.cids: list[str] = []
        self.conditional: set[str] = set()
        self.lose_answers = False
        """Entries and the first exit land but their answers are lost (OUTCOME_UNKNOWN, then a lookup)."""

    def j(self, event: JournalEvent) -> None:
        if isinstance(event, IntentCreated | OrderSubmitting) and event.intent_id.startswith("I-"):
            event = replace(event, intent_id=self.intent[event.intent_id[2:]])
        super().j(event)

    async def go(self, intent: str, cid: str, kind: IntentKind, side: Side, type_: OrderType, qty: str,
                 **kw: object) -> None:  # fmt: skip
        self.intent[cid] = intent
        self.cids.append(cid)
        if type_.conditional:
            self.conditional.add(cid)
        if self.lose_answers and (
            kind is IntentKind.ENTRY or (kind is IntentKind.EXIT and cid.endswith("-1"))
        ):
            assert isinstance(self.venue, FaultyPaper)
            self.venue.unknown_after.add(cid)
        await self.place(cid, kind, side, type_, qty, **kw)  # type: ignore[arg-type]

    async def script(self) -> None:
        """Entry, a refused entry, a resting limit entry, stop and take-profit (conditional), cancels, two
        exits, and a second stop left open."""
        t0 = self.clock.now_ms() // 60_000 * 60_000
        e = EntryIntent.make_id(SYM, Side.BUY, t0)
        await self.go(e, f"{e}-0", IntentKind.ENTRY, Side.BUY, OrderType.MARKET, "0.010")
        bad = EntryIntent.make_id(SYM, Side.BUY, t0 + 60_000)
        await self.go(bad, f"{bad}-0", IntentKind.ENTRY, Side.BUY, OrderType.MARKET, "0.0001")
        assert self.position is not None
        ref = self.position.avg_entry
        lim = EntryIntent.make_id(SYM, Side.BUY, t0 + 120_000)
        low = (ref * Decimal("0.95")).quantize(Decimal("0.1"))
        await self.go(lim, f"{lim}-0", IntentKind.ENTRY, Side.BUY, OrderType.LIMIT, "0.003", price=low)
        stop = (ref * Decimal("0.8")).quantize(Decimal("0.1"))
        take = (ref * Decimal("1.2")).quantize(Decimal("0.1"))
        sell = Side.SELL
        sl = OrderType.STOP_MARKET
        await self.go(e, f"{e}-sl-1", IntentKind.STOP_LOSS, sell, sl, "0.010", trigger=stop, reduce_only=True)
        self.j(ProtectionEvent(self.clock.now_ms(), SYM, ProtectionState.PLACED, f"{e}-sl-1"))
        await self.go(e, f"{e}-tp-1", IntentKind.TAKE_PROFIT, sell, OrderType.TAKE_PROFIT_MARKET, "0.010",
                      trigger=take, reduce_only=True)  # fmt: skip
        await self.cancel(f"{e}-tp-1", conditional=True)
        await self.cancel(f"{lim}-0")
        x = f"X-BTCUSDT-{self.position.opened_ms}"
        await self.go(x, f"{x}-1", IntentKind.EXIT, sell, OrderType.MARKET, "0.004", reduce_only=True)
        await self.cancel(f"{e}-sl-1", conditional=True)
        await self.go(e, f"{e}-sl-2", IntentKind.STOP_LOSS, sell, sl, "0.006", trigger=stop, reduce_only=True)
        await self.go(x, f"{x}-2", IntentKind.EXIT, sell, OrderType.MARKET, "0.003", reduce_only=True)


async def _check_against_venue(venue: FaultyPaper, j: Journal, d: OurIds) -> JournalState:
    state = JournalState.replay(j)
    assert state.duplicate_fills == 0
    assert state.anomalies == []
    raw = [rec.event.fill.trade_id for rec in j.records() if rec.name == "order.fill"]  # type: ignore[union-attr]
    assert len(raw) == len(set(raw)), "a fill was journaled twice"
    truth = await venue_truth(venue, d.cids, d.conditional)
    for cid, rep in truth.items():
        o = state.orders.get(cid)
        if rep is None:  # never landed: unknown, or resolved as rejected
            assert o is None or (o.phase, o.status, o.filled) == (
                OrderPhase.RESOLVED,
                OrderStatus.REJECTED,
                0,
            )
            continue
        if o is None:  # lost with the tail and not recoverable: only a terminal order with nothing filled
            assert rep.status.terminal, (cid, rep)
            assert rep.filled == 0, (cid, rep)
            continue
        assert (o.order_id, o.status, o.venue_filled, o.filled) == (rep.order_id, rep.status, rep.filled,
                                                                    rep.filled), (cid, o, rep)  # fmt: skip
        assert o.phase is (OrderPhase.RESOLVED if rep.status.terminal else OrderPhase.ACKED)
        assert o.intent_id == d.intent[cid]
        assert o.intent_id in state.intents
    assert {f.trade_id for f in await venue.fetch_fills(SYM)} == state.trade_ids(SYM)
    positions = await venue.fetch_positions()
    qty = sum((p.qty if p.side is Side.BUY else -p.qty for p in positions), Decimal(0))
    assert state.position_qty(SYM) == qty
    if state.positions:
        assert state.reported_positions[SYM].qty == qty
    return state


@pytest.mark.parametrize("unknown", [False, True], ids=["acked", "outcome-unknown"])
def test_power_loss_at_every_seq_is_recovered_from_the_venue(tmp_path: Path, unknown: bool) -> None:
    async def go() -> None:
        venue, clock = make_venue()
        full = tmp_path / "full.db"
        with Journal.open(full, durable_submits=False) as j:
            d = OurIds(j, venue, clock, Steps())
            d.lose_answers = unknown
            await d.script()
            total = j.last_seq()
            assert j.durable_commits == 0
        assert len(venue.unknown_after) == (4 if unknown else 0)
        open_conditional = await venue.fetch_open_orders(SYM, conditional=True)
        assert [o.client_order_id for o in open_conditional] == [d.cids[-2]]  # the second stop rests
        adopted_any = from_fills = 0
        for n in range(total + 1):
            cut = tmp_path / f"cut-{n}.db"
            truncated_copy(full, cut, n)
            clock.advance(1.0)
            calls = len(venue.calls)
            with Journal.open(cut, durable_submits=False) as j:
                assert j.last_seq() == n
                report = await recover(j, venue, clock, sleep=no_sleep)
                assert not {"create_order", "cancel_order"} & set(venue.calls[calls:])  # reads only
                assert report.clean, (n, report)
                assert report.foreign_orders == ()
                state = await _check_against_venue(venue, j, d)
                assert d.cids[-2] in state.orders  # the open stop is always known again
                adopted_any += bool(report.adopted)
                from_fills += any(a.found_by == "fills" for a in report.adopted)
                assert set(report.summary().adopted_orders) == {a.client_order_id for a in report.adopted}
                for a in report.adopted:
                    sub = next(
                        r.event for r in j.records() if isinstance(r.event, OrderSubmitting)
                        and r.event.client_order_id == a.client_order_id
                    )  # fmt: skip
                    assert sub.recovered
                seq = j.last_seq()
                again = await recover(j, venue, clock, sleep=no_sleep)
                assert j.last_seq() == seq, (n, again)
                assert again.adopted == ()
                assert again.fills_added == ()
                assert again.clean
                assert JournalState.replay(j) == state
        assert adopted_any > total // 2
        assert from_fills > 5  # terminal orders found through their fills, not only open ones

    asyncio.run(go())


def test_client_id_formats() -> None:
    e = EntryIntent.make_id(SYM, Side.SELL, 1_700_000_040_000)
    assert parse_client_id(f"{e}-0") == ClientId(e, IntentKind.ENTRY, "BTCUSDT", Side.SELL)
    assert parse_client_id(f"{e}-0.r3") == ClientId(e, IntentKind.ENTRY, "BTCUSDT", Side.SELL)
    assert parse_client_id(f"{e}-sl-2") == ClientId(e, IntentKind.STOP_LOSS, "BTCUSDT", Side.SELL)
    assert parse_client_id(f"{e}-tp-1.r1") == ClientId(e, IntentKind.TAKE_PROFIT, "BTCUSDT", Side.SELL)
    p = "P-ETHUSDT-1700000000000"
    assert parse_client_id(f"{p}-sl-1") == ClientId(p, IntentKind.STOP_LOSS, "ETHUSDT", None)
    x = "X-BTCUSDT-1700000000123"
    assert parse_client_id(f"{x}-4") == ClientId(x, IntentKind.EXIT, "BTCUSDT", None)
    cid = parse_client_id(f"{x}-4")
    assert cid is not None
    assert cid.matches(SYM)
    assert not cid.matches("ETH/USDT:USDT")
    for foreign in (None, "", "manual-1", "ecl-e1", f"{e}", f"{e}-x-1", f"{x}", "E-BTC-USDT-b-1-0", f"{p}-2"):
        assert parse_client_id(foreign) is None, foreign


def test_foreign_open_orders_are_reported_not_adopted(tmp_path: Path) -> None:
    async def go() -> None:
        venue, clock = make_venue()
        low = Decimal(20_000)
        await venue.create_order(
            OrderRequest(SYM, Side.BUY, OrderType.LIMIT, Decimal("0.006"), "manual-1", low)
        )
        e = EntryIntent.make_id("ETH/USDT:USDT", Side.BUY, 1)  # our format, wrong symbol: not ours
        await venue.create_order(
            OrderRequest(SYM, Side.BUY, OrderType.LIMIT, Decimal("0.006"), f"{e}-0", low)
        )
        ours = EntryIntent.make_id(SYM, Side.BUY, 2)
        await venue.create_order(
            OrderRequest(SYM, Side.BUY, OrderType.LIMIT, Decimal("0.006"), f"{ours}-0", low)
        )
        clock.advance(1)
        with Journal.open(tmp_path / "j.db") as j:
            j.append(IntentCreated(clock.now_ms(), "I-x", IntentKind.ENTRY, SYM, Side.BUY, None, low))
            report = await recover(j, venue, clock, sleep=no_sleep)
            assert [a.client_order_id for a in report.adopted] == [f"{ours}-0"]
            assert report.adopted[0].found_by == "open_orders"
            assert report.live == (f"{ours}-0",)
            assert report.foreign_orders == (f"{SYM} {e}-0", f"{SYM} manual-1")
            assert report.clean
            assert not report.summary().clean  # the engine-wide summary flags the adoption
            state = JournalState.replay(j)
            assert set(state.orders) == {f"{ours}-0"}
            assert state.intents[ours].kind is IntentKind.ENTRY
            assert state.intents[ours].side is Side.BUY

    asyncio.run(go())
