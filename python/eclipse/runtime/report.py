"""The daemon's status snapshot, its ``/metrics`` gauges and its run summary, built from the daemon's
parts (the engine's book and protection, the observer, the supervisor's loops). Read-only."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eclipse import __version__
from eclipse.contracts import IntentKind
from eclipse.runtime.observer import quantiles
from eclipse.runtime.reliability import entry_reasons, reliability_status
from eclipse.runtime.snapshot import PositionRow, StatusSnapshot

if TYPE_CHECKING:
    from eclipse.runtime.daemon import Daemon

__all__ = ["build_snapshot", "build_summary", "publish"]


def build_snapshot(self: Daemon) -> StatusSnapshot:
    """The daemon's status now."""
    engine, setup = self.engine, self.setup
    obs = self.observer
    lag = quantiles(obs.bar_lag_ms, (50, 95))
    path = quantiles(obs.order_path_us, (50, 95))
    healthy, why = self.health()
    positions: list[PositionRow] = []
    realized = fees = unrealized = Decimal(0)
    dd = 0.0
    if engine is not None:
        for sym, snap in sorted(engine.book.open_positions().items()):
            legs = engine.protection.active(sym)
            stop = next((r.trigger_price for r in legs if r.kind is IntentKind.STOP_LOSS), None)
            tp = next((r.trigger_price for r in legs if r.kind is IntentKind.TAKE_PROFIT), None)
            mark = snap.mark if snap.mark is not None else snap.avg_entry
            positions.append(
                PositionRow(
                    sym,
                    "long" if snap.qty > 0 else "short",
                    float(abs(snap.qty)),
                    float(snap.avg_entry),
                    float(mark),
                    float(snap.unrealized_pnl),
                    float(stop) if stop is not None else None,
                    float(tp) if tp is not None else None,
                    engine.protection.tracker(sym).state == "protected",
                    snap.opened_ms or 0,
                )
            )
        realized, fees, unrealized = self.run_pnl()
        peak = engine.book.peak_equity
        equity_now = self.equity_now()
        dd = float(max(Decimal(0), (peak - equity_now) / peak)) if peak else 0.0
    reasons = entry_reasons(self)
    if engine is not None and not engine.entries_enabled:
        reasons.insert(0, "recovery left orders unresolved")
    now = setup.market.now_ms() if setup is not None else 0
    wall = setup.wall.now_ms() if setup is not None else 0
    return StatusSnapshot(
        mode=self.mode.value,
        venue=setup.name if setup is not None else "",
        clock="sim" if setup is not None and setup.sim_clock is not None else "wall",
        run_dir=str(self.run_dir.root),
        started_ms=self.started_ms,
        now_ms=now,
        wall_ms=wall,
        posture=self.reliability.current_posture.value if self.reliability is not None else "GREEN",
        entries="enabled" if not reasons else "blocked: " + "; ".join(reasons),
        equity=float(self.start_equity + realized - fees + unrealized),
        realized_pnl=float(realized),
        fees=float(fees),
        unrealized_pnl=float(unrealized),
        net_pnl=float(realized - fees + unrealized),
        drawdown=dd,
        bars=obs.bars,
        last_bar_ms=obs.last_bar_ms,
        bar_lag_ms_p50=lag[0],
        bar_lag_ms_p95=lag[1],
        order_path_us_p50=path[0],
        order_path_us_p95=path[1],
        healthy=healthy,
        health_reason=why,
        symbols=self.symbols,
        positions=tuple(positions),
        signals=tuple(obs.signals),
        orders=tuple(obs.orders.values()),
        fills=tuple(obs.fills),
        blocked=tuple(obs.blocked.most_common(8)),
        loops=self.loops_view(),
        trades=obs.trades,
        wins=obs.wins,
        versions={"eclipse": __version__},
        debt=self.reliability.debt.debt() if self.reliability is not None else 0.0,
        reliability=reliability_status(self),
    )


def publish(self: Daemon, snap: StatusSnapshot) -> None:
    """Gauges of ``/metrics`` from a snapshot (the status loop calls it)."""
    m = self.metrics
    m.set_positions(len(snap.positions))
    held = {p.symbol: (p.qty if p.side == "long" else -p.qty) for p in snap.positions}
    for symbol in self.symbols:
        m.set_position(symbol, held.get(symbol, 0.0))
    m.set_pnl(snap.realized_pnl, snap.fees, snap.unrealized_pnl)
    m.set_equity(snap.equity)
    for row in snap.loops:
        m.set_up(row.name, row.state == "running")
    m.set_reliability(snap.reliability, self.symbols)


def build_summary(self: Daemon) -> dict[str, Any]:
    """The run summary (JSON-ready)."""
    snap = build_snapshot(self)
    return {
        "mode": snap.mode,
        "venue": snap.venue,
        "symbols": list(snap.symbols),
        "started": self.started_ms,
        "ended": snap.now_ms,
        "stop_reason": self.stop_reason,
        "start_equity": float(self.start_equity),
        "end_equity": round(snap.equity, 8),
        "net_pnl": round(snap.net_pnl, 8),
        "realized_pnl": round(snap.realized_pnl, 8),
        "fees": round(snap.fees, 8),
        "unrealized_pnl": round(snap.unrealized_pnl, 8),
        "max_drawdown": round(self.max_drawdown, 8),
        "open_positions": [p.symbol for p in snap.positions],
        **self.observer.summary_fields(),
        "reliability": dict(snap.reliability),
    }
