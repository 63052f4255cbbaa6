"""What the daemon shows about itself: one typed, immutable status snapshot (terminal display, ``/status``,
``eclipse status``) and the control surface the status server's POST actions call.

Money and quantities are floats here: the snapshot is for people and dashboards, never for decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Protocol

__all__ = [
    "DaemonControl",
    "FillRow",
    "LoopRow",
    "OrderRow",
    "PositionRow",
    "SignalRow",
    "StatusSnapshot",
]


@dataclass(frozen=True, slots=True)
class PositionRow:
    """An open position with its protection (``stop`` / ``take_profit``: trigger prices of the live legs)."""

    symbol: str
    side: str  # "long" | "short"
    qty: float
    entry_price: float
    mark: float
    unrealized: float
    stop: float | None
    take_profit: float | None
    protected: bool
    opened_ms: int


@dataclass(frozen=True, slots=True)
class SignalRow:
    """A scored bar with a direction: taken, or blocked and why."""

    ts_ms: int
    symbol: str
    side: str
    confidence: float
    blocked_by: str | None
    explanation: str


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order the engine sent (``state``: the order machine's state)."""

    ts_ms: int
    symbol: str
    client_order_id: str
    kind: str  # entry | exit | stop_loss | take_profit | flatten ...
    side: str
    type: str
    qty: float
    state: str


@dataclass(frozen=True, slots=True)
class FillRow:
    """A fill booked to one of our orders."""

    ts_ms: int
    symbol: str
    side: str
    qty: float
    price: float
    fee: float
    kind: str


@dataclass(frozen=True, slots=True)
class LoopRow:
    """One supervised loop: ``state`` is running | restarting | stopped | failed."""

    name: str
    state: str
    crashes: int
    last_ok_ms: int | None


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """The daemon at one moment. ``now_ms`` is market time (the venue's or the SimClock), ``wall_ms`` the
    wall clock; lag and latency fields are None until measured."""

    mode: str  # live | paper | sim | simulated-time
    venue: str
    clock: str  # wall | sim
    run_dir: str
    started_ms: int
    now_ms: int
    wall_ms: int
    posture: str
    entries: str  # "enabled" or "paused: <reason>" / "halted: <reason>"
    equity: float
    realized_pnl: float
    fees: float
    unrealized_pnl: float
    net_pnl: float
    drawdown: float
    bars: int
    last_bar_ms: int | None
    bar_lag_ms_p50: float | None
    bar_lag_ms_p95: float | None
    order_path_us_p50: float | None
    order_path_us_p95: float | None
    healthy: bool
    health_reason: str
    symbols: tuple[str, ...] = ()
    positions: tuple[PositionRow, ...] = ()
    signals: tuple[SignalRow, ...] = ()
    orders: tuple[OrderRow, ...] = ()
    fills: tuple[FillRow, ...] = ()
    blocked: tuple[tuple[str, int], ...] = ()
    """Blocked-entry reasons and their counts, most frequent first."""
    loops: tuple[LoopRow, ...] = ()
    trades: int = 0
    wins: int = 0
    versions: Mapping[str, str] = field(default_factory=dict)
    debt: float = 0.0
    """The belief debt of the reliability loop (0: belief equals the venue's truth)."""
    reliability: Mapping[str, object] = field(default_factory=dict)
    """Posture, debt, contradictions, symbol blocks, the last reconcile and the KPIs."""

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (tuples become lists)."""
        return asdict(self)


class DaemonControl(Protocol):
    """What the status server (and the terminal) may ask of a running daemon."""

    def snapshot(self) -> StatusSnapshot:
        """The daemon's status now."""
        ...

    def pause_entries(self, reason: str) -> None:
        """Stop new entries (exits and protection keep running) until :meth:`resume_entries`."""
        ...

    def resume_entries(self) -> None:
        """Undo :meth:`pause_entries` (other blocks, e.g. a risk halt, stay)."""
        ...

    async def flatten(self, symbol: str) -> bool:
        """Close ``symbol``'s position with a reduce-only market order; True once the book is flat."""
        ...

    def request_stop(self) -> None:
        """Begin a graceful stop (as SIGTERM)."""
        ...

    def lift_guard(self, code: str, symbol: str | None = None) -> bool:
        """Lift an entry guard's halt or pause by its code (``kill_drawdown``, ``anomaly_pause`` ...), for one
        symbol or every one; True when something was lifted."""
        ...
