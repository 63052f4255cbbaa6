"""Factories shared by the entry-path tests (intents, markets, positions, telemetry). No tests here."""

from __future__ import annotations

from decimal import Decimal

from eclipse.clock import SimClock
from eclipse.contracts import EntryIntent, PositionSnapshot, Side
from eclipse.telemetry import MemorySink, Telemetry
from eclipse.venues.types import Market, MarketKind

T0 = 1_700_000_000_000


def telemetry(clock: SimClock | None = None) -> tuple[Telemetry, MemorySink, SimClock]:
    """A telemetry writing into memory, with its clock."""
    clock = clock or SimClock(T0)
    sink = MemorySink()
    return Telemetry(sink, clock), sink, clock


def intent(
    symbol: str = "BTCUSDT",
    side: Side = Side.BUY,
    confidence: float = 0.8,
    price: str = "100",
    bar_close_ms: int = T0,
) -> EntryIntent:
    """An entry intent with a deterministic id."""
    return EntryIntent(
        intent_id=EntryIntent.make_id(symbol, side, bar_close_ms),
        symbol=symbol,
        side=side,
        bar_close_ms=bar_close_ms,
        confidence=confidence,
        ref_price=Decimal(price),
    )


def market(
    symbol: str = "BTCUSDT",
    step: str = "0.001",
    min_qty: str = "0.001",
    min_notional: str = "5",
    max_qty: str | None = None,
    active: bool = True,
) -> Market:
    """A linear perpetual with the given filters."""
    return Market(
        symbol=symbol,
        venue_symbol=symbol,
        base=symbol.removesuffix("USDT"),
        quote="USDT",
        kind=MarketKind.LINEAR,
        tick_size=Decimal("0.01"),
        step_size=Decimal(step),
        min_qty=Decimal(min_qty),
        max_qty=None if max_qty is None else Decimal(max_qty),
        min_notional=Decimal(min_notional),
        settle="USDT",
        active=active,
    )


def pos(symbol: str, qty: str, price: str = "100", mark: str | None = None) -> PositionSnapshot:
    """An open position (signed qty)."""
    return PositionSnapshot(
        symbol=symbol,
        qty=Decimal(qty),
        avg_entry=Decimal(price),
        realized_pnl=Decimal(0),
        fees=Decimal(0),
        opened_ms=T0,
        updated_ms=T0,
        mark=None if mark is None else Decimal(mark),
    )
