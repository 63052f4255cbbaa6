"""The daemon's Prometheus metrics (``/metrics``), in a registry of their own.

Names follow Prometheus conventions: the ``eclipse_`` prefix, base units (seconds; money in the quote
currency, ``_quote``; position sizes in the base asset, ``_base``), ``_total`` on counters. Label values are
bounded: symbols are the configured ones and every label keeps at most a fixed number of distinct values,
later ones are counted as ``other`` (a typo or an unexpected reason can never grow the series without end).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import generate_latest

__all__ = [
    "BAR_LAG_BUCKETS",
    "ORDER_PATH_BUCKETS",
    "OTHER",
    "POSTURES",
    "DaemonMetrics",
]

BAR_LAG_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds from a bar's close to its processing: 1 ms .. 30 s."""
ORDER_PATH_BUCKETS: Final = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.0075, 0.01,
)  # fmt: skip
"""Seconds from a decision to the order handed to the venue client: 50 us .. 10 ms."""
POSTURES: Final = ("GREEN", "YELLOW", "ORANGE", "RED_LOCK", "POST_RED_WARMUP")
"""The risk postures (``specs/posture.toml``), each a label value of ``eclipse_posture``."""
OTHER: Final = "other"
"""The label value that stands for every value past a label's bound (or an unconfigured symbol)."""


class _Bounded:
    """Keeps at most ``limit`` distinct label values (or exactly ``allowed`` when given); others -> OTHER."""

    __slots__ = ("_allowed", "_limit", "_seen")

    def __init__(self, limit: int, allowed: Iterable[str] = ()) -> None:
        self._allowed = frozenset(allowed)
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        value = str(value)
        if self._allowed:
            return value if value in self._allowed else OTHER
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(value)
        return value


