"""The parameter registry: every knob of the strategy layer with its env-var name (the original bot's),
type, defaults per profile, owner, safety impact and a one-line doc.

Scorer and feature knobs have no default here: it is read from the Rust side
(``ScorerConfig.profile(name)`` / ``FeatureConfig()``) so each default has exactly one definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from eclipse import _core
from eclipse.config.entry_knobs import entry_params
from eclipse.config.exit_knobs import exit_params
from eclipse.config.guard_knobs import guard_params
from eclipse.config.parsers import (
    Parser,
    bool_parser,
    choice_parser,
    float_parser,
    hours_parser,
    int_parser,
    path_parser,
)
from eclipse.config.reliability_knobs import reliability_params
from eclipse.config.router_knobs import router_params
from eclipse.config.runtime_knobs import runtime_params
from eclipse.config.venue_knobs import venue_params
from eclipse.strategy.sessions import SessionHours

__all__ = [
    "FORCE_ENTRY_MODES",
    "PROFILES",
    "REGISTRY",
    "TIMEFRAMES",
    "Param",
    "Safety",
    "get_param",
]

Safety = Literal["none", "entry", "exit", "sizing", "risk"]
PROFILES: tuple[str, ...] = ("micro", "production")
TIMEFRAMES: tuple[str, ...] = ("1m", "5m", "15m", "1h")
FORCE_ENTRY_MODES: tuple[str, ...] = ("off", "long", "short", "alternate")


@dataclass(frozen=True, slots=True)
class Param:
    """One knob: ``name`` is the env var; ``default`` applies to every profile unless ``micro``/``production``
    override it; ``scorer_field``/``feature_field`` mean the value lives in the Rust config (and so does the
    default)."""

    name: str
    parser: Parser[Any]
    default: object
    owner: str
    safety: Safety
    doc: str
    micro: object = None
    production: object = None
    aliases: tuple[str, ...] = ()
    secret: bool = False
    scorer_field: str | None = None
    feature_field: str | None = None

    @property
    def type(self) -> str:
        """The value type: bool, int, float, choice, hours, path or url."""
        return self.parser.kind

    @property
    def rust_backed(self) -> bool:
        """True when the default comes from ``eclipse._core``."""
        return self.scorer_field is not None or self.feature_field is not None

    def default_for(self, profile: str) -> object:
        """The default value in ``profile`` (for Rust-backed knobs, asked from the Rust config)."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
        if self.scorer_field is not None:
            return self._typed(_core.ScorerConfig.profile(profile).to_dict()[self.scorer_field])
        if self.feature_field is not None:
            return self._typed(_core.FeatureConfig().to_dict()[self.feature_field])
        override = self.micro if profile == "micro" else self.production
        return self.default if override is None else override

    def parse(self, raw: str, *, source: str | None = None) -> object:
        """Parse ``raw`` for this knob; ConfigError names ``source`` (the alias used) or the knob."""
        return self.parser.parse(source or self.name, raw, secret=self.secret)

    def _typed(self, value: object) -> object:
        if self.type == "int" and isinstance(value, float | int):
            return int(value)
        if self.type == "float" and isinstance(value, float | int) and not isinstance(value, bool):
            return float(value)
        return value


_BOOL = bool_parser()
_NONNEG_INT = int_parser(0)
_NONNEG_FLOAT = float_parser(0.0)
_UNIT = float_parser(0.0, 1.0)
_TF = choice_parser(TIMEFRAMES)
_HOURS = hours_parser()
_GATES = "strategy.gates"
_SCORER = "rust.scorer"


def _scorer(name: str, field: str, parser: Parser[Any], doc: str, **kw: Any) -> Param:
    return Param(name, parser, None, _SCORER, "entry", doc, scorer_field=field, **kw)


