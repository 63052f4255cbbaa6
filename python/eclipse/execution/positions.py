"""Positions built from fills: signed size, average entry, realized and unrealized PnL, fees, daily PnL and
equity drawdown (what the kill switch reads).

Accounting is average cost kept as a signed cost basis (``cost`` = the entry notional of the open quantity,
negative for a short): a fill in the position's direction adds to it, a fill against it releases the
proportional cost and realizes ``proceeds - released cost``; a fill that crosses zero closes the whole
position and opens the remainder on the other side at the fill's price. Over a round trip back to flat the
realized PnL is exactly ``sum(sell notional) - sum(buy notional)``: each position episode's cash flow is kept
exactly and realized when it closes, so the rounding of partial closes (a division) never accumulates.

Determinism: each symbol's fills are kept in a canonical order, ``(ts_ms, trade_id)``. A fill arriving in
order is applied incrementally; a fill arriving late (reconcile found it after newer ones) makes the book
replay that symbol's fills in canonical order. So any arrival order of the same trades gives the same state.
Duplicates (same ``(symbol, trade_id)``, same content) are ignored and reported as not applied; a trade id
seen with different content, or an invalid fill, raises :class:`FillRejectedError`: nothing is dropped
silently.

Fees are in the quote asset: a fee in the quote is taken as is, a fee in the base asset is converted at the
fill price; a fee in any other asset (e.g. BNB) cannot be valued here, so it is kept per asset in
:meth:`PositionBook.unconverted_fees` and reported to ``on_event`` as ``position.fee_unconverted``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from eclipse.clock import Clock
from eclipse.contracts import PositionSnapshot
from eclipse.venues.types import Fill, Side

__all__ = ["DAY_MS", "FillRejectedError", "PositionBook", "split_symbol"]

DAY_MS = 86_400_000
_ZERO = Decimal(0)

OnEvent = Callable[[Mapping[str, object]], None]


class FillRejectedError(ValueError):
    """A fill the book cannot apply: invalid numbers, or a known trade id with different content."""


def split_symbol(symbol: str) -> tuple[str, str] | None:
    """``(base, quote)`` of a ccxt unified symbol (``BTC/USDT:USDT`` -> ``("BTC", "USDT")``), else None."""
    if "/" not in symbol:
        return None
    base, rest = symbol.split("/", 1)
    quote = rest.split(":", 1)[0]
    return (base, quote) if base and quote else None


def _sort_key(fill: Fill) -> tuple[int, str, str]:
    return (fill.ts_ms, fill.trade_id, fill.order_id)


@dataclass(slots=True)
class _Ledger:
    """One symbol's fills and the state they produce (mutable, private to the book)."""

    fills: list[Fill] = field(default_factory=list)
    by_id: dict[str, Fill] = field(default_factory=dict)
    qty: Decimal = _ZERO
    cost: Decimal = _ZERO
    realized: Decimal = _ZERO
    fees: Decimal = _ZERO
    episode_base: Decimal = _ZERO
    episode_cash: Decimal = _ZERO
    opened_ms: int | None = None
    updated_ms: int = 0
    daily: dict[int, Decimal] = field(default_factory=dict)
    unconverted: dict[str, Decimal] = field(default_factory=dict)

    def reset(self) -> None:
        self.qty = self.cost = self.realized = self.fees = _ZERO
        self.episode_base = self.episode_cash = _ZERO
        self.opened_ms = None
        self.updated_ms = 0
        self.daily.clear()
        self.unconverted.clear()

    def apply(self, fill: Fill, fee_quote: Decimal | None) -> None:
        """Apply one fill in canonical order (the caller keeps the order)."""
        signed = fill.qty if fill.side is Side.BUY else -fill.qty
        before = self.realized
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            if self.qty == 0:
                self.opened_ms = fill.ts_ms
                self.episode_base, self.episode_cash = self.realized, _ZERO
            self.qty += signed
            self.cost += signed * fill.price
            self.episode_cash -= signed * fill.price
        else:
            size = abs(self.qty)
            closing = min(fill.qty, size)
            sign = Decimal(1) if self.qty > 0 else Decimal(-1)
            self.episode_cash += sign * closing * fill.price
            self.qty += signed
            if closing == size:  # closed: realize the episode's exact cash flow (no rounding carried over)
                self.realized = self.episode_base + self.episode_cash
                self.cost = _ZERO
                self.opened_ms = None
                if self.qty != 0:  # crossed zero: the remainder opens the other side at this price
                    self.cost = self.qty * fill.price
                    self.opened_ms = fill.ts_ms
                    self.episode_base, self.episode_cash = self.realized, -self.qty * fill.price
            else:
                released = self.cost * closing / size
                self.realized += sign * closing * fill.price - released
                self.cost -= released
        realized = self.realized - before
        day = fill.ts_ms // DAY_MS
        delta = realized
        if fee_quote is not None:
            self.fees += fee_quote
            delta -= fee_quote
        else:
            self.unconverted[fill.fee_asset] = self.unconverted.get(fill.fee_asset, _ZERO) + fill.fee
        self.daily[day] = self.daily.get(day, _ZERO) + delta
        self.updated_ms = max(self.updated_ms, fill.ts_ms)

    @property
    def avg_entry(self) -> Decimal:
        return _ZERO if self.qty == 0 else self.cost / self.qty


