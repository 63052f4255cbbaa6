"""The anomaly guard: the daemon's own telemetry, judged over ANOMALY_WINDOW_SEC, pauses every entry for
ANOMALY_PAUSE_SEC (code ``anomaly_pause``) when it shows

* ``exposure_spike``: the open exposure (sum over symbols of |qty x avg_entry| from ``position.changed``) is
  more than ANOMALY_EXPOSURE_SPIKE_PCT above its level at the start of the window (a level of 0 never spikes);
* ``confidence_drop``: the mean ``confidence`` of ``entry.submitted`` in the window is more than
  ANOMALY_CONFIDENCE_DROP_PCT (relative) below that of the window before, each holding at least
  ANOMALY_CONFIDENCE_MIN_ENTRIES entries;
* ``risk_surge``: more than ANOMALY_RISK_EVENTS_MAX risk events in the window (severity ``critical``,
  ``protection.stop_breached``, ``kill.halted``, ``order.create.retry_alert``, ``reconcile.mismatch``);
* ``new_exit_code``: an exit code never seen before, once ANOMALY_MIN_EXITS exits were seen. An exit is an
  ``exit.<rule>`` record (``exit.max_hold`` ...; code = the rule) or a ``position.changed`` to flat by a
  ``stop_loss``, ``take_profit`` or ``flatten`` fill (code = that kind).

After a kind fires, only evidence after that moment counts for it again (no re-pause on the same evidence).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from eclipse.contracts import GuardKnobs
from eclipse.reliability.guards.base import (
    ActiveGuard,
    Outbox,
    block,
    get_int,
    get_opt_int,
    get_str,
    number,
    record_symbol,
    record_ts,
)

__all__ = ["CODE", "NOT_EXITS", "RISK_EVENTS", "AnomalyGuard", "AnomalySettings"]

CODE = "anomaly_pause"
RISK_EVENTS = frozenset(
    {"protection.stop_breached", "kill.halted", "order.create.retry_alert", "reconcile.mismatch"}
)
NOT_EXITS = frozenset(
    {
        "exit.submitted",
        "exit.refused",
        "exit.in_flight",
        "exit.atr_scaled",
        "exit.signal_issue",
        "exit.telemetry_guard",
    }
)
"""``exit.*`` events that report on exits but are not one."""
CLOSE_KINDS = frozenset({"stop_loss", "take_profit", "flatten"})


@dataclass(frozen=True, slots=True)
class AnomalySettings:
    """ANOMALY_* knobs (a threshold of 0 turns its check off)."""

    enabled: bool
    window_sec: float
    exposure_spike_pct: float
    confidence_drop_pct: float
    confidence_min_entries: int
    risk_events_max: int
    min_exits: int
    pause_sec: float


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


class AnomalyGuard:
    """Windows over the daemon's telemetry and the pause they trigger."""

    def __init__(self, settings: AnomalySettings) -> None:
        self.settings = settings
        self.out = Outbox()
        self.changed = False
        self._window_ms = round(settings.window_sec * 1000)
        self._exposure: dict[str, float] = {}
        self._levels: deque[tuple[int, float]] = deque([(-1, 0.0)])  # (ts, total) changes; the first <= start
        self._conf: deque[tuple[int, float]] = deque()
        self._risk: deque[int] = deque()
        self._codes: set[str] = set()
        self._exits = 0
        self._new_codes: list[str] = []
        self._fired: dict[str, int] = {}
        self._pause_until: int | None = None
        self._pause_reason = ""

    def observe(self, record: Mapping[str, object], now: int) -> None:
        """Account for one telemetry record (O(1) amortized)."""
        name = record.get("event")
        if not self.settings.enabled or not isinstance(name, str):
            return
        ts = max(record_ts(record, now), self._levels[-1][0])
        if name == "position.changed":
            self._position(record, ts)
        elif name == "entry.submitted":
            conf = number(record.get("confidence"))
            if conf is not None:
                self._conf.append((ts, conf))
        elif name.startswith("exit.") and name not in NOT_EXITS:
            self._exit(name[5:])
        if name in RISK_EVENTS or record.get("severity") == "critical":
            self._risk.append(ts)
        self._prune(now)

    def evaluate(self, now: int) -> None:
        """Judge the windows; pause (``anomaly.detected``) when something fired; end an expired pause."""
        if self._pause_until is not None and now >= self._pause_until:
            self._end("expired")
        if not self.settings.enabled:
            self._new_codes.clear()
            return
        self._prune(now)
        found = [
            f for f in (self._exposure_spike(now), self._confidence_drop(now), self._risk_surge(now)) if f
        ]
        if self._new_codes:
            found.append(
                ("new_exit_code", f"new exit code {', '.join(self._new_codes)} after {self._exits} exits")
            )
            self._new_codes = []
        if not found:
            return
        kinds, detail = ",".join(k for k, _ in found), "; ".join(d for _, d in found)
        until = now + round(self.settings.pause_sec * 1000)
        self._pause_until = max(until, self._pause_until or 0)
        self._pause_reason = f"anomaly ({kinds}): {detail}"
        self._fired.update(dict.fromkeys((k for k, _ in found), now))
        self.changed = True
        self.out.put(
            "anomaly.detected", kinds=kinds, detail=detail, until_ms=self._pause_until, severity="high"
        )

    def knobs(self, now: int) -> GuardKnobs:
        """A block of every entry while paused."""
        if self.settings.enabled and self._pause_until is not None and now < self._pause_until:
            return block(CODE, self._pause_reason)
        return GuardKnobs()

    def active(self, now: int) -> list[ActiveGuard]:
        """The pause, when in force."""
        if self.knobs(now).entry_block:
            return [ActiveGuard("anomaly", CODE, None, self._pause_reason, self._pause_until)]
        return []

    def lift(self, code: str) -> bool:
        """The operator ends the pause."""
        if code != CODE or self._pause_until is None:
            return False
        self._end("operator")
        return True

    # --- persistence ----------------------------------------------------------------------------------------
    def dump(self) -> dict[str, object]:
        """The pause, the exit codes seen and when each kind last fired (the windows are not kept)."""
        return {
            "pause_until_ms": self._pause_until,
            "reason": self._pause_reason,
            "exit_codes": sorted(self._codes),
            "exits": self._exits,
            "fired": dict(self._fired),
        }

    def restore(self, data: Mapping[str, object], now: int) -> None:
        """Load :meth:`dump`'s output; an expired pause is dropped (ValueError on bad data)."""
        until = get_opt_int(data, "pause_until_ms")
        self._pause_until = until if until is not None and now < until else None
        self._pause_reason = get_str(data, "reason", "") if self._pause_until is not None else ""
        codes, fired = data.get("exit_codes", []), data.get("fired", {})
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise ValueError(f"exit_codes must be a list of strings, got {codes!r}")
        if not isinstance(fired, Mapping):
            raise ValueError(f"fired must be an object, got {fired!r}")
        self._codes = set(codes)
        self._exits = get_int(data, "exits") if "exits" in data else 0
        self._fired = {str(k): get_int(fired, k) for k in fired}

    # --- internals ------------------------------------------------------------------------------------------
    def _position(self, record: Mapping[str, object], ts: int) -> None:
        symbol = record_symbol(record)
        qty, price = number(record.get("qty")), number(record.get("avg_entry"))
        if symbol is None or qty is None:
            return
        if qty == 0:
            self._exposure.pop(symbol, None)
            kind = record.get("kind")
            if isinstance(kind, str) and kind in CLOSE_KINDS:
                self._exit(kind)
        elif price is not None:
            self._exposure[symbol] = abs(qty * price)
        else:
            return
        self._levels.append((ts, sum(self._exposure.values())))

    def _exit(self, code: str) -> None:
        if code not in self._codes:
            if self.settings.min_exits > 0 and self._exits >= self.settings.min_exits:
                self._new_codes.append(code)
            self._codes.add(code)
        self._exits += 1
        self.changed = True

    def _prune(self, now: int) -> None:
        start = now - self._window_ms
        while len(self._levels) > 1 and self._levels[1][0] <= start:
            self._levels.popleft()
        while self._conf and self._conf[0][0] < start - self._window_ms:
            self._conf.popleft()
        while self._risk and self._risk[0] < start:
            self._risk.popleft()

    def _since(self, kind: str, now: int) -> int:
        """Evidence for ``kind`` is what happened after this: in the window, and after ``kind`` last fired."""
        return max(now - self._window_ms - 1, self._fired.get(kind, -1))

    def _exposure_spike(self, now: int) -> tuple[str, str] | None:
        pct = self.settings.exposure_spike_pct
        if pct <= 0:
            return None
        since = self._since("exposure_spike", now)
        # the level at ``since``; before the first known level (a guard younger than the window), the first
        base = next((v for t, v in reversed(self._levels) if t <= since), self._levels[0][1])
        total = self._levels[-1][1]
        if base > 0 and total > base * (1 + pct):
            return "exposure_spike", f"exposure {total:.2f} > {base:.2f} x (1 + {pct:g})"
        return None

    def _confidence_drop(self, now: int) -> tuple[str, str] | None:
        pct, n = self.settings.confidence_drop_pct, self.settings.confidence_min_entries
        if pct <= 0:
            return None
        start, since = now - self._window_ms, self._since("confidence_drop", now)
        cur = [c for t, c in self._conf if t > since]
        prev = [c for t, c in self._conf if start - self._window_ms <= t < start]
        if len(cur) < n or len(prev) < n:
            return None
        before, after = _mean(prev), _mean(cur)
        if before > 0 and after < before * (1 - pct):
            return "confidence_drop", f"mean confidence {after:.3f} < {before:.3f} x (1 - {pct:g})"
        return None

    def _risk_surge(self, now: int) -> tuple[str, str] | None:
        limit = self.settings.risk_events_max
        if limit <= 0:
            return None
        since = self._since("risk_surge", now)
        count = sum(1 for t in self._risk if t > since)
        if count > limit:
            return "risk_surge", f"{count} risk events in {self.settings.window_sec:g}s > {limit}"
        return None

    def _end(self, how: str) -> None:
        self._pause_until, self._pause_reason = None, ""
        self.changed = True
        self.out.put("anomaly.pause_ended", how=how)
