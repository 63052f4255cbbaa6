"""Request checks that need no account state: parameters, filters, notional (Binance codes and messages).

Any finite size gets a rejection, never an exception: PRICE_FILTER (limit and trigger prices: positive, at
most maxPrice, on the tick), LOT_SIZE and notional; a non-finite value (in-process callers) is -1100.

Futures and spot answer with their own codes where Binance's differ (:class:`Codes`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from eclipse.venues.sim.model import EngineReject, InstrumentSpec, PlaceRequest
from eclipse.venues.types import MarketKind, OrderType

__all__ = [
    "CLIENT_ID_RE",
    "FUTURES_CODES",
    "SPOT_CODES",
    "Codes",
    "check_request",
    "mandatory",
    "max_price",
    "not_required",
]

CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
PRECISION = (-1111, "Precision is over the maximum defined for this asset.")
# PRICE_FILTER maxPrice Binance lists for BTCUSDT (USD-M / spot); an instrument may set its own
FUTURES_MAX_PRICE = Decimal("4529764")
SPOT_MAX_PRICE = Decimal("1000000")
_DECIMAL_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"


@dataclass(frozen=True, slots=True)
class Codes:
    """The (code, message) pairs that differ between Binance USD-M and spot."""

    qty_nonpositive: tuple[int, str]
    price_nonpositive: tuple[int, str]
    qty_too_large: tuple[int, str]
    duplicate: tuple[int, str]
    insufficient: tuple[int, str]
    post_only: tuple[int, str]
    would_trigger: tuple[int, str]
    price_too_large: tuple[int, str]
    trigger_too_large: tuple[int, str]
    trigger_name: str

    def notional(self, spec: InstrumentSpec) -> EngineReject:
        """The min-notional rejection."""
        if spec.kind is MarketKind.LINEAR:
            n = f"{spec.min_notional.normalize():f}"
            return EngineReject(
                -4164, f"Order's notional must be no smaller than {n} (unless you choose reduce only)."
            )
        return EngineReject(-1013, "Filter failure: NOTIONAL")


FUTURES_CODES = Codes(
    qty_nonpositive=(-4003, "Quantity less than or equal to zero."),
    price_nonpositive=(-4001, "Price less than 0."),
    qty_too_large=(-4005, "Quantity greater than max quantity."),
    duplicate=(-4116, "ClientOrderId is duplicated."),
    insufficient=(-2019, "Margin is insufficient."),
    post_only=(
        -5022,
        "Due to the order could not be executed as maker, the Post Only order will be rejected.",
    ),
    would_trigger=(-2021, "Order would immediately trigger."),
    price_too_large=(-4002, "Price greater than max price."),
    trigger_too_large=(-4007, "Stop price greater than max price."),
    trigger_name="triggerPrice",
)
SPOT_CODES = Codes(
    qty_nonpositive=(-1013, "Invalid quantity."),
    price_nonpositive=(-1013, "Invalid price."),
    qty_too_large=(-1013, "Filter failure: LOT_SIZE"),
    duplicate=(-2010, "Duplicate order sent."),
    insufficient=(-2010, "Account has insufficient balance for requested action."),
    post_only=(-2010, "Order would immediately match and take."),
    would_trigger=(-2010, "Stop price would trigger immediately."),
    price_too_large=(-1013, "Filter failure: PRICE_FILTER"),
    trigger_too_large=(-1013, "Filter failure: PRICE_FILTER"),
    trigger_name="stopPrice",
)


def mandatory(name: str) -> EngineReject:
    """-1102 for a missing parameter."""
    return EngineReject(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def not_required(name: str) -> EngineReject:
    """-1106 for a parameter that does not belong to the order."""
    return EngineReject(-1106, f"Parameter '{name}' sent when not required.")


def _reject(pair: tuple[int, str]) -> EngineReject:
    return EngineReject(*pair)


def max_price(spec: InstrumentSpec) -> Decimal:
    """The instrument's PRICE_FILTER maxPrice (its own, else Binance's for the kind)."""
    if spec.max_price is not None:
        return spec.max_price
    return FUTURES_MAX_PRICE if spec.kind is MarketKind.LINEAR else SPOT_MAX_PRICE


def _off_grid(value: Decimal, step: Decimal) -> bool:
    """True when ``value`` is not a whole multiple of ``step`` (exact for any finite size: a quotient too
    long for the decimal context is checked with fractions)."""
    try:
        return bool(value % step)
    except InvalidOperation:
        return Fraction(value) % Fraction(step) != 0


def _finite(value: Decimal | None, name: str) -> None:
    if value is not None and not value.is_finite():
        raise EngineReject(
            -1100, f"Illegal characters found in parameter '{name}'; legal range is '{_DECIMAL_RANGE}'."
        )


def _check_price(value: Decimal, spec: InstrumentSpec, codes: Codes, too_large: tuple[int, str]) -> None:
    """PRICE_FILTER: positive, at most maxPrice, on the tick."""
    if not value > 0:
        raise _reject(codes.price_nonpositive)
    if value > max_price(spec):
        raise _reject(too_large)
    if _off_grid(value, spec.tick_size):
        raise _reject(PRECISION)


def check_request(req: PlaceRequest, spec: InstrumentSpec, codes: Codes, last: Decimal) -> None:
    """Parameter, precision, lot-size and notional checks of a new order (``last`` prices a market order)."""
    futures = spec.kind is MarketKind.LINEAR
    conditional = req.type.conditional
    _finite(req.qty, "quantity")
    _finite(req.price, "price")
    _finite(req.trigger_price, codes.trigger_name)
    if not futures and (req.reduce_only or req.close_position):
        raise not_required("reduceOnly" if req.reduce_only else "closePosition")
    if req.close_position and not conditional:
        raise not_required("closePosition")
    if req.close_position and req.reduce_only:
        raise not_required("reduceOnly")
    if req.close_position and req.qty is not None:
        raise not_required("quantity")
    if req.client_id is not None and not CLIENT_ID_RE.match(req.client_id):
        raise EngineReject(
            -1100,
            "Illegal characters found in parameter 'newClientOrderId'; legal range is "
            "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
        )
    if req.type is OrderType.LIMIT:
        if req.price is None:
            raise mandatory("price")
        _check_price(req.price, spec, codes, codes.price_too_large)
    elif req.price is not None:
        raise not_required("price")
    if conditional:
        if req.trigger_price is None:
            raise mandatory(codes.trigger_name)
        _check_price(req.trigger_price, spec, codes, codes.trigger_too_large)
    elif req.trigger_price is not None:
        raise not_required("stopPrice")
    if req.qty is None:
        if req.close_position:
            return
        raise mandatory("quantity")
    qty = req.qty
    if not qty > 0:
        raise _reject(codes.qty_nonpositive)
    if _off_grid(qty, spec.step_size):
        raise _reject(PRECISION)
    if qty < spec.min_qty:
        raise EngineReject(-1013, "Filter failure: LOT_SIZE")
    if qty > spec.max_qty:
        raise _reject(codes.qty_too_large)
    ref = req.price if req.price is not None else req.trigger_price if req.trigger_price is not None else last
    if qty * ref < spec.min_notional and not (futures and req.reduce_only):
        raise codes.notional(spec)
