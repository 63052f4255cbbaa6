"""The Python gates applied after the Rust scorer. Each returns a :class:`GateResult` whose ``reason`` is a
stable string (it feeds ``entry.blocked`` telemetry)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from eclipse.market.bars import BAR_MS
from eclipse.strategy.sessions import SessionHours

__all__ = [
    "BLOCK_REASONS",
    "GATE_REASONS",
    "LOSS_COOLDOWN",
    "PASS",
    "SCORER_REASONS",
    "SESSION_HOURS",
    "SESSION_MOMENTUM",
    "STALE_DATA",
    "ForceEntry",
    "GateResult",
    "LossCooldown",
    "SessionHoursGate",
    "SessionMomentumGate",
    "StaleDataGate",
]

STALE_DATA = "stale_data"
SESSION_HOURS = "session_hours"
SESSION_MOMENTUM = "session_momentum"
LOSS_COOLDOWN = "loss_cooldown"
GATE_REASONS: tuple[str, ...] = (STALE_DATA, SESSION_HOURS, LOSS_COOLDOWN, SESSION_MOMENTUM)
SCORER_REASONS: tuple[str, ...] = (
    "warmup",
    "trend_warmup",
    "vol_regime_low",
    "trend_gate",
    "no_consensus",
    "below_min_confidence",
)
BLOCK_REASONS: frozenset[str] = frozenset(GATE_REASONS + SCORER_REASONS)


@dataclass(frozen=True, slots=True)
class GateResult:
    """Outcome of one gate: ``ok``, else ``reason`` (a stable name) and a human ``detail``."""

    ok: bool
    reason: str | None = None
    detail: str = ""


PASS = GateResult(True)


@dataclass(frozen=True, slots=True)
class StaleDataGate:
    """Blocks when the last closed bar is older than ``max_stale_sec`` (0 disables).

    Age = now - bar close time, bar close = ``ts_ms`` + 60,000.
    """

    max_stale_sec: float

    def check(self, bar_ts_ms: int, now_ms: int) -> GateResult:
        """Pass unless the bar opened at ``bar_ts_ms`` is stale at ``now_ms``."""
        if self.max_stale_sec <= 0:
            return PASS
        age_sec = (now_ms - (bar_ts_ms + BAR_MS)) / 1000.0
        if age_sec > self.max_stale_sec:
            return GateResult(False, STALE_DATA, f"bar age {age_sec:.0f}s > {self.max_stale_sec:g}s")
        return PASS


@dataclass(frozen=True, slots=True)
class SessionHoursGate:
    """Blocks outside the configured UTC hours (an empty set disables it)."""

    hours: SessionHours

    def check(self, now_ms: int) -> GateResult:
        """Pass when the UTC hour of ``now_ms`` is in the session."""
        if not self.hours.enabled or self.hours.contains_ms(now_ms):
            return PASS
        return GateResult(False, SESSION_HOURS, f"outside session hours {self.hours}")


@dataclass(frozen=True, slots=True)
class SessionMomentumGate:
    """During ``hours``, a long needs both momenta >= +min_mom and a short both <= -min_mom."""

    hours: SessionHours
    min_mom: float

    def check(self, now_ms: int, direction: int, mom_fast: float, mom_slow: float) -> GateResult:
        """Pass outside the hours, for no direction, or when both momenta agree strongly enough."""
        if direction == 0 or not self.hours.enabled or not self.hours.contains_ms(now_ms):
            return PASS
        if math.isnan(mom_fast) or math.isnan(mom_slow):
            return GateResult(False, SESSION_MOMENTUM, "momentum not available")
        if direction > 0:
            ok = mom_fast >= self.min_mom and mom_slow >= self.min_mom
        else:
            ok = mom_fast <= -self.min_mom and mom_slow <= -self.min_mom
        if ok:
            return PASS
        sign = "+" if direction > 0 else "-"
        return GateResult(
            False,
            SESSION_MOMENTUM,
            f"momentum fast={mom_fast:+.4f} slow={mom_slow:+.4f} short of {sign}{self.min_mom:g}",
        )


class LossCooldown:
    """After ``losses`` consecutive losing trades, block for ``minutes``; a win resets the streak.

    ``losses`` = 0 disables the gate. Only a win resets the streak, so each further loss restarts the
    cooldown; a pnl of exactly 0 neither extends nor resets the streak.
    """

    __slots__ = ("_blocked_until_ms", "_streak", "losses", "minutes")

    def __init__(self, losses: int, minutes: float) -> None:
        if losses < 0 or minutes < 0:
            raise ValueError(f"losses and minutes must be >= 0, got {losses}, {minutes}")
        self.losses = losses
        self.minutes = minutes
        self._streak = 0
        self._blocked_until_ms: int | None = None

    @property
    def streak(self) -> int:
        """Current run of consecutive losses."""
        return self._streak

    @property
    def blocked_until_ms(self) -> int | None:
        """End of the active (or last) cooldown, UTC ms."""
        return self._blocked_until_ms

    def record_result(self, pnl: float, at_ms: int) -> None:
        """Record a closed trade's pnl at time ``at_ms``; the N-th loss in a row starts a cooldown."""
        if self.losses == 0:
            return
        if pnl > 0:
            self._streak = 0
        elif pnl < 0:
            self._streak += 1
            if self._streak >= self.losses:
                self._blocked_until_ms = at_ms + round(self.minutes * 60_000)

    def check(self, now_ms: int) -> GateResult:
        """Blocked while ``now_ms`` is before the end of the cooldown."""
        if self._blocked_until_ms is not None and now_ms < self._blocked_until_ms:
            left = (self._blocked_until_ms - now_ms) / 1000.0
            return GateResult(False, LOSS_COOLDOWN, f"loss cooldown, {left:.0f}s left")
        return PASS

    def to_state(self) -> dict[str, int | None]:
        """The mutable state, for saving with the engine state."""
        return {"streak": self._streak, "blocked_until_ms": self._blocked_until_ms}

    def load_state(self, state: dict[str, int | None]) -> None:
        """Restore :meth:`to_state` output."""
        streak, until = state.get("streak"), state.get("blocked_until_ms")
        if not isinstance(streak, int) or not (until is None or isinstance(until, int)):
            raise ValueError(f"bad loss-cooldown state {state!r}")
        self._streak = streak
        self._blocked_until_ms = until


class ForceEntry:
    """Debug force-entry for plumbing tests: ``off``, ``long``, ``short`` or ``alternate`` (flips each call).

    Never enabled in the production profile (the settings refuse it).
    """

    __slots__ = ("_last", "mode")

    def __init__(self, mode: str) -> None:
        if mode not in ("off", "long", "short", "alternate"):
            raise ValueError(f"unknown force-entry mode {mode!r}")
        self.mode = mode
        self._last = -1

    @property
    def active(self) -> bool:
        """True unless the mode is ``off``."""
        return self.mode != "off"

    def next_direction(self) -> int:
        """The forced direction (+1/-1), or 0 when off; ``alternate`` starts long."""
        if self.mode == "long":
            return 1
        if self.mode == "short":
            return -1
        if self.mode == "alternate":
            self._last = -self._last
            return self._last
        return 0
