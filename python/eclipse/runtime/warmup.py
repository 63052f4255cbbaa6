"""The daemon's feature warm-up: each symbol's features from the saved state when recent (and the bars since),
else from fetched history, before any entry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eclipse.errors import EclipseError
from eclipse.execution.engine import ExecutionEngine
from eclipse.market.bars import BAR_MS
from eclipse.runtime.feed import fetch_history
from eclipse.runtime.setup import HISTORY_BARS, VenueSetup

if TYPE_CHECKING:
    from eclipse.runtime.daemon import Daemon

__all__ = ["warm_up"]


async def warm_up(daemon: Daemon, setup: VenueSetup, engine: ExecutionEngine) -> None:
    """Seed each symbol's features: the saved state when recent, else fetched history."""
    now = setup.market.now_ms()
    # a bar that closed less than the settle delay ago may not be final on the venue yet: the feed hands
    # it out after the settle, not the warm-up
    settled = now - round(daemon.settings.bar_settle_sec * 1000)
    current_open = settled // BAR_MS * BAR_MS
    for symbol in daemon.symbols:
        restored = _restore_features(daemon, engine, symbol, now)
        if restored is not None:
            bars = await fetch_history(
                setup.venue, symbol, current_open, (current_open - restored) // BAR_MS - 1
            )
            how = "restored"
        else:
            bars = await fetch_history(setup.venue, symbol, current_open, HISTORY_BARS)
            how = "history"
        for bar in bars:
            engine.signals.advance(symbol, bar)
        state = engine.signals.features(symbol)
        last = state.last_ts_ms if state is not None else None
        daemon.feed_start[symbol] = last if last is not None else current_open - BAR_MS
        assert daemon.telemetry is not None
        daemon.telemetry.emit("runtime.warmed_up", symbol=symbol, how=how, bars=len(bars))
        await engine.prepare(symbol)  # leverage and margin mode set now, not on the first entry's path
        daemon.event(f"{symbol}: features {how}, {len(bars)} bars fetched")


def _restore_features(daemon: Daemon, engine: ExecutionEngine, symbol: str, now_ms: int) -> int | None:
    path = daemon.run_dir.feature_state(symbol)
    if not path.exists():
        return None
    try:
        engine.signals.restore_state(symbol, path.read_bytes())
    except (EclipseError, ValueError, OSError) as exc:
        daemon.event(f"{symbol}: saved features not used ({exc})")
        return None
    state = engine.signals.features(symbol)
    last = state.last_ts_ms if state is not None else None
    if last is None or now_ms - last > daemon.settings.feature_state_max_age_sec * 1000:
        engine.signals.forget(symbol)
        daemon.event(f"{symbol}: saved features too old, fetching history")
        return None
    return last
