"""Typed strategy settings loaded from an env mapping through the registry.

The caller passes the mapping in (the CLI is the only reader of the process environment). Unknown variables
are ignored, legacy aliases are resolved, an empty value means "unset" (except for hour ranges, where it
means "off"), and every bad value raises :class:`ConfigError` naming the knob.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from eclipse import _core
from eclipse.config.parsers import format_value
from eclipse.config.registry import FORCE_ENTRY_MODES, PROFILES, REGISTRY, Param, get_param
from eclipse.errors import ConfigError
from eclipse.strategy.sessions import SessionHours

__all__ = [
    "AuditSettings",
    "GateSettings",
    "StrategySettings",
    "load_param",
    "load_strategy_settings",
    "lookup_env",
]

FORCE_ENTRY_KNOB = "SCALPER_DEBUG_FORCE_ENTRY"
PROFILE_KNOB = "SCALPER_SIGNAL_PROFILE"


@dataclass(frozen=True, slots=True)
class GateSettings:
    """Settings of the Python gates that follow the scorer."""

    max_stale_sec: float
    session_hours: SessionHours
    session_mom_hours: SessionHours
    session_mom_min: float
    cooldown_losses: int
    cooldown_minutes: float


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """Strategy audit CSV settings."""

    enabled: bool
    cooldown_sec: float
    path: Path


@dataclass(frozen=True, slots=True)
class StrategySettings:
    """Everything the signal engine needs: profile, gates, audit, debug mode and the Rust configs.

    ``overrides`` lists the knobs that were set in the environment as ``(knob, env var used)``.
    """

    profile: str
    gates: GateSettings
    audit: AuditSettings
    force_entry: str
    confidence_diag: bool
    scorer: _core.ScorerConfig
    features: _core.FeatureConfig
    overrides: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ConfigError(PROFILE_KNOB, self.profile, get_param(PROFILE_KNOB).parser.expected)
        if self.force_entry not in FORCE_ENTRY_MODES:
            raise ConfigError(FORCE_ENTRY_KNOB, self.force_entry, get_param(FORCE_ENTRY_KNOB).parser.expected)
        if self.profile == "production" and self.force_entry != "off":
            raise ConfigError(
                FORCE_ENTRY_KNOB,
                self.force_entry,
                "off: debug force-entry is refused in the production profile",
            )


def lookup_env(env: Mapping[str, str], param: Param) -> tuple[str, str] | None:
    """``(env var used, raw value)`` for ``param`` (its name first, then its aliases), or None when unset.

    An empty value counts as unset, except for hour ranges. Two spellings set to different values is an error.
    """
    found: tuple[str, str] | None = None
    for name in (param.name, *param.aliases):
        raw = env.get(name)
        if raw is None or (not raw.strip() and param.type != "hours"):
            continue
        if found is None:
            found = (name, raw)
        elif raw.strip() != found[1].strip():
            raise ConfigError(name, raw, f"the same value as {found[0]} ({found[1]!r}) or to be unset")
    return found


def load_param(env: Mapping[str, str], name: str, profile: str = "micro") -> object:
    """The value of one knob from ``env`` (or its ``profile`` default)."""
    param = get_param(name)
    found = lookup_env(env, param)
    if found is None:
        return param.default_for(profile)
    return param.parse(found[1], source=found[0])


def _resolve_profile(env: Mapping[str, str], profile: str | None) -> str:
    param = get_param(PROFILE_KNOB)
    if profile is not None:
        return str(param.parse(profile, source=PROFILE_KNOB))
    return str(load_param(env, PROFILE_KNOB))


def _rust_error(
    exc: ValueError, fields: Mapping[str, str], found: Mapping[str, tuple[str, str]], fallback: str
) -> ConfigError:
    """Turn a ValueError from the Rust config (which names a field) into a ConfigError naming the env var."""
    message = str(exc)
    positions = {f: m.start() for f in fields if (m := re.search(rf"\b{re.escape(f)}\b", message))}
    named = sorted(positions, key=positions.__getitem__)
    candidates = [f for f in named if fields[f] in found] or named
    if candidates:
        knob = fields[candidates[0]]
        source, raw = found.get(knob, (knob, ""))
        return ConfigError(
            source, raw if knob in found else "(default)", f"a value the scorer accepts ({message})"
        )
    return ConfigError(fallback, "(profile defaults)", f"a valid configuration ({message})")


def _build_rust_configs(
    profile: str, values: Mapping[str, object], found: Mapping[str, tuple[str, str]]
) -> tuple[_core.ScorerConfig, _core.FeatureConfig]:
    scorer_fields = {p.scorer_field: p.name for p in REGISTRY if p.scorer_field is not None}
    feature_fields = {p.feature_field: p.name for p in REGISTRY if p.feature_field is not None}
    overrides = {f: values[k] for f, k in scorer_fields.items() if k in found}
    try:
        scorer = _core.ScorerConfig.profile(profile, **overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        raise _rust_error(exc, scorer_fields, found, PROFILE_KNOB) from None
    fast, slow = (int(str(values[feature_fields[f]])) for f in ("ema_fast", "ema_slow"))
    if fast >= slow:
        knob = feature_fields["ema_fast"]
        raw = found[knob][1] if knob in found else str(fast)
        raise ConfigError(knob, raw, f"an integer below {feature_fields['ema_slow']} ({slow})")
    try:
        features = _core.FeatureConfig(ema_fast=fast, ema_slow=slow)
    except ValueError as exc:
        raise _rust_error(exc, feature_fields, found, PROFILE_KNOB) from None
    return scorer, features


def _check_cooldown(values: Mapping[str, object], found: Mapping[str, tuple[str, str]]) -> None:
    knob = "SCALPER_COOLDOWN_MINUTES"
    losses, minutes = values["SCALPER_COOLDOWN_LOSSES"], values[knob]
    if isinstance(losses, int) and losses > 0 and minutes == 0.0:
        raw = found[knob][1] if knob in found else format_value(minutes)
        raise ConfigError(knob, raw, "a number > 0 when SCALPER_COOLDOWN_LOSSES > 0")


def load_strategy_settings(env: Mapping[str, str], profile: str | None = None) -> StrategySettings:
    """Build :class:`StrategySettings` from ``env``; ``profile`` (a CLI flag) beats SCALPER_SIGNAL_PROFILE."""
    prof = _resolve_profile(env, profile)
    values: dict[str, object] = {}
    found: dict[str, tuple[str, str]] = {}
    for param in REGISTRY:
        if param.name == PROFILE_KNOB:
            continue
        hit = lookup_env(env, param)
        if hit is None:
            values[param.name] = param.default_for(prof)
        else:
            found[param.name] = hit
            values[param.name] = param.parse(hit[1], source=hit[0])
    values[PROFILE_KNOB] = prof
    _check_cooldown(values, found)
    scorer, features = _build_rust_configs(prof, values, found)
    v = values
    gates = GateSettings(
        max_stale_sec=_float(v["SCALPER_DATA_MAX_STALE_SEC"]),
        session_hours=_hours(v["SCALPER_SESSION_UTC"]),
        session_mom_hours=_hours(v["SCALPER_SESSION_MOM_UTC"]),
        session_mom_min=_float(v["SCALPER_SESSION_MOM_MIN"]),
        cooldown_losses=int(_float(v["SCALPER_COOLDOWN_LOSSES"])),
        cooldown_minutes=_float(v["SCALPER_COOLDOWN_MINUTES"]),
    )
    audit = AuditSettings(
        enabled=bool(v["SCALPER_AUDIT"]),
        cooldown_sec=_float(v["SCALPER_AUDIT_COOLDOWN_SEC"]),
        path=Path(str(v["SCALPER_AUDIT_PATH"])),
    )
    return StrategySettings(
        profile=prof,
        gates=gates,
        audit=audit,
        force_entry=str(v[FORCE_ENTRY_KNOB]),
        confidence_diag=bool(v["SCALPER_CONFIDENCE_DIAG"]),
        scorer=scorer,
        features=features,
        overrides=tuple((name, hit[0]) for name, hit in found.items()),
    )


def _float(value: object) -> float:
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"expected a number, got {value!r}")


def _hours(value: object) -> SessionHours:
    if isinstance(value, SessionHours):
        return value
    raise TypeError(f"expected SessionHours, got {value!r}")
