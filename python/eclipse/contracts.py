"""Typed contracts between the layers of the execution engine (scanner -> gate -> sizing -> router ->
venue; fills -> positions; reconcile -> guard knobs) and the journal events they write.

Everything that crosses a layer is one of these frozen dataclasses: no dicts of loose keys. Prices and
quantities are Decimal; times are Unix ms from the injected Clock. Venue records (:class:`Fill`,
:class:`OrderReport`, :class:`OrderRequest`) come from :mod:`eclipse.venues.types` and are re-exported.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from eclipse.venues.errors import VenueErrorKind
from eclipse.venues.types import Fill, OrderReport, OrderRequest, OrderStatus, OrderType, Side

__all__ = [
    "EVENT_TYPES",
    "CancelRecorded",
    "EntryIntent",
    "Fill",
    "FillRecorded",
    "GuardKnobs",
    "IntentCreated",
    "IntentKind",
    "JournalEvent",
    "KnobChanged",
    "OrderAcked",
    "OrderReport",
    "OrderRequest",
    "OrderResolved",
    "OrderSubmitting",
    "OrderUnknown",
    "PositionChanged",
    "PositionSnapshot",
    "PostureChanged",
    "ProtectionEvent",
    "ProtectionState",
    "ReconcileSummary",
    "RouterOutcome",
    "RouterRequest",
    "RouterResult",
    "Side",
    "TransitionRefused",
]


class IntentKind(StrEnum):
    """Why an order exists. Everything but ENTRY reduces risk and is never blocked by a guard."""

    ENTRY = "entry"
    EXIT = "exit"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    FLATTEN = "flatten"

    @property
    def reduces_risk(self) -> bool:
        """True for exits and protection: always allowed, always reduce-only."""
        return self is not IntentKind.ENTRY


@dataclass(frozen=True, slots=True)
class EntryIntent:
    """The scanner's decision to open a position on ``symbol`` at the close of one bar.

    ``intent_id`` is deterministic (symbol, side, bar close), so a replay or a restart recreates the same id.
    """

    intent_id: str
    symbol: str
    side: Side
    bar_close_ms: int
    confidence: float
    ref_price: Decimal
    atr_pct: float | None = None
    reason: str = ""

    @staticmethod
    def make_id(symbol: str, side: Side, bar_close_ms: int) -> str:
        """The deterministic id of an entry on ``symbol`` decided at ``bar_close_ms``."""
        return f"E-{symbol.split(':')[0].replace('/', '')}-{side.value[0]}-{bar_close_ms}"


@dataclass(frozen=True, slots=True)
class GuardKnobs:
    """What the reliability layer allows entries right now: the one type the posture machine produces
    (:data:`eclipse.machines.posture.KNOBS`), the guards tighten and the entry gate, sizing and leverage read.

    Exits and protection are not knobs: :attr:`exits_allowed` and :attr:`protection_allowed` are constant
    True. ``min_confidence`` is an absolute floor; ``min_confidence_delta`` is added to the strategy's own
    minimum (``ENTRY_MIN_CONFIDENCE``). ``code`` is the stable ``entry.blocked`` reason of the restriction
    (``posture_red_lock``, ``kill_daily_loss``, ``reconcile_stale`` ...); ``reason`` is for humans.
    """

    min_confidence: float = 0.0
    notional_scale: float = 1.0
    qty_scale: float = 1.0
    leverage_scale: float = 1.0
    entry_block: bool = False
    reason: str = "static"
    min_confidence_delta: float = 0.0
    code: str = ""

    @property
    def entries_allowed(self) -> bool:
        """False while entries are blocked."""
        return not self.entry_block

    @property
    def exits_allowed(self) -> bool:
        """Always True: no posture or guard blocks an exit."""
        return True

    @property
    def protection_allowed(self) -> bool:
        """Always True: no posture or guard blocks placing or replacing a stop."""
        return True

    @property
    def restricts(self) -> bool:
        """True when these knobs refuse or shrink anything compared with the defaults."""
        return (
            self.entry_block
            or self.min_confidence > 0
            or self.min_confidence_delta > 0
            or min(self.notional_scale, self.qty_scale, self.leverage_scale) < 1
        )

    def at_least_as_strict_as(self, other: GuardKnobs) -> bool:
        """True when these knobs admit no entry that ``other`` would refuse, at no larger size."""
        return (
            (self.entry_block or not other.entry_block)
            and self.min_confidence >= other.min_confidence
            and self.min_confidence_delta >= other.min_confidence_delta
            and self.notional_scale <= other.notional_scale
            and self.qty_scale <= other.qty_scale
            and self.leverage_scale <= other.leverage_scale
        )

    def tighten(self, other: GuardKnobs) -> GuardKnobs:
        """The strictest combination of both (blocks OR-ed, floors max-ed, scales min-ed); the reason and
        code of a block come first, then those of the other restrictions."""
        if not other.restricts:
            return self
        if not self.restricts:
            return other
        parts = sorted((self, other), key=lambda k: not k.entry_block)
        reason = "; ".join(dict.fromkeys(k.reason for k in parts if k.restricts and k.reason))
        code = next((k.code for k in parts if k.restricts and k.code), "")
        return GuardKnobs(
            min_confidence=max(self.min_confidence, other.min_confidence),
            notional_scale=min(self.notional_scale, other.notional_scale),
            qty_scale=min(self.qty_scale, other.qty_scale),
            leverage_scale=min(self.leverage_scale, other.leverage_scale),
            entry_block=self.entry_block or other.entry_block,
            reason=reason,
            min_confidence_delta=max(self.min_confidence_delta, other.min_confidence_delta),
            code=code,
        )


@dataclass(frozen=True, slots=True)
class RouterRequest:
    """One order the router must place for an intent. ``client_order_id`` is fixed for every resend."""

    intent_id: str
    kind: IntentKind
    symbol: str
    side: Side
    type: OrderType
    qty: Decimal | None
    client_order_id: str
    ref_price: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    reduce_only: bool = False
    close_position: bool = False
    post_only: bool = False

    @property
    def notional(self) -> Decimal:
        """qty x reference price (0 for a close-position conditional)."""
        return (self.qty or Decimal(0)) * self.ref_price

    def venue_request(self) -> OrderRequest:
        """The venue-level order."""
        return OrderRequest(
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            qty=self.qty,
            client_order_id=self.client_order_id,
            price=self.price,
            trigger_price=self.trigger_price,
            reduce_only=self.reduce_only,
            close_position=self.close_position,
            post_only=self.post_only,
        )


class RouterOutcome(StrEnum):
    """How a router request ended."""

    PLACED = "placed"  # the venue has the order (open, partially filled or filled)
    REJECTED = "rejected"  # a definitive refusal by the venue
    BLOCKED = "blocked"  # refused locally before any venue call (validation, notional cap)
    UNRESOLVED = "unresolved"  # retries and lookups ran out with the outcome still unknown


@dataclass(frozen=True, slots=True)
class RouterResult:
    """The router's answer for one request, with what it took to get it."""

    request: RouterRequest
    outcome: RouterOutcome
    report: OrderReport | None = None
    error_kind: VenueErrorKind | None = None
    error_code: int | str | None = None
    why: str = ""
    tries: int = 0
    lookups: int = 0


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """A position built from fills: signed ``qty`` (> 0 long), average entry, PnL and fees (quote)."""

    symbol: str
    qty: Decimal
    avg_entry: Decimal
    realized_pnl: Decimal
    fees: Decimal
    opened_ms: int | None
    updated_ms: int
    mark: Decimal | None = None

    @property
    def unrealized_pnl(self) -> Decimal:
        """(mark - entry) x qty, 0 without a mark."""
        return Decimal(0) if self.mark is None else (self.mark - self.avg_entry) * self.qty

    @property
    def side(self) -> Side | None:
        """BUY for long, SELL for short, None when flat."""
        return None if self.qty == 0 else (Side.BUY if self.qty > 0 else Side.SELL)


