"""What the daemon saw, for its status and its run summary: a tap on the journal and the telemetry (the
engine is not asked to keep history for display), bar lag and order-path latency, trades and blocks.

It only observes: nothing here decides anything. Lists shown in the status are bounded; the latency
samples kept for the summary's quantiles are bounded too (a reservoir of the most recent values).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import numpy as np

from eclipse.contracts import (
    FillRecorded,
    IntentCreated,
    IntentKind,
    JournalEvent,
    OrderAcked,
    OrderResolved,
    OrderSubmitting,
)
from eclipse.runtime.metrics import DaemonMetrics
from eclipse.runtime.snapshot import FillRow, OrderRow, SignalRow
from eclipse.telemetry import Scalar

__all__ = ["RunObserver", "quantiles"]

_SHOWN = 12
_SAMPLES = 100_000


def quantiles(values: deque[float] | list[float], qs: tuple[float, ...] = (50, 95, 99)) -> list[float | None]:
    """Percentiles ``qs`` of ``values`` (None each when there are none)."""
    if not values:
        return [None for _ in qs]
    arr = np.fromiter(values, dtype=np.float64, count=len(values))
    return [float(v) for v in np.percentile(arr, qs)]


class RunObserver:
    """Taps the journal (:meth:`on_journal`) and the telemetry (:meth:`on_telemetry`)."""

    def __init__(self, metrics: DaemonMetrics | None = None) -> None:
        self.metrics = metrics
        self.signals: deque[SignalRow] = deque(maxlen=_SHOWN)
        self.orders: dict[str, OrderRow] = {}
        self._order_ids: deque[str] = deque()
        self.fills: deque[FillRow] = deque(maxlen=_SHOWN)
        self.blocked: Counter[str] = Counter()
        self.exits: Counter[str] = Counter()
        self.bar_lag_ms: deque[float] = deque(maxlen=_SAMPLES)
        self.order_path_us: deque[float] = deque(maxlen=_SAMPLES)
        self.events: deque[str] = deque(maxlen=50)
        self.orders_sent = 0
        self.fills_count = 0
        self.stops_placed = 0
        self.trades = 0
        self.wins = 0
        self.trade_pnl: list[float] = []
        self.slippage_bps: dict[str, list[float]] = {}
        self._kinds: dict[str, IntentKind] = {}
        self._closers: set[str] = set()
        self._intent_ref: dict[str, Decimal] = {}
        self._ref: dict[str, tuple[Decimal, int]] = {}  # client id -> (reference price, side sign)
        self.bars = 0
        self.last_bar_ms: int | None = None

    # --- taps -------------------------------------------------------------------------------------------
    def on_journal(self, event: JournalEvent) -> None:
        """A journal record the engine wrote."""
        if isinstance(event, IntentCreated):
            self._intent_ref[event.intent_id] = event.ref_price
        if isinstance(event, OrderSubmitting):
            self._submitting(event)
        elif isinstance(event, OrderAcked | OrderResolved):
            row = self.orders.get(event.client_order_id)
            if row is not None:
                self.orders[event.client_order_id] = _with_state(row, event.status.value)
        elif isinstance(event, FillRecorded):
            self._fill(event)

    def _submitting(self, event: OrderSubmitting) -> None:
        cid = event.client_order_id
        if cid not in self.orders:
            self.orders_sent += 1
            if self.metrics is not None:
                self.metrics.order_sent(event.kind.value)
            self._order_ids.append(cid)
            if len(self._order_ids) > _SHOWN:
                self.orders.pop(self._order_ids.popleft(), None)
            if event.kind is IntentKind.STOP_LOSS:
                self.stops_placed += 1
        self._kinds[cid] = event.kind
        ref = self._intent_ref.get(event.intent_id)
        if ref is not None and event.kind in (IntentKind.ENTRY, IntentKind.EXIT):
            self._ref[cid] = (ref, 1 if event.side.value == "buy" else -1)
        qty = float(event.qty) if event.qty is not None else 0.0
        self.orders[cid] = OrderRow(
            event.ts_ms, event.symbol, cid, event.kind.value, event.side.value, event.type.value, qty, "sent"
        )

    def _fill(self, event: FillRecorded) -> None:
        f = event.fill
        kind = self._kinds.get(event.client_order_id)
        self.fills_count += 1
        if self.metrics is not None:
            self.metrics.fill(f.symbol, kind.value if kind else "other")
        self.fills.append(
            FillRow(
                f.ts_ms,
                f.symbol,
                f.side.value,
                float(f.qty),
                float(f.price),
                float(f.fee),
                kind.value if kind else "?",
            )
        )
        if kind is not None and kind is not IntentKind.ENTRY and event.client_order_id not in self._closers:
            self._closers.add(event.client_order_id)
            self.exits[kind.value] += 1  # positions closed or reduced, by the kind of order that did it
        ref = self._ref.get(event.client_order_id)
        if ref is not None and ref[0] > 0 and kind in (IntentKind.ENTRY, IntentKind.EXIT):
            bps = float((f.price - ref[0]) / ref[0]) * 1e4 * ref[1]
            self.slippage_bps.setdefault(f.symbol, []).append(bps)

    def on_telemetry(self, record: Mapping[str, Scalar]) -> None:
        """A telemetry event the daemon emitted."""
        name = record.get("event")
        if name == "entry.blocked":
            reason = str(record.get("reason", "?"))
            self.blocked[reason] += 1
            if self.metrics is not None:
                self.metrics.entry_blocked(reason)
            conf = record.get("confidence")
            side = record.get("side")
            if isinstance(conf, float | int) and side is not None:
                self.signals.append(
                    SignalRow(
                        int(record.get("ts_ms") or 0),
                        str(record.get("symbol", "")),
                        str(side),
                        float(conf),
                        reason,
                        str(record.get("detail", ""))[:120],
                    )
                )
        elif name == "entry.submitted":
            conf = record.get("confidence")
            self.signals.append(
                SignalRow(
                    int(record.get("ts_ms") or 0),
                    str(record.get("symbol", "")),
                    str(record.get("side", "")),
                    float(conf) if isinstance(conf, int | float) else 0.0,
                    None,
                    str(record.get("reason", ""))[:160],
                )
            )
        elif name == "position.closed":
            pnl = record.get("pnl")
            value = float(pnl) if isinstance(pnl, int | float | str) else 0.0
            self.trades += 1
            self.wins += value > 0
            self.trade_pnl.append(value)

    # --- measurements -------------------------------------------------------------------------------------
    def bar_handled(self, symbol: str, close_ms: int, lag_ms: float) -> None:
        """A closed bar was handled ``lag_ms`` (wall) after its close."""
        self.bars += 1
        self.last_bar_ms = close_ms
        self.bar_lag_ms.append(lag_ms)
        if self.metrics is not None:
            self.metrics.bar_processed(symbol)
            self.metrics.observe_bar_lag(symbol, lag_ms / 1000.0)

    def order_path(self, micros: float) -> None:
        """An order left for the venue ``micros`` after its bar was handed to the engine."""
        self.order_path_us.append(micros)
        if self.metrics is not None:
            self.metrics.observe_order_path(micros / 1e6)

    def summary_fields(self) -> dict[str, Any]:
        """The observer's part of the run summary."""
        lag = quantiles(self.bar_lag_ms)
        path = quantiles(self.order_path_us)
        return {
            "bars": self.bars,
            "trades": self.trades,
            "wins": self.wins,
            "win_rate": (self.wins / self.trades) if self.trades else None,
            "orders": self.orders_sent,
            "fills": self.fills_count,
            "stops_placed": self.stops_placed,
            "blocked": dict(self.blocked.most_common()),
            "exits": dict(self.exits.most_common()),
            "slippage_bps": {
                s: round(float(np.mean(v)), 3) for s, v in sorted(self.slippage_bps.items()) if v
            }
            or None,
            "bar_lag_ms": dict(zip(("p50", "p95", "p99"), _rounded(lag, 3), strict=True)),
            "order_path_us": dict(zip(("p50", "p95", "p99"), _rounded(path, 1), strict=True)),
        }


def _rounded(values: list[float | None], digits: int) -> list[float | None]:
    return [None if v is None else round(v, digits) for v in values]


def _with_state(row: OrderRow, state: str) -> OrderRow:
    return OrderRow(row.ts_ms, row.symbol, row.client_order_id, row.kind, row.side, row.type, row.qty, state)
