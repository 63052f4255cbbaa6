"""Contracts: deterministic intent ids, risk-reducing kinds, the venue request a router request becomes."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from eclipse.contracts import (
    EVENT_TYPES,
    EntryIntent,
    IntentKind,
    PositionSnapshot,
    RouterRequest,
)
from eclipse.venues.types import OrderType, Side


def test_entry_intent_ids_are_deterministic_per_symbol_side_and_bar() -> None:
    a = EntryIntent.make_id("BTC/USDT:USDT", Side.BUY, 1_641_000_060_000)
    assert a == EntryIntent.make_id("BTC/USDT:USDT", Side.BUY, 1_641_000_060_000)
    assert a != EntryIntent.make_id("BTC/USDT:USDT", Side.SELL, 1_641_000_060_000)
    assert a != EntryIntent.make_id("BTC/USDT:USDT", Side.BUY, 1_641_000_120_000)
    assert len(a + "-sl-9") <= 36  # fits Binance's client order id limit with a suffix


def test_only_entries_add_risk() -> None:
    assert [k for k in IntentKind if not k.reduces_risk] == [IntentKind.ENTRY]


def test_router_request_becomes_the_venue_order_and_is_frozen() -> None:
    req = RouterRequest(
        "E-1", IntentKind.STOP_LOSS, "BTC/USDT:USDT", Side.SELL, OrderType.STOP_MARKET, Decimal("0.01"),
        "E-1-sl-0", Decimal(40_000), trigger_price=Decimal(39_000), reduce_only=True,
    )  # fmt: skip
    venue = req.venue_request()
    assert (venue.client_order_id, venue.trigger_price, venue.reduce_only) == (
        "E-1-sl-0",
        Decimal(39_000),
        True,
    )
    assert req.notional == Decimal(400)
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.qty = Decimal(1)  # type: ignore[misc]


def test_position_snapshot_pnl_and_side() -> None:
    short = PositionSnapshot(
        "X", Decimal("-2"), Decimal(100), Decimal(0), Decimal("0.1"), 0, 0, mark=Decimal(90)
    )
    assert short.side is Side.SELL
    assert short.unrealized_pnl == Decimal(20)
    assert PositionSnapshot("X", Decimal(0), Decimal(0), Decimal(0), Decimal(0), None, 0).side is None


def test_every_journal_event_is_a_frozen_dataclass_with_a_timestamp() -> None:
    for name, cls in EVENT_TYPES.items():
        assert dataclasses.is_dataclass(cls), name
        assert "ts_ms" in {f.name for f in dataclasses.fields(cls)}, name
