"""Local order checks before anything is sent: rounding to the venue's grid and its size filters.

Rounding policy (Decimal, exact):

* quantity: ``ROUND_DOWN`` to a multiple of ``step_size`` -- never more exposure than asked for;
* limit price: toward the passive side -- a buy rounds down, a sell rounds up -- so the order is never
  priced worse than requested and a post-only order stays passive;
* trigger price (stop-market / take-profit-market): to the *nearest* tick (``ROUND_HALF_EVEN``), so a
  protection level moves by at most half a tick.

Then the filters: quantity in ``[min_qty, max_qty]``, and notional (quantity x price) >= ``min_notional``
except for reduce-only / close-position orders, which Binance exempts. A violation raises
``VenueError(INVALID_ORDER, local=True)`` naming the field, the value, the limit and the fix.
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.types import Market, OrderRequest, OrderType, Side

__all__ = [
    "SIZE_FIX",
    "check_order",
    "round_limit_price",
    "round_qty",
    "round_to_tick",
    "round_trigger_price",
]

SIZE_FIX = "raise the order size (FIXED_QTY or FIXED_NOTIONAL_USDT)"


def _quantize(value: Decimal, grid: Decimal, rounding: str) -> Decimal:
    if grid <= 0:
        return value
    return (value / grid).to_integral_value(rounding=rounding) * grid


def round_qty(qty: Decimal, step: Decimal) -> Decimal:
    """``qty`` rounded down to a multiple of ``step`` (unchanged when step <= 0)."""
    return _quantize(qty, step, ROUND_DOWN)


def round_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """``price`` rounded to the nearest multiple of ``tick`` (half to even)."""
    return _quantize(price, tick, ROUND_HALF_EVEN)


def round_limit_price(price: Decimal, tick: Decimal, side: Side) -> Decimal:
    """A limit ``price`` on the tick grid, rounded toward the passive side (buy down, sell up)."""
    return _quantize(price, tick, ROUND_FLOOR if side is Side.BUY else ROUND_CEILING)


def round_trigger_price(price: Decimal, tick: Decimal) -> Decimal:
    """A trigger price on the tick grid (nearest tick)."""
    return round_to_tick(price, tick)


def _invalid(message: str, venue: str) -> VenueError:
    return VenueError(
        VenueErrorKind.INVALID_ORDER, message, venue=venue, operation="create_order", local=True
    )


def _positive_price(name: str, value: Decimal | None, request: OrderRequest, venue: str) -> Decimal:
    if value is None:
        raise _invalid(f"{request.type.value} order on {request.symbol} needs a {name}", venue)
    if not value.is_finite() or value <= 0:
        raise _invalid(f"{name} {value} for {request.symbol} must be a positive number", venue)
    return value


def _check_shape(request: OrderRequest, venue: str) -> None:
    if request.type is OrderType.OTHER:
        raise _invalid("order type 'other' only describes foreign orders found on the account", venue)
    if request.close_position and not request.type.conditional:
        raise _invalid(
            "close_position is only valid on stop_market/take_profit_market orders, "
            f"not {request.type.value}",
            venue,
        )
    if request.post_only and request.type is not OrderType.LIMIT:
        raise _invalid(f"post_only needs a limit order, not {request.type.value}", venue)
    if not request.client_order_id:
        raise _invalid("client_order_id is required (it resolves unknown outcomes)", venue)


def check_order(
    request: OrderRequest, market: Market, *, ref_price: Decimal | None = None, venue: str = ""
) -> OrderRequest:
    """``request`` rounded to ``market``'s grid after checking its filters (see the module docstring).

    ``ref_price`` prices a market order for the min-notional check (skipped without it: the venue still
    enforces the filter). Raises ``VenueError(INVALID_ORDER, local=True)``.
    """
    _check_shape(request, venue)
    sym = request.symbol
    price = trigger = None
    if request.type is OrderType.LIMIT:
        raw = _positive_price("price", request.price, request, venue)
        price = round_limit_price(raw, market.tick_size, request.side)
        if price <= 0:
            raise _invalid(f"price {raw} {sym} rounds to 0 on tick_size {market.tick_size}", venue)
    if request.type.conditional:
        raw = _positive_price("trigger_price", request.trigger_price, request, venue)
        trigger = round_trigger_price(raw, market.tick_size)
        if trigger <= 0:
            raise _invalid(f"trigger_price {raw} {sym} rounds to 0 on tick_size {market.tick_size}", venue)
    qty: Decimal | None = None
    if request.qty is None:
        if not request.close_position:
            raise _invalid(
                f"qty is required for {request.type.value} order on {sym} (only close_position omits it)",
                venue,
            )
    else:
        if request.close_position:
            raise _invalid(f"close_position order on {sym} must not carry a qty (got {request.qty})", venue)
        if not request.qty.is_finite() or request.qty <= 0:
            raise _invalid(f"qty {request.qty} {sym} must be a positive number", venue)
        qty = round_qty(request.qty, market.step_size)
        if qty < market.min_qty or qty <= 0:
            raise _invalid(
                f"qty {request.qty} {sym} is below min_qty {market.min_qty} (after rounding down to step "
                f"{market.step_size}: {qty}); {SIZE_FIX}",
                venue,
            )
        if market.max_qty is not None and qty > market.max_qty:
            raise _invalid(
                f"qty {qty} {sym} is above max_qty {market.max_qty}; lower the order size or split it", venue
            )
        basis = price or trigger or ref_price
        exempt = request.reduce_only or request.close_position
        if basis is not None and not exempt and market.min_notional > 0 and qty * basis < market.min_notional:
            raise _invalid(
                f"notional {qty * basis} {sym} (qty {qty} x price {basis}) is below min_notional "
                f"{market.min_notional}; {SIZE_FIX}",
                venue,
            )
    return OrderRequest(  # dataclasses.replace(request, qty=qty, price=price, trigger_price=trigger), inlined
        request.symbol,
        request.side,
        request.type,
        qty,
        request.client_order_id,
        price,
        trigger,
        request.reduce_only,
        request.close_position,
        request.post_only,
        request.time_in_force,
    )


_REPLACED_FIELDS = (
    "symbol", "side", "type", "qty", "client_order_id", "price", "trigger_price", "reduce_only",
    "close_position", "post_only", "time_in_force",
)  # fmt: skip
if tuple(f.name for f in dataclasses.fields(OrderRequest)) != _REPLACED_FIELDS:  # pragma: no cover
    raise ImportError("OrderRequest's fields changed: update check_order's positional copy")
