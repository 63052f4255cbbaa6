"""The reliability loop's settings, read once at start from the registry (``config/reliability_knobs.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from eclipse.config.settings import load_param
from eclipse.errors import ConfigError

__all__ = ["ReliabilitySettings"]


@dataclass(frozen=True, slots=True)
class ReliabilitySettings:
    """Periods and bounds of the reconcile checks, the foreign-order policy, the posture's timings."""

    foreign_policy: str = "block"
    inflight_check_sec: float = 5.0
    inflight_age_sec: float = 10.0
    max_lookups: int = 5
    orders_check_sec: float = 30.0
    positions_check_sec: float = 60.0
    protection_check_sec: float = 5.0
    stale_sec: float = 180.0
    backoff_base_sec: float = 2.0
    backoff_max_sec: float = 60.0
    hysteresis_sec: float = 120.0
    warmup_sec: float = 300.0
    debt_aging_min: float = 10.0
    red_lock_critical_streak: int = 2

    @classmethod
    def load(cls, env: Mapping[str, str], profile: str = "micro") -> ReliabilitySettings:
        """From ``env`` (registry defaults for what is unset); ConfigError names a bad knob."""

        def f(name: str) -> float:
            return float(str(load_param(env, name, profile)))

        base, cap = f("RECONCILE_BACKOFF_BASE_SEC"), f("RECONCILE_BACKOFF_MAX_SEC")
        if cap < base:
            raise ConfigError(
                "RECONCILE_BACKOFF_MAX_SEC", cap, f"at least RECONCILE_BACKOFF_BASE_SEC ({base:g})"
            )
        return cls(
            foreign_policy=str(load_param(env, "RECONCILE_FOREIGN_POLICY", profile)),
            inflight_check_sec=f("RECONCILE_INFLIGHT_CHECK_SEC"),
            inflight_age_sec=f("RECONCILE_INFLIGHT_AGE_SEC"),
            max_lookups=int(f("RECONCILE_MAX_LOOKUPS")),
            orders_check_sec=f("RECONCILE_ORDERS_CHECK_SEC"),
            positions_check_sec=f("RECONCILE_INTERVAL_SEC"),
            protection_check_sec=f("PROTECTION_CHECK_SEC"),
            stale_sec=f("RECONCILE_STALE_SEC"),
            backoff_base_sec=base,
            backoff_max_sec=cap,
            hysteresis_sec=f("POSTURE_HYSTERESIS_SEC"),
            warmup_sec=f("POSTURE_WARMUP_SEC"),
            debt_aging_min=f("POSTURE_DEBT_AGING_MIN"),
            red_lock_critical_streak=int(f("RECOVERY_RED_LOCK_CRITICAL_STREAK")),
        )
