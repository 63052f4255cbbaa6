"""The guards' settings, read once from the registry knobs (``config/guard_knobs.py``, and the kill switch's
limits in ``config/runtime_knobs.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from eclipse.config.guard_knobs import ROLL_MIN_SAME
from eclipse.config.settings import load_param
from eclipse.reliability.guards.adaptive import AdaptiveRule, AdaptiveSettings
from eclipse.reliability.guards.anomaly import AnomalySettings
from eclipse.reliability.guards.breach import BreachSettings
from eclipse.reliability.guards.data_quality import DataQualitySettings
from eclipse.reliability.guards.kill_switch import KillSettings

__all__ = ["GuardSettings"]


@dataclass(frozen=True, slots=True)
class GuardSettings:
    """Every guard's settings."""

    kill: KillSettings
    data: DataQualitySettings
    adaptive: AdaptiveSettings
    anomaly: AnomalySettings
    breach: BreachSettings

    @classmethod
    def load(cls, env: Mapping[str, str], profile: str = "micro") -> GuardSettings:
        """From ``env`` (registry defaults of ``profile`` for what is unset); ConfigError names a bad knob."""

        def f(name: str) -> float:
            return float(str(load_param(env, name, profile)))

        def i(name: str) -> int:
            return int(str(load_param(env, name, profile)))

        def rule(prefix: str) -> AdaptiveRule:
            return AdaptiveRule(
                f(f"ADAPTIVE_GUARD_{prefix}_DELTA"), f(f"ADAPTIVE_GUARD_{prefix}_DURATION_SEC")
            )

        until = str(load_param(env, "KILL_DAILY_HALT_UNTIL_UTC", profile))
        hours, _, minutes = until.partition(":")
        quality_min = f("ENTRY_DATA_QUALITY_MIN")
        roll_min = f("ENTRY_DATA_QUALITY_ROLL_MIN")
        return cls(
            kill=KillSettings(
                max_daily_loss_pct=f("MAX_DAILY_LOSS_PCT"),
                max_drawdown_pct=f("MAX_DRAWDOWN_PCT"),
                daily_halt_sec=f("KILL_DAILY_HALT_SEC"),
                drawdown_halt_sec=f("KILL_DRAWDOWN_HALT_SEC"),
                daily_halt_until_min=int(hours) * 60 + int(minutes) if until else None,
            ),
            data=DataQualitySettings(
                tf=str(load_param(env, "ENTRY_DATA_QUALITY_TF", profile)),
                max_stale_sec=f("ENTRY_DATA_MAX_STALE_SEC"),
                quality_min=quality_min,
                window=i("ENTRY_DATA_QUALITY_WINDOW"),
                emit_sec=f("ENTRY_DATA_QUALITY_EMIT_SEC"),
                history_max=i("ENTRY_DATA_QUALITY_HISTORY_MAX"),
                roll_sec=f("ENTRY_DATA_QUALITY_ROLL_SEC"),
                roll_min=quality_min if roll_min == ROLL_MIN_SAME else roll_min,
                kill_sec=f("ENTRY_DATA_QUALITY_KILL_SEC"),
            ),
            adaptive=AdaptiveSettings(
                enabled=bool(load_param(env, "ADAPTIVE_GUARD_ENABLED", profile)),
                duration_sec=f("ADAPTIVE_GUARD_DURATION_SEC"),
                partial_escalate=rule("PARTIAL_ESCALATE"),
                retry=rule("RETRY"),
                drift=rule("DRIFT"),
                exit_issue=rule("EXIT"),
                telemetry_guard=rule("TELEMETRY"),
            ),
            anomaly=AnomalySettings(
                enabled=bool(load_param(env, "ANOMALY_GUARD_ENABLED", profile)),
                window_sec=f("ANOMALY_WINDOW_SEC"),
                exposure_spike_pct=f("ANOMALY_EXPOSURE_SPIKE_PCT"),
                confidence_drop_pct=f("ANOMALY_CONFIDENCE_DROP_PCT"),
                confidence_min_entries=i("ANOMALY_CONFIDENCE_MIN_ENTRIES"),
                risk_events_max=i("ANOMALY_RISK_EVENTS_MAX"),
                min_exits=i("ANOMALY_MIN_EXITS"),
                pause_sec=f("ANOMALY_PAUSE_SEC"),
            ),
            breach=BreachSettings(cooldown_sec=f("STOP_BREACH_COOLDOWN_SEC")),
        )
