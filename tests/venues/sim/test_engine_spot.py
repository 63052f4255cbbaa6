"""The spot matching engine: free/locked balances, commission in the received asset, spot reject codes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from eclipse.venues.sim.model import BalanceView, EngineReject
from eclipse.venues.types import MarginMode, TimeInForce

from .test_engine import (
    BUY,
    FLAT,
    LMT,
    MKT,
    SELL,
    STOP,
    SYM,
    FakeFaults,
    M,
    MatchingEngine,
    make,
    reject,
    req,
)

D = Decimal


def bal(eng: MatchingEngine) -> dict[str, BalanceView]:
    return {b.asset: b for b in eng.balances()}


def test_a_market_buy_pays_quote_and_takes_commission_in_base() -> None:
    s = make([FLAT] * 2, spot=True)
    o = s.eng.place(req(BUY, MKT, "0.1"))
    assert (o.status, o.avg_price) == ("FILLED", D("10000"))
    b = bal(s.eng)
    assert (b["USDT"].available, b["USDT"].locked) == (D("9000"), D(0))
    assert b["BTC"].available == D("0.0999")  # 0.1 less 0.1% commission
    [t] = s.eng.user_trades(SYM)
    assert (t.commission, t.commission_asset) == (D("0.0001"), "BTC")
    s.eng.place(req(SELL, MKT, "0.05"))
    b = bal(s.eng)
    assert b["USDT"].available == D("9000") + D("500") - D("0.5")
    assert b["BTC"].available == D("0.0499")
    t = s.eng.user_trades(SYM)[-1]
    assert (t.commission, t.commission_asset) == (D("0.5"), "USDT")


def test_a_limit_buy_locks_quote_until_it_fills_or_is_canceled() -> None:
    s = make([FLAT, (10_000.0, 10_100.0, 9_900.0, 10_050.0)], spot=True)
    o = s.eng.place(req(BUY, LMT, "0.1", "9950"))
    b = bal(s.eng)["USDT"]
    assert (b.available, b.locked, b.wallet) == (D("9005"), D("995"), D("10000"))
    s.eng.cancel(SYM, order_id=o.order_id)
    b = bal(s.eng)["USDT"]
    assert (b.available, b.locked) == (D("10000"), D(0))
    s.eng.place(req(BUY, LMT, "0.1", "9950"))
    s.at(2 * M - 1)
    b = bal(s.eng)
    assert (b["USDT"].available, b["USDT"].locked) == (D("9005"), D(0))
    assert b["BTC"].available == D("0.0999")
    assert s.eng.user_trades(SYM)[0].maker


def test_a_marketable_limit_buy_returns_the_unused_lock() -> None:
    s = make([FLAT] * 2, spot=True)
    s.eng.place(req(BUY, LMT, "0.1", "10200"))
    b = bal(s.eng)["USDT"]
    assert (b.available, b.locked) == (D("9000"), D(0))


def test_sells_lock_the_base_asset() -> None:
    s = make([FLAT] * 2, spot=True, initial_balances=(("USDT", D(0)), ("BTC", D("0.5"))))
    s.eng.place(req(SELL, LMT, "0.3", "10500"))
    b = bal(s.eng)["BTC"]
    assert (b.available, b.locked) == (D("0.2"), D("0.3"))
    assert reject(s.eng, req(SELL, MKT, "0.3")).code == -2010
    stop = s.eng.place(req(SELL, STOP, "0.2", trigger=9900))
    assert bal(s.eng)["BTC"].available == D(0)
    assert stop.conditional
    s.eng.cancel(SYM, order_id=stop.order_id, conditional=True)
    assert bal(s.eng)["BTC"].available == D("0.2")


def test_a_spot_stop_fires_and_its_lock_pays_the_fill() -> None:
    s = make([FLAT, (10_000.0, 10_050.0, 9_800.0, 9_850.0)], spot=True, initial_balances=(("BTC", D(1)),))
    s.eng.place(req(SELL, STOP, "1", trigger=9900))
    s.at(2 * M - 1)
    b = bal(s.eng)
    assert (b["BTC"].available, b["BTC"].locked) == (D(0), D(0))
    assert b["USDT"].available == D("9900") - D("9.9")


@pytest.mark.parametrize(
    ("request_", "code", "msg"),
    [
        (req(BUY, MKT, "1.1"), -2010, "Account has insufficient balance for requested action."),
        (req(SELL, MKT, "0.1"), -2010, "Account has insufficient balance for requested action."),
        (req(BUY, MKT, "0.0004"), -1013, "Filter failure: NOTIONAL"),
        (req(BUY, MKT, "9000.1"), -1013, "Filter failure: LOT_SIZE"),
        (req(BUY, MKT, "0"), -1013, "Invalid quantity."),
        (req(BUY, LMT, "0.1", "0"), -1013, "Invalid price."),
        (req(BUY, LMT, "0.1", "9999.999"), -1111, "Precision is over the maximum defined for this asset."),
        (req(SELL, MKT, "0.1", reduce_only=True), -1106, "Parameter 'reduceOnly' sent when not required."),
        (
            req(BUY, LMT, "0.1", "10000", time_in_force=TimeInForce.GTX),
            -2010,
            "Order would immediately match and take.",
        ),
        (req(BUY, STOP, "0.1", trigger=9000), -2010, "Stop price would trigger immediately."),
        (req(BUY, LMT, "0.1", "1000000.01"), -1013, "Filter failure: PRICE_FILTER"),
        (req(BUY, STOP, "0.1", trigger="1e20"), -1013, "Filter failure: PRICE_FILTER"),
        (req(BUY, LMT, "1e100", "1e100"), -1013, "Filter failure: PRICE_FILTER"),
        (req(BUY, MKT, "1e100"), -1013, "Filter failure: LOT_SIZE"),
        (
            req(BUY, STOP, "0.1"),
            -1102,
            "Mandatory parameter 'stopPrice' was not sent, was empty/null, or malformed.",
        ),
    ],
)
def test_spot_rejections_carry_spot_codes(request_: object, code: int, msg: str) -> None:
    s = make([FLAT] * 2, spot=True)
    e = reject(s.eng, request_)  # type: ignore[arg-type]
    assert (e.code, e.msg) == (code, msg)
    assert bal(s.eng)["USDT"].available == D("10000")


def test_spot_duplicate_client_id_and_futures_only_calls() -> None:
    s = make([FLAT] * 2, spot=True)
    s.eng.place(req(BUY, LMT, "0.1", "9000", client_id="a"))
    e = reject(s.eng, req(BUY, LMT, "0.1", "9000", client_id="a"))
    assert (e.code, e.msg) == (-2010, "Duplicate order sent.")
    for call in (lambda: s.eng.set_leverage(SYM, 5), lambda: s.eng.set_margin_mode(SYM, MarginMode.ISOLATED)):
        with pytest.raises(EngineReject) as info:
            call()
        assert (info.value.code, info.value.status) == (-1020, 400)


def test_a_spot_buy_in_slices_never_overdraws_the_quote() -> None:
    rise = (11_000.0, 11_000.0, 11_000.0, 11_000.0)
    s = make(
        [FLAT, rise, rise],
        spot=True,
        faults=FakeFaults(slices=(2, M)),
        initial_balances=(("USDT", D("910")),),
    )
    o = s.eng.place(req(BUY, MKT, "0.09"))
    assert (o.status, o.filled) == ("PARTIALLY_FILLED", D("0.045"))
    s.at(2 * M)
    done = s.eng.order(SYM, order_id=o.order_id)
    # 460 USDT left (450 still locked + 10 free) buys 0.04181 BTC at 11000; the rest expires
    assert (done.status, done.filled) == ("EXPIRED", D("0.045") + D("0.04181"))
    b = bal(s.eng)["USDT"]
    assert b.locked == 0
    assert D(0) <= b.available < D("11000") * D("0.00001")
