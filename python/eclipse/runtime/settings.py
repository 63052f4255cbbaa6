"""The daemon's settings, read once at start from the registry knobs (``config/runtime_knobs.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from eclipse.config.settings import load_param

__all__ = ["RuntimeSettings"]


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """Profile, symbols, first-live safety, risk limits, loop timings and the status server."""

    profile: str
    entry_loop_mode: str
    symbols: tuple[str, ...]
    first_live_safe: bool
    first_live_symbols: tuple[str, ...]
    first_live_max_notional: float
    equity_cap: float
    max_daily_loss_pct: float
    max_drawdown_pct: float
    daily_halt_sec: float
    drawdown_halt_sec: float
    telemetry_path: str
    protection_check_sec: float
    bar_settle_sec: float
    reconcile_interval_sec: float
    max_loop_crashes: int
    clock_skew_max_ms: int
    feature_state_max_age_sec: float
    status_http: bool
    status_host: str
    status_port: int
    crash_at: str
    """``CHAOS_CRASH_AT``: crash points for the kill -9 suite (empty: none)."""
    status_token: str = field(repr=False)
    """A secret: never in a repr, a log or the status."""

    @classmethod
    def load(cls, env: Mapping[str, str]) -> RuntimeSettings:
        """From ``env`` (registry defaults for what is unset); ConfigError names a bad knob."""
        profile = str(load_param(env, "SCALPER_MODE"))

        def get(name: str) -> object:
            return load_param(env, name, profile)

        def tup(name: str) -> tuple[str, ...]:
            value = get(name)
            return tuple(value) if isinstance(value, tuple) else (str(value),)

        return cls(
            profile=profile,
            entry_loop_mode=str(get("ENTRY_LOOP_MODE")),
            symbols=tup("ACTIVE_SYMBOLS"),
            first_live_safe=bool(get("FIRST_LIVE_SAFE")),
            first_live_symbols=tup("FIRST_LIVE_SYMBOLS"),
            first_live_max_notional=float(str(get("FIRST_LIVE_MAX_NOTIONAL_USDT"))),
            equity_cap=float(str(get("EQUITY_CAP_USDT"))),
            max_daily_loss_pct=float(str(get("MAX_DAILY_LOSS_PCT"))),
            max_drawdown_pct=float(str(get("MAX_DRAWDOWN_PCT"))),
            daily_halt_sec=float(str(get("KILL_DAILY_HALT_SEC"))),
            drawdown_halt_sec=float(str(get("KILL_DRAWDOWN_HALT_SEC"))),
            telemetry_path=str(get("TELEMETRY_PATH")),
            protection_check_sec=float(str(get("PROTECTION_CHECK_SEC"))),
            bar_settle_sec=float(str(get("RUN_BAR_SETTLE_SEC"))),
            reconcile_interval_sec=float(str(get("RECONCILE_INTERVAL_SEC"))),
            max_loop_crashes=int(str(get("RUN_LOOP_MAX_CRASHES"))),
            clock_skew_max_ms=int(str(get("CLOCK_SKEW_MAX_MS"))),
            feature_state_max_age_sec=float(str(get("FEATURE_STATE_MAX_AGE_SEC"))),
            status_http=bool(get("STATUS_HTTP")),
            status_host=str(get("STATUS_HTTP_HOST")),
            status_port=int(str(get("STATUS_HTTP_PORT"))),
            crash_at=str(get("CHAOS_CRASH_AT")),
            status_token=str(get("STATUS_TOKEN")),
        )