@dataclass(frozen=True, slots=True)
class ReconcileSummary:
    """What one reconcile pass found comparing venue truth with local belief."""

    ts_ms: int
    orders_checked: int = 0
    unknown_resolved: int = 0
    fills_added: int = 0
    adopted_orders: tuple[str, ...] = ()
    position_mismatches: tuple[str, ...] = ()
    missing_protection: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        """True when local belief matched the venue."""
        return not (self.adopted_orders or self.position_mismatches or self.missing_protection)


class ProtectionState(StrEnum):
    """Journal word for protective orders."""

    PLACED = "placed"
    MISSING = "missing"


# --- journal events (append-only; every field typed; ``seq`` is assigned by the journal) ---------------


@dataclass(frozen=True, slots=True)
class IntentCreated:
    """An intent exists (written before any order for it)."""

    ts_ms: int
    intent_id: str
    kind: IntentKind
    symbol: str
    side: Side
    qty: Decimal | None
    ref_price: Decimal
    confidence: float = 0.0
    atr_pct: float | None = None
    """An entry's ATR% at the decision (protective ATR distances, exit ATR scaling); None when unknown."""


@dataclass(frozen=True, slots=True)
class OrderSubmitting:
    """An order is about to be sent (written BEFORE the venue call; a crash after it: resolve by lookup)."""

    ts_ms: int
    intent_id: str
    client_order_id: str
    kind: IntentKind
    symbol: str
    side: Side
    type: OrderType
    qty: Decimal | None
    price: Decimal | None
    trigger_price: Decimal | None
    reduce_only: bool
    close_position: bool
    attempt: int
    recovered: bool = False
    """True when written by recovery for an order the venue holds under one of our client ids but the journal
    lost (power loss before the record reached the disk): not written before the venue call."""