class DaemonMetrics:
    """Every metric the daemon exports; ``render()`` is the ``/metrics`` body (``CONTENT_TYPE``).

    ``symbols``: the configured symbols (others are counted as ``other``; empty: the first 64 seen).
    ``loops``: the supervised loops, shown as down (0) and with no crash until told otherwise.
    """

    CONTENT_TYPE: Final[str] = CONTENT_TYPE_LATEST

    def __init__(
        self, symbols: Iterable[str] = (), loops: Iterable[str] = (), *, label_limit: int = 32
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        symbols = tuple(symbols)
        self._symbol = _Bounded(64, symbols)
        self._kind = _Bounded(label_limit)
        self._outcome = _Bounded(label_limit)
        self._reason = _Bounded(label_limit)
        self._loop = _Bounded(label_limit)
        reg = self.registry
        self.bar_lag = Histogram(
            "eclipse_bar_lag_seconds",
            "Seconds from a bar's close (market time) to the end of its processing.",
            ["symbol"],
            buckets=BAR_LAG_BUCKETS,
            registry=reg,
        )
        self.order_path = Histogram(
            "eclipse_order_path_seconds",
            "Seconds from an order decision to the request handed to the venue client.",
            buckets=ORDER_PATH_BUCKETS,
            registry=reg,
        )
        self.bars = Counter("eclipse_bars", "Bars processed.", ["symbol"], registry=reg)
        self.orders = Counter(
            "eclipse_orders",
            "Orders by kind (entry, exit, stop_loss, ...) and outcome (sent, then e.g. filled, rejected).",
            ["kind", "outcome"],
            registry=reg,
        )
        self.fills = Counter("eclipse_fills", "Fills booked to our orders.", ["symbol", "kind"], registry=reg)
        self.entries_blocked = Counter(
            "eclipse_entries_blocked",
            "Entry signals not taken, by blocking reason.",
            ["reason"],
            registry=reg,
        )
        self.loop_crashes = Counter(
            "eclipse_loop_crashes", "Crashes of a supervised loop (it is restarted).", ["loop"], registry=reg
        )
        self.loop_up = Gauge(
            "eclipse_loop_up", "1 while a supervised loop runs, else 0.", ["loop"], registry=reg
        )
        self.open_positions = Gauge("eclipse_open_positions", "Symbols with an open position.", registry=reg)
        self.position = Gauge(
            "eclipse_position_base",
            "Signed position size in the base asset (> 0 long, < 0 short).",
            ["symbol"],
            registry=reg,
        )
        self.realized_pnl = Gauge(
            "eclipse_realized_pnl_quote", "Realized PnL of the run, before fees (quote).", registry=reg
        )
        self.fees = Gauge("eclipse_fees_quote", "Fees paid in the run (quote).", registry=reg)
        self.unrealized_pnl = Gauge(
            "eclipse_unrealized_pnl_quote",
            "Unrealized PnL of open positions at the mark (quote).",
            registry=reg,
        )
        self.equity = Gauge("eclipse_equity_quote", "Account equity (quote).", registry=reg)
        self.build = Info("eclipse_build", "Versions of the running daemon.", registry=reg)
        self.debt = Gauge(
            "eclipse_belief_debt", "Belief debt (severity-weighted open contradictions).", registry=reg
        )
        self.debt_growth = Gauge(
            "eclipse_belief_debt_growth_per_minute",
            "Belief debt change per minute (trailing window).",
            registry=reg,
        )
        self.posture = Gauge(
            "eclipse_posture", "1 for the current risk posture, 0 for the others.", ["posture"], registry=reg
        )
        self.tradeable = Gauge(
            "eclipse_symbol_tradeable",
            "1 while the symbol's reconcile is complete and recent (entries possible), else 0.",
            ["symbol"],
            registry=reg,
        )
        self.mismatch_minutes = Gauge(
            "eclipse_mismatch_debt_minutes", "Minutes with a contradiction open, this run.", registry=reg
        )
        self.repair_ratio = Gauge(
            "eclipse_reconcile_repair_success_ratio",
            "Reconcile repairs that succeeded / attempted.",
            registry=reg,
        )
        self.unknown_resolution = Gauge(
            "eclipse_unknown_order_resolution_seconds",
            "Submit-to-resolution time of orders of unknown outcome.",
            ["quantile"],
            registry=reg,
        )
        self.protection_gap = Gauge(
            "eclipse_protection_gap_seconds",
            "Seconds open positions spent without a working stop: total and longest.",
            ["stat"],
            registry=reg,
        )
        for p in POSTURES:
            self.posture.labels(posture=p).set(1 if p == "GREEN" else 0)
        for s in symbols:  # every configured symbol shows from the start
            self.bars.labels(symbol=s)
            self.bar_lag.labels(symbol=s)
            self.position.labels(symbol=s).set(0)
        for name in loops:
            self.set_up(name, False)
            self.loop_crashes.labels(loop=self._loop(name))

    # -- latencies ---------------------------------------------------------------------------------------

    def observe_bar_lag(self, symbol: str, seconds: float) -> None:
        """One bar processed ``seconds`` after its close."""
        self.bar_lag.labels(symbol=self._symbol(symbol)).observe(max(0.0, seconds))

    def observe_order_path(self, seconds: float) -> None:
        """One order's decision-to-send latency."""
        self.order_path.observe(max(0.0, seconds))

    # -- counters ----------------------------------------------------------------------------------------

    def bar_processed(self, symbol: str) -> None:
        """Count a processed bar of ``symbol``."""
        self.bars.labels(symbol=self._symbol(symbol)).inc()

    def order_sent(self, kind: str) -> None:
        """Count an order sent (``outcome="sent"``)."""
        self.orders.labels(kind=self._kind(kind), outcome="sent").inc()

    def order_outcome(self, kind: str, outcome: str) -> None:
        """Count an order's outcome (``filled``, ``rejected``, ``canceled``, ``unknown`` ...)."""
        self.orders.labels(kind=self._kind(kind), outcome=self._outcome(outcome)).inc()

    def fill(self, symbol: str, kind: str) -> None:
        """Count a fill of one of our ``kind`` orders on ``symbol``."""
        self.fills.labels(symbol=self._symbol(symbol), kind=self._kind(kind)).inc()

    def entry_blocked(self, reason: str) -> None:
        """Count an entry signal blocked by ``reason``."""
        self.entries_blocked.labels(reason=self._reason(reason)).inc()

    def loop_crashed(self, loop: str) -> None:
        """Count a crash of the supervised ``loop``."""
        self.loop_crashes.labels(loop=self._loop(loop)).inc()

    # -- gauges ------------------------------------------------------------------------------------------

    def set_up(self, loop: str, up: bool | int) -> None:
        """Mark ``loop`` running (1 / True) or not (0 / False)."""
        self.loop_up.labels(loop=self._loop(loop)).set(1 if up else 0)

    def set_positions(self, n: int) -> None:
        """The number of open positions."""
        self.open_positions.set(n)

    def set_position(self, symbol: str, qty: float) -> None:
        """``symbol``'s signed position size (0 when flat)."""
        self.position.labels(symbol=self._symbol(symbol)).set(float(qty))

    def set_pnl(self, realized: float, fees: float, unrealized: float) -> None:
        """The run's realized PnL, fees paid and unrealized PnL (quote)."""
        self.realized_pnl.set(float(realized))
        self.fees.set(float(fees))
        self.unrealized_pnl.set(float(unrealized))

    def set_equity(self, value: float) -> None:
        """Account equity (quote)."""
        self.equity.set(float(value))

    def set_reliability(self, status: Mapping[str, object], symbols: Iterable[str]) -> None:
        """The reliability loop's gauges from its status (``runtime.reliability.reliability_status``)."""
        if not status:
            return
        self.debt.set(_num(status.get("debt")))
        self.debt_growth.set(_num(status.get("debt_growth_per_min")))
        current = str(status.get("posture", ""))
        for p in POSTURES:
            self.posture.labels(posture=p).set(1 if p == current else 0)
        blocks = status.get("symbol_blocks")
        blocked = set(blocks) if isinstance(blocks, Mapping) else set()
        for symbol in symbols:
            self.tradeable.labels(symbol=self._symbol(symbol)).set(0 if symbol in blocked else 1)
        kpis = status.get("kpis")
        if isinstance(kpis, Mapping):
            self.mismatch_minutes.set(_num(kpis.get("mismatch_debt_min")))
            self.repair_ratio.set(_num(kpis.get("repair_success_ratio")))
            self.unknown_resolution.labels(quantile="0.5").set(
                _num(kpis.get("unknown_resolution_p50_ms")) / 1000
            )
            self.unknown_resolution.labels(quantile="0.95").set(
                _num(kpis.get("unknown_resolution_p95_ms")) / 1000
            )
            self.protection_gap.labels(stat="total").set(_num(kpis.get("protection_gap_total_sec")))
            self.protection_gap.labels(stat="longest").set(_num(kpis.get("protection_gap_longest_sec")))

    def set_versions(self, versions: Mapping[str, str]) -> None:
        """``eclipse_build_info``: one label per component (e.g. ``eclipse``, ``core``, ``ccxt``)."""
        self.build.info({_label_name(k): str(v) for k, v in versions.items()})

    # -- exposition --------------------------------------------------------------------------------------

    def render(self) -> bytes:
        """Every metric in the Prometheus text format (serve with :attr:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)


def _num(value: object) -> float:
    """A float gauge value (None or anything odd: 0)."""
    try:
        return float(str(value)) if value is not None else 0.0
    except ValueError:
        return 0.0


def _label_name(key: str) -> str:
    """A valid Prometheus label name for ``key`` (letters, digits and ``_``; not starting with a digit)."""
    name = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in key) or "_"
    if name[0].isdigit():
        name = "_" + name
    return name if not name.startswith("__") else "x" + name
