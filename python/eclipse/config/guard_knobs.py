"""Knobs of the daemon's entry guards (``eclipse.reliability.guards``; concatenated into the registry's
REGISTRY): kill switch, data quality and staleness, adaptive guard, anomaly guard, stop-breach cooldown.

Names and defaults are the original bot's where its README or code gives them (``ENTRY_DATA_*``,
``ADAPTIVE_GUARD_*``, ``KILL_DAILY_HALT_UNTIL_UTC``). The kill switch's limits (``MAX_DAILY_LOSS_PCT``,
``MAX_DRAWDOWN_PCT``, ``KILL_DAILY_HALT_SEC``, ``KILL_DRAWDOWN_HALT_SEC``) live in
:mod:`eclipse.config.runtime_knobs`; the adaptive guard's static size scales (``ADAPTIVE_GUARD_*_SCALE``) in
:mod:`eclipse.config.entry_knobs`. Choices where the originals are silent are in ``docs/guards.md``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from eclipse.config.parsers import Parser, bool_parser, choice_parser, float_parser, int_parser

if TYPE_CHECKING:
    from eclipse.config.registry import Param

__all__ = ["QUALITY_TFS", "ROLL_MIN_SAME", "guard_params", "utc_time_parser"]

QUALITY_TFS: tuple[str, ...] = ("1m",)
"""Timeframes the data-quality score can be computed on (the daemon receives closed 1m bars)."""
ROLL_MIN_SAME = -1.0
"""``ENTRY_DATA_QUALITY_ROLL_MIN`` sentinel: the same value as ``ENTRY_DATA_QUALITY_MIN``."""

_OWNER = "reliability.guards"
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_LEGACY_ON = frozenset({"1", "true", "yes", "on"})
_LEGACY_OFF = frozenset({"0", "false", "no", "off"})


def _to_utc_time(text: str) -> str:
    low = text.lower()
    if not text or low in _LEGACY_OFF:
        return ""
    if low in _LEGACY_ON:
        return "00:00"  # the original's boolean: halt until the next UTC day
    m = _HHMM.match(text)
    if m is None:
        raise ValueError(text)
    return f"{int(m[1]):02d}:{m[2]}"


def utc_time_parser() -> Parser[str]:
    """A UTC time of day ``HH:MM`` (normalized to two-digit hours), empty = off; the original's boolean
    ``1``/``0`` is read as ``00:00`` / off."""
    return Parser("text", 'a UTC time "HH:MM" like "06:00" (empty or 0 = off; 1 = "00:00")', _to_utc_time)


def _to_roll_min(text: str) -> float:
    value = float_parser(-1.0, 100.0).convert(text)
    if value < 0 and value != ROLL_MIN_SAME:
        raise ValueError(text)
    return value


def _roll_min_parser() -> Parser[float]:
    return Parser("float", "a number in [0, 100], or -1 = ENTRY_DATA_QUALITY_MIN", _to_roll_min)


def guard_params(param: type[Param]) -> tuple[Param, ...]:
    """The entry guards' knobs, built with the registry's ``Param`` class (passed in to avoid an import
    cycle)."""
    b = bool_parser()
    nonneg = float_parser(0.0)
    unit = float_parser(0.0, 1.0)
    score = float_parser(0.0, 100.0)
    sec = float_parser(1.0, 86_400.0)
    return (
        # --- kill switch (limits: runtime_knobs) ---
        param("KILL_DAILY_HALT_UNTIL_UTC", utc_time_parser(), "", _OWNER, "risk",
              "with KILL_DAILY_HALT_SEC=0: daily halts last until this UTC time (empty = next UTC midnight)"),
        # --- data quality and staleness ---
        param("ENTRY_DATA_MAX_STALE_SEC", nonneg, 180.0, _OWNER, "entry",
              "block a symbol's entries while its last 1m bar closed longer ago than this (0 = off)"),
        param("ENTRY_DATA_QUALITY_MIN", score, 60.0, _OWNER, "entry",
              "block a symbol's entries while its data quality score (0-100) is below this (0 = off)"),
        param("ENTRY_DATA_QUALITY_TF", choice_parser(QUALITY_TFS), "1m", _OWNER, "entry",
              "timeframe of the bars the quality score judges (1m only)"),
        param("ENTRY_DATA_QUALITY_WINDOW", int_parser(5, 1440), 120, _OWNER, "entry",
              "expected bars the quality score looks back over"),
        param("ENTRY_DATA_QUALITY_EMIT_SEC", sec, 60.0, _OWNER, "none",
              "seconds between data.quality events (and rolling-score samples) of a symbol"),
        param("ENTRY_DATA_QUALITY_HISTORY_MAX", int_parser(1, 10_000), 50, _OWNER, "entry",
              "quality score samples kept per symbol"),
        param("ENTRY_DATA_QUALITY_ROLL_SEC", sec, 900.0, _OWNER, "entry",
              "the rolling quality score is the mean of the samples of the last this many seconds"),
        param("ENTRY_DATA_QUALITY_ROLL_MIN", _roll_min_parser(), ROLL_MIN_SAME, _OWNER, "entry",
              "rolling score below this for ENTRY_DATA_QUALITY_KILL_SEC blocks a symbol (-1 = QUALITY_MIN)"),
        param("ENTRY_DATA_QUALITY_KILL_SEC", nonneg, 120.0, _OWNER, "entry",
              "seconds the rolling score must stay below ENTRY_DATA_QUALITY_ROLL_MIN before entries block"),
        # --- adaptive guard (static size scales: entry_knobs) ---
        param("ADAPTIVE_GUARD_ENABLED", b, True, _OWNER, "entry",
              "raise the minimum confidence for a while after partial-fill, retry, drift or exit alerts"),
        param("ADAPTIVE_GUARD_DURATION_SEC", nonneg, 900.0, _OWNER, "entry",
              "duration of an adaptive raise whose own *_DURATION_SEC knob is 0"),
        param("ADAPTIVE_GUARD_PARTIAL_ESCALATE_DELTA", unit, 0.2, _OWNER, "entry",
              "confidence raise after entry.partial_fill_escalation (0 = ignore the event)"),
        param("ADAPTIVE_GUARD_PARTIAL_ESCALATE_DURATION_SEC", nonneg, 900.0, _OWNER, "entry",
              "seconds the partial-fill escalation raise lasts"),
        param("ADAPTIVE_GUARD_RETRY_DELTA", unit, 0.15, _OWNER, "entry",
              "confidence raise after order.create.retry_alert (0 = ignore the event)"),
        param("ADAPTIVE_GUARD_RETRY_DURATION_SEC", nonneg, 600.0, _OWNER, "entry",
              "seconds the retry-alert raise lasts"),
        param("ADAPTIVE_GUARD_DRIFT_DELTA", unit, 0.1, _OWNER, "entry",
              "confidence raise after telemetry.confidence_drift (0 = ignore the event)"),
        param("ADAPTIVE_GUARD_DRIFT_DURATION_SEC", nonneg, 900.0, _OWNER, "entry",
              "seconds the confidence-drift raise lasts"),
        param("ADAPTIVE_GUARD_EXIT_DELTA", unit, 0.1, _OWNER, "entry",
              "confidence raise after exit.signal_issue (0 = ignore the event)"),
        param("ADAPTIVE_GUARD_EXIT_DURATION_SEC", nonneg, 600.0, _OWNER, "entry",
              "seconds the exit signal-issue raise lasts"),
        param("ADAPTIVE_GUARD_TELEMETRY_DELTA", unit, 0.15, _OWNER, "entry",
              "confidence raise after exit.telemetry_guard (0 = ignore the event)"),
        param("ADAPTIVE_GUARD_TELEMETRY_DURATION_SEC", nonneg, 600.0, _OWNER, "entry",
              "seconds the exit telemetry-guard raise lasts"),
        # --- anomaly guard ---
        param("ANOMALY_GUARD_ENABLED", b, True, _OWNER, "risk",
              "pause all entries for ANOMALY_PAUSE_SEC when the daemon's own telemetry looks anomalous"),
        param("ANOMALY_WINDOW_SEC", float_parser(60.0, 86_400.0), 3600.0, _OWNER, "risk",
              "window of the anomaly checks (seconds)"),
        param("ANOMALY_EXPOSURE_SPIKE_PCT", nonneg, 0.5, _OWNER, "risk",
              "anomaly: open exposure rose more than this fraction over the window (0 = off)"),
        param("ANOMALY_CONFIDENCE_DROP_PCT", unit, 0.15, _OWNER, "risk",
              "anomaly: mean entry confidence fell more than this fraction vs the window before (0 = off)"),
        param("ANOMALY_CONFIDENCE_MIN_ENTRIES", int_parser(1, 10_000), 5, _OWNER, "risk",
              "entries each window needs before the confidence drop is judged"),
        param("ANOMALY_RISK_EVENTS_MAX", int_parser(0), 3, _OWNER, "risk",
              "anomaly: more risk events (critical, stop breach, halt, ...) in the window (0 = off)"),
        param("ANOMALY_MIN_EXITS", int_parser(0), 10, _OWNER, "risk",
              "anomaly: an exit code never seen before, once this many exits were seen (0 = off)"),
        param("ANOMALY_PAUSE_SEC", float_parser(1.0, 86_400.0), 900.0, _OWNER, "risk",
              "seconds all entries pause after an anomaly"),
        # --- stop-breach cooldown ---
        param("STOP_BREACH_COOLDOWN_SEC", nonneg, 900.0, _OWNER, "risk",
              "block a symbol's entries this long after its stop was breached (0 = off)"),
    )  # fmt: skip