class PositionBook:
    """Every symbol's position, rebuilt from fills (see the module doc for the accounting rules).

    ``clock`` decides which UTC day :meth:`daily_pnl` reports; ``on_event`` (optional) receives
    ``position.fee_unconverted`` events.
    """

    __slots__ = ("_clock", "_ledgers", "_marks", "_on_event", "_peak_equity")

    def __init__(self, clock: Clock, on_event: OnEvent | None = None) -> None:
        self._clock = clock
        self._on_event = on_event
        self._ledgers: dict[str, _Ledger] = {}
        self._marks: dict[str, Decimal] = {}
        self._peak_equity: Decimal | None = None

    # --- fills ----------------------------------------------------------------------------------------------
    def apply(self, fill: Fill) -> bool:
        """Apply ``fill``; False when it is a duplicate already counted. FillRejectedError if it is invalid or
        conflicts with a known fill of the same trade id."""
        self._validate(fill)
        ledger = self._ledgers.setdefault(fill.symbol, _Ledger())
        known = ledger.by_id.get(fill.trade_id)
        if known is not None:
            if known != fill:
                raise FillRejectedError(
                    f"{fill.symbol}: trade {fill.trade_id!r} already recorded with different content "
                    f"({known!r} != {fill!r})"
                )
            return False
        ledger.by_id[fill.trade_id] = fill
        in_order = not ledger.fills or _sort_key(ledger.fills[-1]) <= _sort_key(fill)
        ledger.fills.append(fill)
        if in_order:
            ledger.apply(fill, self._fee_quote(fill))
        else:
            self._fee_quote(fill)  # report an unconverted fee once, before the silent replay
            ledger.fills.sort(key=_sort_key)
            ledger.reset()
            for f in ledger.fills:
                ledger.apply(f, self._fee_quote(f, report=False))
        return True

    def apply_all(self, fills: list[Fill] | tuple[Fill, ...]) -> int:
        """Apply several fills; returns how many were new."""
        return sum(1 for f in fills if self.apply(f))

    def has_fill(self, symbol: str, trade_id: str) -> bool:
        """True once ``(symbol, trade_id)`` has been applied."""
        ledger = self._ledgers.get(symbol)
        return ledger is not None and trade_id in ledger.by_id

    # --- marks and snapshots --------------------------------------------------------------------------------
    def set_mark(self, symbol: str, mark: Decimal) -> None:
        """Record the latest mark price of ``symbol`` (used by snapshots without an explicit mark)."""
        if not mark > 0:
            raise ValueError(f"{symbol}: mark must be > 0, got {mark}")
        self._marks[symbol] = mark

    def snapshot(self, symbol: str, mark: Decimal | None = None) -> PositionSnapshot:
        """The position of ``symbol`` (flat and zero for a symbol never traded)."""
        ledger = self._ledgers.get(symbol)
        use_mark = mark if mark is not None else self._marks.get(symbol)
        if ledger is None:
            return PositionSnapshot(symbol, _ZERO, _ZERO, _ZERO, _ZERO, None, 0, use_mark)
        return PositionSnapshot(
            symbol=symbol,
            qty=ledger.qty,
            avg_entry=ledger.avg_entry,
            realized_pnl=ledger.realized,
            fees=ledger.fees,
            opened_ms=ledger.opened_ms,
            updated_ms=ledger.updated_ms,
            mark=use_mark,
        )

    def symbols(self) -> tuple[str, ...]:
        """Every symbol with at least one fill, sorted."""
        return tuple(sorted(self._ledgers))

    def open_positions(self) -> dict[str, PositionSnapshot]:
        """Snapshots of the symbols whose position is not flat."""
        return {s: self.snapshot(s) for s in self.symbols() if self._ledgers[s].qty != 0}

    def unconverted_fees(self, symbol: str) -> dict[str, Decimal]:
        """Fees of ``symbol`` paid in an asset that is neither its base nor its quote, by asset."""
        ledger = self._ledgers.get(symbol)
        return dict(ledger.unconverted) if ledger is not None else {}

    # --- kill-switch inputs ---------------------------------------------------------------------------------
    def realized_pnl(self) -> Decimal:
        """Realized PnL of every symbol (before fees)."""
        return sum((lg.realized for lg in self._ledgers.values()), _ZERO)

    def total_fees(self) -> Decimal:
        """Fees of every symbol in quote."""
        return sum((lg.fees for lg in self._ledgers.values()), _ZERO)

    def unrealized_pnl(self) -> Decimal:
        """Unrealized PnL of every open position at its last mark (positions without a mark count 0)."""
        return sum((self.snapshot(s).unrealized_pnl for s in self.symbols()), _ZERO)

    def daily_pnl(self, day_ms: int | None = None) -> Decimal:
        """Realized PnL minus fees of the fills dated in one UTC day: the clock's day by default, else the day
        containing ``day_ms``."""
        day = (self._clock.now_ms() if day_ms is None else day_ms) // DAY_MS
        return sum((lg.daily.get(day, _ZERO) for lg in self._ledgers.values()), _ZERO)

    def drawdown_pct(self, equity: Decimal) -> float:
        """Drawdown of ``equity`` from the highest equity seen by this method, as a fraction (0.05 = 5 %).

        Each call records ``equity`` as the new peak when it is higher; 0.0 at or above the peak."""
        if self._peak_equity is None or equity > self._peak_equity:
            self._peak_equity = equity
        peak = self._peak_equity
        if peak <= 0:
            return 0.0
        return float(max(_ZERO, (peak - equity) / peak))

    @property
    def peak_equity(self) -> Decimal | None:
        """The highest equity passed to :meth:`drawdown_pct` (None before the first call)."""
        return self._peak_equity

    # --- internals ------------------------------------------------------------------------------------------
    @staticmethod
    def _validate(fill: Fill) -> None:
        if not fill.trade_id:
            raise FillRejectedError(f"{fill.symbol}: fill without trade_id cannot be deduplicated")
        if not fill.qty.is_finite() or fill.qty <= 0:
            raise FillRejectedError(f"{fill.symbol}: trade {fill.trade_id!r} qty must be > 0, got {fill.qty}")
        if not fill.price.is_finite() or fill.price <= 0:
            raise FillRejectedError(
                f"{fill.symbol}: trade {fill.trade_id!r} price must be > 0, got {fill.price}"
            )
        if not fill.fee.is_finite():
            raise FillRejectedError(f"{fill.symbol}: trade {fill.trade_id!r} fee is not finite: {fill.fee}")

    def _fee_quote(self, fill: Fill, *, report: bool = True) -> Decimal | None:
        """The fee in quote, or None when its asset cannot be valued from the fill alone."""
        if fill.fee == 0:
            return _ZERO
        pair = split_symbol(fill.symbol)
        asset = fill.fee_asset.upper()
        if pair is not None and asset == pair[1].upper():
            return fill.fee
        if pair is not None and asset == pair[0].upper():
            return fill.fee * fill.price
        if report and self._on_event is not None:
            self._on_event(
                {
                    "event": "position.fee_unconverted",
                    "symbol": fill.symbol,
                    "trade_id": fill.trade_id,
                    "fee": str(fill.fee),
                    "fee_asset": fill.fee_asset,
                }
            )
        return None
