"""Local order checks: rounding to the grid (qty down, limit passive, trigger nearest) and size filters."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.precision import (
    check_order,
    round_limit_price,
    round_qty,
    round_to_tick,
    round_trigger_price,
)
from eclipse.venues.types import Market, MarketKind, OrderRequest, OrderType, Side, TimeInForce

D = Decimal
BTC = Market(
    symbol="BTC/USDT:USDT",
    venue_symbol="BTCUSDT",
    base="BTC",
    quote="USDT",
    kind=MarketKind.LINEAR,
    tick_size=D("0.10"),
    step_size=D("0.001"),
    min_qty=D("0.001"),
    max_qty=D("1000"),
    min_notional=D("100"),
    settle="USDT",
)


def req(**kw: object) -> OrderRequest:
    base: dict[str, object] = {
        "symbol": "BTC/USDT:USDT",
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "qty": D("0.0105"),
        "client_order_id": "cid-1",
        "price": D("50000.07"),
    }
    base.update(kw)
    return OrderRequest(**base)  # type: ignore[arg-type]


def local_invalid(request: OrderRequest, market: Market = BTC, **kw: object) -> VenueError:
    with pytest.raises(VenueError) as info:
        check_order(request, market, venue="binanceusdm", **kw)  # type: ignore[arg-type]
    err = info.value
    assert err.kind is VenueErrorKind.INVALID_ORDER
    assert err.local
    assert err.definitive
    return err


def test_rounding_policy() -> None:
    assert round_qty(D("0.0109"), D("0.001")) == D("0.010")
    assert round_qty(D("5"), D("0.001")) == D("5")
    assert round_limit_price(D("50000.07"), D("0.1"), Side.BUY) == D("50000.0")
    assert round_limit_price(D("50000.01"), D("0.1"), Side.SELL) == D("50000.1")
    assert round_limit_price(D("50000.1"), D("0.1"), Side.SELL) == D("50000.1")
    assert round_trigger_price(D("49000.05"), D("0.1")) == D("49000.0")  # half to even
    assert round_trigger_price(D("49000.15"), D("0.1")) == D("49000.2")
    assert round_trigger_price(D("49000.16"), D("0.1")) == D("49000.2")
    assert round_to_tick(D("0.123456"), D("0.0001")) == D("0.1235")
    assert round_qty(D("0.5"), D(0)) == D("0.5")  # no grid: unchanged


def test_check_order_rounds_a_limit_order() -> None:
    out = check_order(req(), BTC)
    assert (out.qty, out.price, out.trigger_price) == (D("0.010"), D("50000.0"), None)
    assert out.client_order_id == "cid-1"


def test_market_order_drops_price_and_uses_ref_price_for_notional() -> None:
    out = check_order(req(type=OrderType.MARKET, price=D("1")), BTC)
    assert out.price is None
    err = local_invalid(req(type=OrderType.MARKET, qty=D("0.001"), price=None), ref_price=D("50000"))
    assert "notional 50.000" in err.message
    assert "min_notional 100" in err.message
    check_order(req(type=OrderType.MARKET, qty=D("0.001"), price=None), BTC)  # no reference: venue decides


def test_below_min_qty_names_field_value_limit_and_fix() -> None:
    err = local_invalid(req(qty=D("0.0004")))
    assert "qty 0.0004 BTC/USDT:USDT is below min_qty 0.001" in err.message
    assert "FIXED_QTY" in err.message
    assert err.venue == "binanceusdm"


def test_above_max_qty() -> None:
    err = local_invalid(req(qty=D("1000.5"), price=D("1")))
    assert "above max_qty 1000" in err.message


def test_min_notional_and_the_reduce_only_exemption() -> None:
    small = req(qty=D("0.001"), price=D("50000"))
    err = local_invalid(small)
    assert "below min_notional 100" in err.message
    assert check_order(req(qty=D("0.001"), price=D("50000"), reduce_only=True), BTC).qty == D("0.001")


def test_conditional_orders() -> None:
    stop = req(
        type=OrderType.STOP_MARKET, side=Side.SELL, price=None, trigger_price=D("48000.05"), reduce_only=True
    )
    out = check_order(stop, BTC)
    assert (out.trigger_price, out.price, out.qty) == (D("48000.0"), None, D("0.010"))
    close = req(
        type=OrderType.TAKE_PROFIT_MARKET, qty=None, price=None, trigger_price=D("52000"), close_position=True
    )
    assert check_order(close, BTC).qty is None
    local_invalid(req(type=OrderType.STOP_MARKET, price=None, trigger_price=None))
    local_invalid(req(type=OrderType.STOP_MARKET, price=None, trigger_price=D("-1")))
    local_invalid(req(type=OrderType.STOP_MARKET, price=None, trigger_price=D("0.01")))  # rounds to 0


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"price": None}, "needs a price"),
        ({"price": D("0")}, "must be a positive number"),
        ({"price": D("0.01")}, "rounds to 0"),
        ({"qty": None}, "qty is required"),
        ({"qty": D("0")}, "must be a positive number"),
        ({"qty": D("NaN")}, "must be a positive number"),
        ({"close_position": True}, "close_position is only valid"),
        ({"type": OrderType.MARKET, "post_only": True}, "post_only needs a limit order"),
        ({"client_order_id": ""}, "client_order_id is required"),
        (
            {"type": OrderType.STOP_MARKET, "trigger_price": D("1"), "close_position": True},
            "must not carry a qty",
        ),
    ],
)
def test_malformed_requests(kw: dict[str, object], fragment: str) -> None:
    assert fragment in local_invalid(req(**kw)).message


def test_post_only_and_tif_pass_through() -> None:
    out = check_order(req(post_only=True, time_in_force=TimeInForce.GTX), BTC)
    assert out.post_only
    assert out.time_in_force is TimeInForce.GTX


steps = st.sampled_from([D("1"), D("0.1"), D("0.001"), D("0.00001"), D("5"), D("0.25")])
quantities = st.decimals(min_value=D("0.00001"), max_value=D("100000"), places=8, allow_nan=False)


@given(qty=quantities, step=steps)
def test_rounded_qty_is_a_multiple_of_step_and_not_above_input(qty: Decimal, step: Decimal) -> None:
    out = round_qty(qty, step)
    assert out <= qty
    assert qty - out < step
    assert out % step == 0


@given(price=quantities, tick=steps, side=st.sampled_from([Side.BUY, Side.SELL]))
def test_limit_price_is_on_the_grid_and_passive(price: Decimal, tick: Decimal, side: Side) -> None:
    out = round_limit_price(price, tick, side)
    assert out % tick == 0
    assert abs(out - price) < tick
    assert (out <= price) if side is Side.BUY else (out >= price)


@given(price=quantities, tick=steps)
def test_trigger_is_the_nearest_tick(price: Decimal, tick: Decimal) -> None:
    out = round_trigger_price(price, tick)
    assert out % tick == 0
    assert abs(out - price) <= tick / 2


@given(qty=quantities)
def test_check_order_never_increases_size(qty: Decimal) -> None:
    request = req(qty=qty, price=D("50000"))
    rounded = round_qty(qty, BTC.step_size)
    assert BTC.max_qty is not None
    if rounded < BTC.min_qty or rounded * D("50000") < BTC.min_notional or rounded > BTC.max_qty:
        local_invalid(request)
        return
    out = check_order(request, BTC)
    assert out.qty is not None
    assert out.qty <= qty
    assert out.qty % BTC.step_size == 0
    assert BTC.min_qty <= out.qty <= D("1000")
