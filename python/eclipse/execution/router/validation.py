"""Intent shaping and validation: the router's local checks before any venue call.

1. Shape: every risk-reducing kind (exit, stop-loss, take-profit, flatten) is made reduce-only; a
   conditional without a quantity is made ``close_position`` instead (Binance refuses both flags together).
   An entry may be neither.
2. Venue filters: :func:`~eclipse.venues.precision.check_order` against the venue's :class:`Market`
   (rounding to tick and step, min/max quantity, min notional -- from which reduce-only orders are exempt).
3. Per-order notional cap (``ROUTER_MAX_NOTIONAL_USDT``, 0 = off), on entries only: an exit is never blocked
   by it.

A refusal is a :class:`Refusal` with a short ``why`` (``router_notional_cap``, ``min_notional``,
``precision``, ``invalid_order``, ``entry_reduce_only``, ``no_reference_price``) that the executor
reports as ``order.blocked``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from eclipse.contracts import IntentKind, RouterRequest
from eclipse.venues.errors import VenueError
from eclipse.venues.precision import check_order
from eclipse.venues.types import Market, OrderRequest

__all__ = ["Refusal", "Shaped", "classify_refusal", "shape_request", "validate"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused locally: ``why`` is the telemetry word, ``detail`` the human text."""

    why: str
    detail: str
    notional: Decimal = Decimal(0)
    cap: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Shaped:
    """A request that passed every local check, rounded to the venue's grid, and the venue order for it."""

    request: RouterRequest
    venue_request: OrderRequest
    forced_reduce_only: bool


def shape_request(request: RouterRequest) -> tuple[RouterRequest, bool] | Refusal:
    """``request`` with the reduce-only / close-position flags its kind demands, and whether they were
    forced; a Refusal for an entry carrying either flag."""
    if not request.kind.reduces_risk:
        if request.reduce_only or request.close_position:
            return Refusal("entry_reduce_only", f"entry {request.client_order_id} cannot be reduce-only")
        return request, False
    if request.type.conditional and (request.qty is None or request.close_position):
        if request.close_position and not request.reduce_only:
            return request, False
        return dataclasses.replace(request, close_position=True, reduce_only=False, qty=None), True
    if request.reduce_only and not request.close_position:
        return request, False
    return dataclasses.replace(request, reduce_only=True, close_position=False), True


def classify_refusal(err: VenueError) -> str:
    """The ``why`` word of a local precision/filter refusal."""
    text = err.message
    if "min_notional" in text:
        return "min_notional"
    if "min_qty" in text or "max_qty" in text or "rounds to 0" in text:
        return "precision"
    return "invalid_order"


def _basis(request: RouterRequest) -> Decimal:
    if request.price is not None:
        return request.price
    if request.trigger_price is not None and request.ref_price <= 0:
        return request.trigger_price
    return request.ref_price


def validate(
    request: RouterRequest, market: Market, max_notional: Decimal, venue: str = ""
) -> Shaped | Refusal:
    """Shape, round and check ``request`` (see the module docstring)."""
    shaped = shape_request(request)
    if isinstance(shaped, Refusal):
        return shaped
    req, forced = shaped
    ref = req.ref_price if req.ref_price > 0 else None
    try:
        checked = check_order(req.venue_request(), market, ref_price=ref, venue=venue)
    except VenueError as err:
        return Refusal(classify_refusal(err), err.message, notional=req.notional)
    if (checked.qty, checked.price, checked.trigger_price) != (req.qty, req.price, req.trigger_price):
        req = dataclasses.replace(
            req, qty=checked.qty, price=checked.price, trigger_price=checked.trigger_price
        )
    if req.kind is IntentKind.ENTRY and max_notional > 0:
        basis = _basis(req)
        if basis <= 0:
            return Refusal(
                "no_reference_price",
                f"entry {req.client_order_id} has no price to check ROUTER_MAX_NOTIONAL_USDT against",
                cap=max_notional,
            )
        notional = (req.qty or Decimal(0)) * basis
        if notional > max_notional:
            return Refusal(
                "router_notional_cap",
                f"entry notional {notional} {req.symbol} exceeds ROUTER_MAX_NOTIONAL_USDT {max_notional}",
                notional=notional,
                cap=max_notional,
            )
    return Shaped(req, checked, forced)