REGISTRY: tuple[Param, ...] = (
    Param(
        "SCALPER_SIGNAL_PROFILE",
        choice_parser(PROFILES),
        "micro",
        "config.settings",
        "entry",
        "signal profile whose defaults apply (micro: small equity, production: larger equity)",
    ),
    # --- strategy guards (Python gates) ---
    Param(
        "SCALPER_DATA_MAX_STALE_SEC",
        _NONNEG_FLOAT,
        180.0,
        _GATES,
        "entry",
        "block signals when the last closed 1m bar is older than this many seconds (0 = off)",
    ),
    Param(
        "SCALPER_SESSION_UTC",
        _HOURS,
        SessionHours(),
        _GATES,
        "entry",
        'trade only in these UTC hours, inclusive ranges like "13-17,19-23" (empty = off)',
    ),
    Param(
        "SCALPER_SESSION_MOM_UTC",
        _HOURS,
        SessionHours(),
        _GATES,
        "entry",
        "during these UTC hours require 5m and 15m momentum in the signal's direction (empty = off)",
    ),
    Param(
        "SCALPER_SESSION_MOM_MIN",
        _NONNEG_FLOAT,
        0.0015,
        _GATES,
        "entry",
        "minimum |momentum| of both 5m and 15m returns under SCALPER_SESSION_MOM_UTC",
    ),
    Param(
        "SCALPER_COOLDOWN_LOSSES",
        _NONNEG_INT,
        0,
        _GATES,
        "entry",
        "consecutive losses that start a cooldown (0 = off)",
    ),
    Param(
        "SCALPER_COOLDOWN_MINUTES",
        _NONNEG_FLOAT,
        0.0,
        _GATES,
        "entry",
        "cooldown length in minutes after SCALPER_COOLDOWN_LOSSES losses in a row",
    ),
    Param(
        "SCALPER_DEBUG_FORCE_ENTRY",
        choice_parser(FORCE_ENTRY_MODES),
        "off",
        _GATES,
        "entry",
        "plumbing tests only: force long/short/alternate directions (refused in production)",
    ),
    # --- trend confirmation ---
    _scorer(
        "SCALPER_TREND_CONFIRM", "trend_confirm", _BOOL, "enable the higher-timeframe EMA trend component"
    ),
    _scorer(
        "SCALPER_TREND_CONFIRM_MODE",
        "trend_mode",
        choice_parser(("gate", "vote")),
        "gate: block signals against the trend; vote: the trend votes with SCALPER_WEIGHT_TREND",
    ),
    _scorer("SCALPER_TREND_CONFIRM_TF", "trend_tf", _TF, "timeframe of the trend EMAs"),
    Param(
        "SCALPER_TREND_CONFIRM_FAST",
        int_parser(1),
        None,
        "rust.features",
        "entry",
        "fast EMA length of the trend (every timeframe)",
        feature_field="ema_fast",
    ),
    Param(
        "SCALPER_TREND_CONFIRM_SLOW",
        int_parser(2),
        None,
        "rust.features",
        "entry",
        "slow EMA length of the trend (every timeframe)",
        feature_field="ema_slow",
    ),
    # --- volatility regime ---
    _scorer(
        "SCALPER_VOL_REGIME_ENABLED",
        "vol_regime_enabled",
        _BOOL,
        "detect LOW/HIGH volatility regimes (ATR% + Bollinger width) and scale thresholds",
    ),
    _scorer("SCALPER_VOL_REGIME_GUARD", "vol_regime_guard", _BOOL, "block signals in the LOW regime"),
    _scorer("SCALPER_VOL_REGIME_TF", "vol_regime_tf", _TF, "timeframe of the regime inputs"),
    _scorer(
        "SCALPER_VOL_REGIME_LOW_ATR_PCT",
        "vol_regime_low_atr_pct",
        _NONNEG_FLOAT,
        "LOW regime needs ATR% below this (and BB width below SCALPER_VOL_REGIME_LOW_BB_PCT)",
    ),
    _scorer(
        "SCALPER_VOL_REGIME_HIGH_ATR_PCT",
        "vol_regime_high_atr_pct",
        _NONNEG_FLOAT,
        "HIGH regime when ATR% is above this",
    ),
    _scorer(
        "SCALPER_VOL_REGIME_LOW_BB_PCT",
        "vol_regime_low_bb_pct",
        _NONNEG_FLOAT,
        "LOW regime needs BB width below this (and ATR% below SCALPER_VOL_REGIME_LOW_ATR_PCT)",
    ),
    _scorer(
        "SCALPER_VOL_REGIME_HIGH_BB_PCT",
        "vol_regime_high_bb_pct",
        _NONNEG_FLOAT,
        "HIGH regime when BB width is above this",
    ),
    _scorer(
        "SCALPER_VOL_REGIME_LOW_MULT",
        "vol_regime_low_mult",
        _NONNEG_FLOAT,
        "threshold multiplier in the LOW regime (> 1 tightens)",
    ),
    _scorer(
        "SCALPER_VOL_REGIME_HIGH_MULT",
        "vol_regime_high_mult",
        _NONNEG_FLOAT,
        "threshold multiplier in the HIGH regime (< 1 loosens)",
    ),
    # --- component thresholds and weights ---
    _scorer(
        "DYN_MOM_MULT",
        "dyn_mom_mult",
        _NONNEG_FLOAT,
        "momentum threshold = DYN_MOM_MULT * regime mult * ATR% * sqrt(bars)",
    ),
    _scorer("VWAP_BASE_DIST", "vwap_base_dist", _NONNEG_FLOAT, "minimum |close/VWAP - 1| for the VWAP vote"),
    _scorer("VOL_Z_TH", "vol_z_th", _NONNEG_FLOAT, "volume z-score for the full volume-confirmation weight"),
    _scorer(
        "VOL_Z_SOFT_TH",
        "vol_z_soft_th",
        _NONNEG_FLOAT,
        "volume z-score for half the volume-confirmation weight",
    ),
    _scorer("SCALPER_WEIGHT_MOM_FAST", "weight_mom_fast", _NONNEG_FLOAT, "vote weight of the 5-bar momentum"),
    _scorer(
        "SCALPER_WEIGHT_MOM_SLOW", "weight_mom_slow", _NONNEG_FLOAT, "vote weight of the 15-bar momentum"
    ),
    _scorer(
        "SCALPER_WEIGHT_TREND", "weight_trend", _NONNEG_FLOAT, "vote weight of the trend (vote mode only)"
    ),
    _scorer("SCALPER_WEIGHT_VWAP", "weight_vwap", _NONNEG_FLOAT, "vote weight of the VWAP distance"),
    _scorer(
        "SCALPER_WEIGHT_VOLUME", "weight_volume", _NONNEG_FLOAT, "vote weight of the volume confirmation"
    ),
    # --- confidence ---
    _scorer(
        "SCALPER_VOL_RATIO_WEIGHT",
        "vol_ratio_weight",
        _NONNEG_FLOAT,
        "confidence multiplier slope on (volume_ratio - 1)",
    ),
    _scorer(
        "SCALPER_VOL_RATIO_MAX_BOOST",
        "vol_ratio_max_boost",
        _NONNEG_FLOAT,
        "cap on the volume boost of confidence",
    ),
    _scorer("SCALPER_VOL_RATIO_MAX_DROP", "vol_ratio_max_drop", _UNIT, "cap on the volume cut of confidence"),
    _scorer(
        "SCALPER_CONFIDENCE_POWER",
        "confidence_power",
        float_parser(0.0),
        "confidence power curve (> 1 compresses the midrange, < 1 boosts it)",
    ),
    _scorer("SCALPER_CONFIDENCE_MIN", "confidence_min", _UNIT, "confidence clamp floor"),
    _scorer("SCALPER_CONFIDENCE_MAX", "confidence_max", _UNIT, "confidence clamp ceiling"),
    _scorer(
        "ENTRY_MIN_CONFIDENCE",
        "min_confidence",
        _UNIT,
        "minimum confidence for a direction; below it the bar is a near-miss",
        aliases=("MIN_CONFIDENCE",),
    ),
    Param(
        "SCALPER_CONFIDENCE_DIAG",
        _BOOL,
        False,
        "strategy.engine",
        "none",
        "log raw -> calibrated confidence per symbol (throttled)",
    ),
    # --- audit ---
    Param(
        "SCALPER_AUDIT",
        _BOOL,
        False,
        "strategy.audit",
        "none",
        "write a CSV row for every signal and for near-misses",
    ),
    Param(
        "SCALPER_AUDIT_COOLDOWN_SEC",
        _NONNEG_FLOAT,
        5.0,
        "strategy.audit",
        "none",
        "minimum seconds between two near-miss rows of one symbol",
    ),
    Param(
        "SCALPER_AUDIT_PATH",
        path_parser(),
        Path("logs/strategy_audit.csv"),
        "strategy.audit",
        "none",
        "audit CSV file (parent directories are created)",
    ),
    # --- venue layer (eclipse.config.venue_knobs) ---
    *venue_params(Param),
    # --- execution engine (eclipse.config.{router,entry,exit}_knobs) ---
    *router_params(Param),
    *entry_params(Param),
    *exit_params(Param),
    # --- the daemon (eclipse.config.runtime_knobs) ---
    *runtime_params(Param),
    # --- the daemon's entry guards (eclipse.config.guard_knobs) ---
    *guard_params(Param),
    # --- the reliability loop (eclipse.config.reliability_knobs) ---
    *reliability_params(Param),
)

_BY_NAME: Mapping[str, Param] = MappingProxyType({p.name: p for p in REGISTRY})


def get_param(name: str) -> Param:
    """The registered knob called ``name`` (KeyError naming it otherwise)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no knob named {name!r} in the registry") from None
