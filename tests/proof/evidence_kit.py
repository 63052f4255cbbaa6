"""Hand-made evidence for the run checkers: venue orders and trades, journal records. No tests here."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from eclipse.contracts import (
    FillRecorded,
    IntentCreated,
    IntentKind,
    JournalEvent,
    OrderAcked,
    OrderSubmitting,
)
from eclipse.execution.journal.store import JournalRecord
from eclipse.proof.evidence import RunEvidence, VenueTruth
from eclipse.venues.sim.model import OrderView, TradeView
from eclipse.venues.types import Fill, OrderStatus, OrderType, Side

SYM = "BTC/USDT:USDT"
KEY = "BTCUSDT"
ENTRY = "E-BTCUSDT-b-60000"


def order(
    oid: int,
    cid: str,
    *,
    side: Side = Side.BUY,
    type: OrderType = OrderType.MARKET,
    qty: str | None = "0.004",
    filled: str = "0",
    status: str = "FILLED",
    created: int = 60_000,
    updated: int | None = None,
    conditional: bool = False,
    triggered: int | None = None,
) -> OrderView:
    """One venue order."""
    return OrderView(
        order_id=oid,
        client_id=cid,
        symbol=KEY,
        side=side,
        type=type,
        status=status,
        qty=None if qty is None else Decimal(qty),
        price=None,
        trigger_price=Decimal("40000") if conditional else None,
        filled=Decimal(filled),
        cum_quote=Decimal(0),
        avg_price=Decimal(0),
        reduce_only=conditional,
        close_position=False,
        time_in_force=None,
        conditional=conditional,
        created_ms=created,
        updated_ms=created if updated is None else updated,
        triggered_order_id=triggered,
    )


def stop(
    oid: int,
    cid: str,
    *,
    created: int,
    updated: int | None = None,
    status: str = "NEW",
    qty: str = "0.004",
    side: Side = Side.SELL,
) -> OrderView:
    """A stop-loss (conditional) of ours."""
    return order(
        oid, cid, side=side, type=OrderType.STOP_MARKET, qty=qty, status=status, created=created,
        updated=updated, conditional=True,
    )  # fmt: skip


def trade(
    tid: int, oid: int, cid: str, *, side: Side = Side.BUY, qty: str = "0.004", ts: int = 60_000
) -> TradeView:
    """One venue trade."""
    return TradeView(
        trade_id=tid, order_id=oid, client_id=cid, symbol=KEY, side=side, price=Decimal("42000"),
        qty=Decimal(qty), quote_qty=Decimal(0), commission=Decimal(0), commission_asset="USDT",
        realized_pnl=Decimal(0), maker=False, ts_ms=ts,
    )  # fmt: skip


def records(*events: JournalEvent) -> tuple[JournalRecord, ...]:
    """Journal records of ``events`` in order."""
    return tuple(
        JournalRecord(i + 1, getattr(e, "ts_ms", 0), type(e).__name__, e) for i, e in enumerate(events)
    )


def submitted(
    cid: str, *, qty: str = "0.004", kind: IntentKind = IntentKind.ENTRY, ts: int = 60_000
) -> OrderSubmitting:
    """The journal's submit of ``cid``."""
    return OrderSubmitting(
        ts, ENTRY, cid, kind, SYM, Side.BUY, OrderType.MARKET, Decimal(qty), None, None, False, False, 1
    )


def intent(qty: str = "0.004") -> IntentCreated:
    """The entry intent."""
    return IntentCreated(60_000, ENTRY, IntentKind.ENTRY, SYM, Side.BUY, Decimal(qty), Decimal("42000"))


def acked(
    cid: str, oid: int, *, status: OrderStatus = OrderStatus.FILLED, filled: str = "0.004"
) -> OrderAcked:
    """The journal's ack of ``cid``."""
    return OrderAcked(60_000, cid, str(oid), status, Decimal(filled), Decimal("0.004"))


def fill(
    cid: str, tid: int, oid: int, *, qty: str = "0.004", side: Side = Side.BUY, ts: int = 60_000
) -> FillRecorded:
    """The journal's record of trade ``tid``."""
    f = Fill(
        str(tid),
        str(oid),
        SYM,
        side,
        Decimal("42000"),
        Decimal(qty),
        Decimal(0),
        "USDT",
        ts,
        client_order_id=cid,
    )
    return FillRecorded(ts, cid, f)


def evidence(
    orders: list[OrderView],
    trades: list[TradeView],
    journal: tuple[JournalRecord, ...] = (),
    *,
    position: str = "0",
    now: int = 600_000,
    telemetry: tuple[dict[str, object], ...] = (),
    **kw: object,
) -> RunEvidence:
    """Evidence of one run (T_protect 15 s, no slack, not settled unless given: the end-state checks off)."""
    truth = VenueTruth(tuple(orders), tuple(trades), {KEY: Decimal(position)}, now)
    kw.setdefault("settled", False)
    return replace(RunEvidence(journal, telemetry, truth), **kw)  # type: ignore[arg-type]
