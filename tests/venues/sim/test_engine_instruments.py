"""Instrument specs the engine trades: the BTCUSDT defaults, the guess rule for other data files, and the
leverage brackets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from eclipse.venues.sim.instruments import (
    FUTURES_BTCUSDT,
    SPOT_BTCUSDT,
    bracket_for,
    default_instruments,
    guess_instrument,
    leverage_brackets,
    max_notional_for,
)
from eclipse.venues.types import MarketKind

D = Decimal


def test_defaults_are_binance_btcusdt() -> None:
    fut = default_instruments(MarketKind.LINEAR)["BTCUSDT"]
    assert fut is FUTURES_BTCUSDT
    assert (fut.tick_size, fut.step_size, fut.min_qty, fut.max_qty) == (
        D("0.1"),
        D("0.001"),
        D("0.001"),
        D(1000),
    )
    assert (fut.min_notional, fut.price_precision, fut.qty_precision, fut.max_leverage) == (D(100), 2, 3, 125)
    spot = default_instruments(MarketKind.SPOT)["BTCUSDT"]
    assert spot is SPOT_BTCUSDT
    assert (spot.tick_size, spot.step_size, spot.max_qty, spot.min_notional) == (
        D("0.01"), D("0.00001"), D(9000), D(5)
    )  # fmt: skip


@pytest.mark.parametrize(
    ("symbol", "base", "quote", "kind", "price", "tick", "step", "notional", "max_qty"),
    [
        ("XRPUSDT", "XRP", "USDT", MarketKind.LINEAR, "1.19", "0.00001", "0.1", "5", "10000000"),
        ("ALTBTC", "ALT", "BTC", MarketKind.SPOT, "0.0016", "0.00000001", "0.001", "0.0001", "10000000000"),
        ("BTCUSDT", "BTC", "USDT", MarketKind.SPOT, "46319", "0.1", "0.00001", "5", "1000"),
        ("SHIBUSDT", "SHIB", "USDT", MarketKind.SPOT, "0.00001", "0.00000001", "1", "5", "1000000000000"),
    ],
)
def test_guess_picks_tick_and_step_from_the_price_scale(
    symbol: str,
    base: str,
    quote: str,
    kind: MarketKind,
    price: str,
    tick: str,
    step: str,
    notional: str,
    max_qty: str,
) -> None:
    spec = guess_instrument(symbol, base, quote, kind, D(price))
    assert (spec.tick_size, spec.step_size, spec.min_qty) == (D(tick), D(step), D(step))
    assert (spec.min_notional, spec.max_qty) == (D(notional), D(max_qty))
    assert spec.price_precision == -D(tick).normalize().as_tuple().exponent  # type: ignore[operator]
    assert spec.kind is kind
    assert spec.max_leverage == (50 if kind is MarketKind.LINEAR else 1)


def test_guess_refuses_an_unknown_quote_or_a_bad_price() -> None:
    with pytest.raises(ValueError, match="no min notional rule for quote 'EUR'"):
        guess_instrument("BTCEUR", "BTC", "EUR", MarketKind.SPOT, 40_000.0)
    assert (
        guess_instrument("BTCEUR", "BTC", "EUR", MarketKind.SPOT, 40_000.0, min_notional=D(10)).min_notional
        == 10
    )
    with pytest.raises(ValueError, match="must be > 0"):
        guess_instrument("X", "X", "USDT", MarketKind.SPOT, 0.0)


def test_brackets_follow_binance_btcusdt() -> None:
    b = leverage_brackets(FUTURES_BTCUSDT)
    assert [x.initial_leverage for x in b] == [125, 100, 50, 20, 10, 5, 4, 3, 2, 1]
    assert [x.cum for x in b[:5]] == [D(0), D(50), D(3050), D(48050), D(348050)]
    assert bracket_for(b, D(49_999)).bracket == 1
    assert bracket_for(b, D(-50_000)).bracket == 2
    assert [max_notional_for(b, lev) for lev in (125, 100, 21, 20, 1)] == [
        D(50_000), D(600_000), D(3_000_000), D(12_000_000), D(800_000_000)
    ]  # fmt: skip
    alt = leverage_brackets(guess_instrument("XRPUSDT", "XRP", "USDT", MarketKind.LINEAR, 1.2))
    assert max(x.initial_leverage for x in alt) == 50