@dataclass(frozen=True, slots=True)
class OrderAcked:
    """The venue has the order: its report at that moment (an acknowledgement, a lookup, a recovery).

    ``order_id`` is in the order's own id space (an algo id for a conditional order). ``qty`` is the venue's
    order quantity when it reported one (a reduce-only order the venue shrank reports less than was sent).
    ``triggered_order_id``: for a triggered conditional, the regular order it became, whose fills are this
    order's (Binance ``actualOrderId``); ``status`` and ``filled`` are then that order's once looked up.
    """

    ts_ms: int
    client_order_id: str
    order_id: str
    status: OrderStatus
    filled: Decimal
    qty: Decimal | None = None
    triggered_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrderUnknown:
    """The outcome of a send is unknown (timeout, 5xx): a lookup by client id must settle it."""

    ts_ms: int
    client_order_id: str
    error_kind: VenueErrorKind
    detail: str


@dataclass(frozen=True, slots=True)
class OrderResolved:
    """A terminal answer for an order: rejected, not found after an unknown outcome, canceled, expired,
    filled."""

    ts_ms: int
    client_order_id: str
    status: OrderStatus
    error_kind: VenueErrorKind | None = None
    error_code: int | str | None = None
    detail: str = ""
    filled: Decimal | None = None  # the venue's filled quantity at that moment (None: not known)
    triggered_order_id: str | None = None
    """For a conditional reported TRIGGERED: the regular order it became (its fills are this order's)."""


@dataclass(frozen=True, slots=True)
class FillRecorded:
    """One venue trade of one of our orders (deduplicated by ``trade_id``)."""

    ts_ms: int
    client_order_id: str
    fill: Fill


@dataclass(frozen=True, slots=True)
class CancelRecorded:
    """A cancel was requested (``requested``) or confirmed."""

    ts_ms: int
    client_order_id: str
    requested: bool


@dataclass(frozen=True, slots=True)
class PositionChanged:
    """The position after a fill."""

    ts_ms: int
    snapshot: PositionSnapshot


@dataclass(frozen=True, slots=True)
class ProtectionEvent:
    """A protective order placed for a position, or found missing."""

    ts_ms: int
    symbol: str
    state: ProtectionState
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class TransitionRefused:
    """A state machine refused an event (the report is kept: the venue's fact stands, the machine did not
    take it). ``subject`` is the order's client id (order machine) or the symbol (protection machine)."""

    ts_ms: int
    machine: str
    subject: str
    state: str
    trigger: str
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class KnobChanged:
    """A guard knob changed value."""

    ts_ms: int
    knob: str
    old: str
    new: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PostureChanged:
    """The risk posture moved."""

    ts_ms: int
    old: str
    new: str
    reason: str = ""


JournalEvent = (
    IntentCreated
    | OrderSubmitting
    | OrderAcked
    | OrderUnknown
    | OrderResolved
    | FillRecorded
    | CancelRecorded
    | PositionChanged
    | ProtectionEvent
    | TransitionRefused
    | KnobChanged
    | PostureChanged
)

EVENT_TYPES: dict[str, type] = {
    "intent.created": IntentCreated,
    "order.submitting": OrderSubmitting,
    "order.acked": OrderAcked,
    "order.unknown": OrderUnknown,
    "order.resolved": OrderResolved,
    "order.fill": FillRecorded,
    "order.cancel": CancelRecorded,
    "position.changed": PositionChanged,
    "protection": ProtectionEvent,
    "machine.refused": TransitionRefused,
    "knob.changed": KnobChanged,
    "posture.changed": PostureChanged,
}
"""Journal event name -> record class (the journal stores the name and the record's fields)."""
