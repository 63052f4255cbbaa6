"""The matching engine's mutable order record, its snapshot view and its storage form.

An order is regular (order id from the order counter) or conditional (algo id from a separate counter, as
Binance keeps trigger orders in its algo-order book). ``slices`` holds fills the engine has scheduled but
not delivered yet (partial-fill faults); ``locked`` is what a spot order still holds of ``lock_asset``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from eclipse.venues.sim.model import OrderView, TradeView
from eclipse.venues.types import OrderType, Side, TimeInForce

__all__ = ["OPEN_STATUSES", "OrderRecord", "dumps", "trade_from_json", "trade_to_data"]

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
_ZERO = Decimal(0)
_AVG_EXP = Decimal("1e-8")
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def dumps(v: object) -> str:
    """Compact JSON text (one shared encoder)."""
    return _ENCODER.encode(v)


def _d(x: str | None) -> Decimal | None:
    return None if x is None else Decimal(x)


def _s(x: Decimal | None) -> str | None:
    return None if x is None else str(x)


@dataclass(slots=True)
class OrderRecord:
    """One order as the engine holds it (mutable; :meth:`view` gives the frozen snapshot)."""

    order_id: int
    client_id: str
    symbol: str
    side: Side
    type: OrderType
    qty: Decimal | None
    price: Decimal | None
    trigger_price: Decimal | None
    time_in_force: TimeInForce | None
    reduce_only: bool
    close_position: bool
    conditional: bool
    created_ms: int
    updated_ms: int
    status: str = "NEW"
    filled: Decimal = _ZERO
    cum_quote: Decimal = _ZERO
    triggered_order_id: int | None = None
    slices: list[tuple[int, Decimal]] = field(default_factory=list)
    slice_maker: bool = False
    lock_asset: str = ""
    lock_price: Decimal = _ZERO
    locked: Decimal = _ZERO

    @property
    def is_open(self) -> bool:
        """True while the order can still fill (or trigger)."""
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        """Quantity still to fill (0 for a close-position conditional)."""
        return _ZERO if self.qty is None else self.qty - self.filled

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self.side is Side.BUY else -1

    def view(self) -> OrderView:
        """Frozen snapshot."""
        avg = (self.cum_quote / self.filled).quantize(_AVG_EXP) if self.filled else _ZERO
        return OrderView(
            order_id=self.order_id,
            client_id=self.client_id,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            status=self.status,
            qty=self.qty,
            price=self.price,
            trigger_price=self.trigger_price,
            filled=self.filled,
            cum_quote=self.cum_quote,
            avg_price=avg,
            reduce_only=self.reduce_only,
            close_position=self.close_position,
            time_in_force=self.time_in_force,
            conditional=self.conditional,
            created_ms=self.created_ms,
            updated_ms=self.updated_ms,
            triggered_order_id=self.triggered_order_id,
        )

    def to_data(self) -> list[object]:
        """Storage form: a JSON-able list of every field (Decimals as strings)."""
        return [
            self.order_id,
            self.client_id,
            self.symbol,
            self.side.value,
            self.type.value,
            _s(self.qty),
            _s(self.price),
            _s(self.trigger_price),
            None if self.time_in_force is None else self.time_in_force.value,
            self.reduce_only,
            self.close_position,
            self.conditional,
            self.created_ms,
            self.updated_ms,
            self.status,
            str(self.filled),
            str(self.cum_quote),
            self.triggered_order_id,
            [[t, str(q)] for t, q in self.slices],
            self.slice_maker,
            self.lock_asset,
            str(self.lock_price),
            str(self.locked),
        ]

    @classmethod
    def from_json(cls, text: str) -> OrderRecord:
        """The record from the JSON text of :meth:`to_data`."""
        v = json.loads(text)
        return cls(
            order_id=int(v[0]),
            client_id=v[1],
            symbol=v[2],
            side=Side(v[3]),
            type=OrderType(v[4]),
            qty=_d(v[5]),
            price=_d(v[6]),
            trigger_price=_d(v[7]),
            time_in_force=None if v[8] is None else TimeInForce(v[8]),
            reduce_only=bool(v[9]),
            close_position=bool(v[10]),
            conditional=bool(v[11]),
            created_ms=int(v[12]),
            updated_ms=int(v[13]),
            status=v[14],
            filled=Decimal(v[15]),
            cum_quote=Decimal(v[16]),
            triggered_order_id=v[17],
            slices=[(int(t), Decimal(q)) for t, q in v[18]],
            slice_maker=bool(v[19]),
            lock_asset=v[20],
            lock_price=Decimal(v[21]),
            locked=Decimal(v[22]),
        )


def trade_to_data(t: TradeView) -> list[object]:
    """Storage form of a trade: a JSON-able list."""
    return [
        t.trade_id,
        t.order_id,
        t.client_id,
        t.symbol,
        t.side.value,
        str(t.price),
        str(t.qty),
        str(t.quote_qty),
        str(t.commission),
        t.commission_asset,
        str(t.realized_pnl),
        t.maker,
        t.ts_ms,
    ]


def trade_from_json(text: str) -> TradeView:
    """The trade from the JSON text of :func:`trade_to_data`."""
    v = json.loads(text)
    return TradeView(
        trade_id=int(v[0]),
        order_id=int(v[1]),
        client_id=v[2],
        symbol=v[3],
        side=Side(v[4]),
        price=Decimal(v[5]),
        qty=Decimal(v[6]),
        quote_qty=Decimal(v[7]),
        commission=Decimal(v[8]),
        commission_asset=v[9],
        realized_pnl=Decimal(v[10]),
        maker=bool(v[11]),
        ts_ms=int(v[12]),
    )
