"""Placing an order: the account-dependent checks (duplicates, reduce-only, post-only, triggers, margin,
balance), then immediate execution or resting; and the cancel race.

Futures margin check: the order's opening quantity (what exceeds closing the current position) times its
price (limit price, or the taker price estimate) over the leverage must not exceed the available balance
(-2019), and the resulting position must fit the leverage bracket (-2027). Conditionals reserve nothing
until they fire. Spot: a buy locks ``qty * price`` (market: the taker estimate; conditional: the trigger)
of the quote asset, a sell locks ``qty`` of the base asset (-2010 when free is short).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from eclipse.venues.sim.fills import execute, fill, finish, new_order, track
from eclipse.venues.sim.instruments import max_notional_for
from eclipse.venues.sim.margin import margin_summary
from eclipse.venues.sim.model import EngineReject, OrderView, PlaceRequest
from eclipse.venues.sim.orders import OrderRecord
from eclipse.venues.sim.rules import check_request
from eclipse.venues.sim.walk import deliver_slice, trigger
from eclipse.venues.types import OrderType, Side, TimeInForce

if TYPE_CHECKING:
    from eclipse.venues.sim.engine import MatchingEngine

__all__ = ["place_order", "race_fill"]

_ZERO = Decimal(0)


def _dec(x: float) -> Decimal:
    return Decimal(repr(x))


def _shrink(eng: MatchingEngine, o: OrderRecord) -> None:
    if not o.reduce_only or o.qty is None or not eng.has_faults:
        return
    new = eng.faults.reduce_only_shrink(o.view())
    if new is None:
        return
    step = eng.specs[o.symbol].step_size
    new = (new / step).to_integral_value(ROUND_FLOOR) * step
    if 0 < new < o.qty:
        track(eng, o, False)
        o.qty = new
        track(eng, o, True)
        eng.touch(o)


def _lock(eng: MatchingEngine, o: OrderRecord, asset: str, price: Decimal, amount: Decimal) -> None:
    bal = eng.assets[asset]
    bal.free -= amount
    bal.locked += amount
    o.lock_asset, o.lock_price, o.locked = asset, price, amount


def _spot_need(eng: MatchingEngine, req: PlaceRequest, qty: Decimal, price: Decimal) -> tuple[str, Decimal]:
    spec = eng.specs[req.symbol]
    asset, amount = (spec.quote, qty * price) if req.side is Side.BUY else (spec.base, qty)
    if eng.assets[asset].free < amount:
        raise EngineReject(*eng.codes.insufficient)
    return asset, amount


def _check_margin(eng: MatchingEngine, req: PlaceRequest, qty: Decimal, price: Decimal) -> None:
    pos = eng.pos_state[req.symbol]
    sign = 1 if req.side is Side.BUY else -1
    same = pos.qty == 0 or (pos.qty > 0) == (sign > 0)
    opening = qty if same else max(_ZERO, qty - abs(pos.qty))
    if not opening:
        return
    if opening * price / pos.leverage > margin_summary(eng)[4]:
        raise EngineReject(*eng.codes.insufficient)
    cap = eng.brackets[req.symbol]
    if abs(pos.qty + sign * qty) * price > max_notional_for(cap, pos.leverage):
        raise EngineReject(-2027, "Exceeded the maximum allowable position at current leverage.")


def _create(eng: MatchingEngine, req: PlaceRequest, t: int, tif: TimeInForce | None) -> OrderRecord:
    return new_order(
        eng,
        eng.book(req.type.conditional),
        req.symbol,
        req.side,
        req.type,
        t,
        qty=req.qty,
        client_id=req.client_id,
        price=req.price,
        trigger_price=req.trigger_price,
        time_in_force=tif,
        reduce_only=req.reduce_only,
        close_position=req.close_position,
    )


def place_order(eng: MatchingEngine, req: PlaceRequest) -> OrderView:
    """Check and place ``req`` at market now; raises EngineReject with Binance's code."""
    spec = eng.require_symbol(req.symbol)
    sym = req.symbol
    t = eng.now_ms()
    last = eng.mark(sym)
    check_request(req, spec, eng.codes, last)
    conditional = req.type.conditional
    book = eng.book(conditional)
    if req.client_id is not None and req.client_id in book.cid_open:
        raise EngineReject(*eng.codes.duplicate)
    pos = eng.pos_state[sym]
    buy = req.side is Side.BUY
    if req.reduce_only and (pos.qty == 0 or (pos.qty > 0) == buy):
        raise EngineReject(-2022, "ReduceOnly Order is rejected.")
    if conditional:
        trig = req.trigger_price or _ZERO
        rising = (req.type is OrderType.STOP_MARKET) == buy
        if (rising and trig <= last) or (not rising and trig >= last):
            raise EngineReject(*eng.codes.would_trigger)
        need = None if eng.futures or req.qty is None else _spot_need(eng, req, req.qty, trig)
        o = _create(eng, req, t, None)
        if need is not None:
            _lock(eng, o, need[0], trig, need[1])
        _shrink(eng, o)
        return o.view()
    qty = req.qty or _ZERO
    quote = eng.feed.bid_ask(sym)
    bid, ask = _dec(quote.bid), _dec(quote.ask)
    taker = eng.taker_price(sym, req.side, quote.ask if buy else quote.bid, qty)
    tif = (req.time_in_force or TimeInForce.GTC) if req.type is OrderType.LIMIT else None
    limit = req.price
    marketable = limit is None or (buy and limit >= ask) or (not buy and limit <= bid)
    if tif is TimeInForce.GTX and marketable:
        raise EngineReject(*eng.codes.post_only)
    if limit is None:
        est = taker
    elif marketable:
        est = min(taker, limit) if buy else max(taker, limit)
    else:
        est = limit
    need = None
    if eng.futures:
        if not req.reduce_only:
            _check_margin(eng, req, qty, limit if limit is not None else est)
    else:
        need = _spot_need(eng, req, qty, limit if limit is not None and buy else est)
    o = _create(eng, req, t, tif)
    if need is not None:
        _lock(eng, o, need[0], limit if limit is not None and buy else est, need[1])
    _shrink(eng, o)
    if marketable:
        execute(eng, o, t, est, maker=False)
    elif tif in (TimeInForce.IOC, TimeInForce.FOK):
        finish(eng, o, "EXPIRED", t)
    return o.view()


def race_fill(eng: MatchingEngine, o: OrderRecord) -> None:
    """The fill a losing cancel races with: pending slices are delivered now, a resting limit fills at its
    price, a conditional fires at the current price."""
    t = eng.now_ms()
    if o.conditional:
        trigger(eng, o, t, eng.feed.last_price(o.symbol))
        return
    if o.slices:
        o.slices = [(t, q) for _, q in o.slices]
        while o.slices and o.is_open:
            deliver_slice(eng, o, t)
    elif o.type is OrderType.LIMIT and o.price is not None:
        fill(eng, o, o.remaining, o.price, True, t)
