"""The parameter registry: completeness, one env var per Rust field, documented defaults per profile."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import get_args

import pytest

from eclipse import _core
from eclipse.config.describe import describe_params, render_params_table
from eclipse.config.parsers import format_value
from eclipse.config.registry import PROFILES, REGISTRY, TIMEFRAMES, Param, Safety, get_param
from eclipse.strategy.sessions import SessionHours

# Every knob the strategy issue names, with the original bot's env-var names.
EXPECTED_KNOBS = {
    "SCALPER_SIGNAL_PROFILE", "SCALPER_DATA_MAX_STALE_SEC", "SCALPER_SESSION_UTC", "SCALPER_SESSION_MOM_UTC",
    "SCALPER_SESSION_MOM_MIN", "SCALPER_COOLDOWN_LOSSES", "SCALPER_COOLDOWN_MINUTES", "SCALPER_TREND_CONFIRM",
    "SCALPER_TREND_CONFIRM_MODE", "SCALPER_TREND_CONFIRM_TF", "SCALPER_TREND_CONFIRM_FAST",
    "SCALPER_TREND_CONFIRM_SLOW", "SCALPER_VOL_REGIME_ENABLED", "SCALPER_VOL_REGIME_GUARD",
    "SCALPER_VOL_REGIME_TF", "SCALPER_VOL_REGIME_LOW_ATR_PCT", "SCALPER_VOL_REGIME_HIGH_ATR_PCT",
    "SCALPER_VOL_REGIME_LOW_BB_PCT", "SCALPER_VOL_REGIME_HIGH_BB_PCT", "SCALPER_VOL_REGIME_LOW_MULT",
    "SCALPER_VOL_REGIME_HIGH_MULT", "DYN_MOM_MULT", "VOL_Z_TH", "VOL_Z_SOFT_TH", "VWAP_BASE_DIST",
    "SCALPER_WEIGHT_MOM_FAST", "SCALPER_WEIGHT_MOM_SLOW", "SCALPER_WEIGHT_TREND", "SCALPER_WEIGHT_VWAP",
    "SCALPER_WEIGHT_VOLUME", "SCALPER_VOL_RATIO_WEIGHT", "SCALPER_VOL_RATIO_MAX_BOOST",
    "SCALPER_VOL_RATIO_MAX_DROP", "SCALPER_CONFIDENCE_POWER", "SCALPER_CONFIDENCE_MIN",
    "SCALPER_CONFIDENCE_MAX", "SCALPER_CONFIDENCE_DIAG", "ENTRY_MIN_CONFIDENCE", "SCALPER_DEBUG_FORCE_ENTRY",
    "SCALPER_AUDIT", "SCALPER_AUDIT_COOLDOWN_SEC", "SCALPER_AUDIT_PATH",
    # venue layer (eclipse.config.venue_knobs)
    "EXCHANGE_ADAPTER", "SCALPER_DRY_RUN", "VENUE_API_URL", "VENUE_TIMEOUT_MS", "VENUE_RECV_WINDOW_MS",
    "VENUE_WEIGHT_BUDGET_PCT",
    # execution engine: router (eclipse.config.router_knobs)
    "ROUTER_MAX_NOTIONAL_USDT", "ROUTER_RETRY_POLICY", "ROUTER_RETRY_BASE_SEC", "ROUTER_RETRY_MAX_DELAY_SEC",
    "ROUTER_RETRY_BUDGET_SEC", "ROUTER_REPLACE_MAX_ATTEMPTS",
    # execution engine: entries, sizing, leverage (eclipse.config.entry_knobs)
    "ENTRY_BLOCK_ON_ROUTER_BLOCK", "ENTRY_BLOCK_ROUTER_WINDOW_SEC", "ENTRY_BLOCK_ROUTER_THRESHOLD",
    "ENTRY_BLOCK_ROUTER_BACKOFF_SEC", "ENTRY_BLOCK_ON_ERRORS", "ENTRY_BLOCK_ERRORS_WINDOW_SEC",
    "ENTRY_BLOCK_ERRORS_THRESHOLD", "ENTRY_BLOCK_ERRORS_BACKOFF_SEC", "CORR_GROUPS",
    "CORR_GROUP_MAX_POSITIONS", "CORR_GROUP_MAX_NOTIONAL_USDT", "CORR_GROUP_LIMITS", "CORR_GROUP_NOTIONAL",
    "ENTRY_PARTIAL_MIN_FILL_RATIO", "ENTRY_PARTIAL_CANCEL", "ENTRY_PARTIAL_BACKOFF_SEC",
    "ENTRY_PARTIAL_ESCALATE_WINDOW_SEC", "ENTRY_PARTIAL_ESCALATE_COUNT", "ENTRY_PARTIAL_ESCALATE_BACKOFF_SEC",
    "ENTRY_PARTIAL_ESCALATE_TELEM_CD_SEC", "ENTRY_PARTIAL_CANCEL_RETRIES", "ENTRY_PARTIAL_CANCEL_DELAY_SEC",
    "ENTRY_PARTIAL_FORCE_FLATTEN", "ENTRY_PARTIAL_FLATTEN_RETRIES", "FIXED_NOTIONAL_USDT", "FIXED_QTY",
    "ENTRY_CONF_SCALE_ENABLED", "ENTRY_CONF_SCALE_MIN_CONF", "ENTRY_CONF_SCALE_MAX_CONF",
    "ENTRY_CONF_SCALE_MIN", "ENTRY_CONF_SCALE_MAX", "ADAPTIVE_GUARD_NOTIONAL_SCALE",
    "ADAPTIVE_GUARD_QTY_SCALE", "CORR_GROUP_EXPOSURE_SCALE_ENABLED", "CORR_GROUP_EXPOSURE_SCALE",
    "CORR_GROUP_EXPOSURE_SCALE_MIN", "CORR_GROUP_EXPOSURE_REF_NOTIONAL", "CORR_GROUP_EXPOSURE_SCALE_BY_GROUP",
    "CORR_GROUP_EXPOSURE_SCALE_MIN_BY_GROUP", "CORR_GROUP_EXPOSURE_REF_NOTIONAL_BY_GROUP", "LEVERAGE",
    "LEVERAGE_BY_SYMBOL", "LEVERAGE_BY_GROUP", "LEVERAGE_MIN", "LEVERAGE_MAX", "LEVERAGE_GROUP_DYNAMIC",
    "LEVERAGE_GROUP_SCALE", "LEVERAGE_GROUP_SCALE_MIN", "LEVERAGE_GROUP_EXCLUDE_SELF",
    "LEVERAGE_GROUP_EXPOSURE", "LEVERAGE_GROUP_EXPOSURE_REF_PCT", "MARGIN_MODE",
    # execution engine: exits and protection (eclipse.config.exit_knobs)
    "EXIT_MOM_ENABLED", "EXIT_MOM_MIN", "EXIT_MOM_REQUIRE_BOTH", "EXIT_VWAP_ENABLED", "EXIT_VWAP_TF",
    "EXIT_VWAP_WINDOW", "EXIT_VWAP_REQUIRE_CROSS", "EXIT_MAX_HOLD_SEC", "EXIT_STAGNATION_SEC",
    "EXIT_STAGNATION_ATR", "EXIT_ATR_TF", "EXIT_ATR_SCALE_ENABLED", "EXIT_ATR_SCALE_REF_PCT",
    "EXIT_ATR_SCALE_MIN", "EXIT_ATR_SCALE_MAX", "EXIT_STOP_LOSS_PCT", "EXIT_STOP_LOSS_ATR",
    "EXIT_TAKE_PROFIT_PCT", "EXIT_TAKE_PROFIT_ATR", "EXIT_PROTECT_GRACE_SEC", "EXIT_PROTECT_CLOSE_POSITION",
    # the daemon (eclipse.config.runtime_knobs)
    "SCALPER_MODE", "ENTRY_LOOP_MODE", "ACTIVE_SYMBOLS", "FIRST_LIVE_SAFE", "FIRST_LIVE_SYMBOLS",
    "FIRST_LIVE_MAX_NOTIONAL_USDT", "EQUITY_CAP_USDT", "MAX_DAILY_LOSS_PCT", "MAX_DRAWDOWN_PCT",
    "KILL_DAILY_HALT_SEC", "KILL_DRAWDOWN_HALT_SEC", "TELEMETRY_PATH", "PROTECTION_CHECK_SEC",
    "RUN_BAR_SETTLE_SEC", "RECONCILE_INTERVAL_SEC", "RUN_LOOP_MAX_CRASHES", "CLOCK_SKEW_MAX_MS",
    "CHAOS_CRASH_AT",
    "FEATURE_STATE_MAX_AGE_SEC", "STATUS_HTTP", "VENUE_WEIGHT_RESERVE_PCT", "STATUS_HTTP_HOST",
    "STATUS_HTTP_PORT", "STATUS_TOKEN",
    # the reliability loop (eclipse.config.reliability_knobs)
    "RECONCILE_FOREIGN_POLICY", "RECONCILE_INFLIGHT_CHECK_SEC", "RECONCILE_INFLIGHT_AGE_SEC",
    "RECONCILE_MAX_LOOKUPS", "RECONCILE_ORDERS_CHECK_SEC", "RECONCILE_STALE_SEC",
    "RECONCILE_BACKOFF_BASE_SEC", "RECONCILE_BACKOFF_MAX_SEC", "POSTURE_HYSTERESIS_SEC", "POSTURE_WARMUP_SEC",
    "POSTURE_DEBT_AGING_MIN", "RECOVERY_RED_LOCK_CRITICAL_STREAK",
    # the daemon's entry guards (eclipse.config.guard_knobs)
    "KILL_DAILY_HALT_UNTIL_UTC", "ENTRY_DATA_MAX_STALE_SEC", "ENTRY_DATA_QUALITY_MIN",
    "ENTRY_DATA_QUALITY_TF", "ENTRY_DATA_QUALITY_WINDOW", "ENTRY_DATA_QUALITY_EMIT_SEC",
    "ENTRY_DATA_QUALITY_HISTORY_MAX", "ENTRY_DATA_QUALITY_ROLL_SEC", "ENTRY_DATA_QUALITY_ROLL_MIN",
    "ENTRY_DATA_QUALITY_KILL_SEC", "ADAPTIVE_GUARD_ENABLED", "ADAPTIVE_GUARD_DURATION_SEC",
    "ADAPTIVE_GUARD_PARTIAL_ESCALATE_DELTA", "ADAPTIVE_GUARD_PARTIAL_ESCALATE_DURATION_SEC",
    "ADAPTIVE_GUARD_RETRY_DELTA", "ADAPTIVE_GUARD_RETRY_DURATION_SEC", "ADAPTIVE_GUARD_DRIFT_DELTA",
    "ADAPTIVE_GUARD_DRIFT_DURATION_SEC", "ADAPTIVE_GUARD_EXIT_DELTA", "ADAPTIVE_GUARD_EXIT_DURATION_SEC",
    "ADAPTIVE_GUARD_TELEMETRY_DELTA", "ADAPTIVE_GUARD_TELEMETRY_DURATION_SEC", "ANOMALY_GUARD_ENABLED",
    "ANOMALY_WINDOW_SEC", "ANOMALY_EXPOSURE_SPIKE_PCT", "ANOMALY_CONFIDENCE_DROP_PCT",
    "ANOMALY_CONFIDENCE_MIN_ENTRIES", "ANOMALY_RISK_EVENTS_MAX", "ANOMALY_MIN_EXITS", "ANOMALY_PAUSE_SEC",
    "STOP_BREACH_COOLDOWN_SEC",
}  # fmt: skip

# Defaults the original README documents ("Guard Defaults", "Volatility Regime", "Volume-weighted
# confidence", "Strategy Confidence Tuning", "Trend Confirmation", "Strategy Audit"): (micro, production).
README_DEFAULTS: dict[str, tuple[object, object]] = {
    "SCALPER_SIGNAL_PROFILE": ("micro", "micro"),
    "SCALPER_DATA_MAX_STALE_SEC": (180.0, 180.0),
    "SCALPER_SESSION_UTC": (SessionHours(), SessionHours()),
    "SCALPER_SESSION_MOM_UTC": (SessionHours(), SessionHours()),
    "SCALPER_SESSION_MOM_MIN": (0.0015, 0.0015),
    "SCALPER_COOLDOWN_LOSSES": (0, 0),
    "SCALPER_COOLDOWN_MINUTES": (0.0, 0.0),
    "SCALPER_TREND_CONFIRM": (True, True),
    "SCALPER_TREND_CONFIRM_MODE": ("gate", "gate"),
    "SCALPER_TREND_CONFIRM_TF": ("1h", "1h"),
    "SCALPER_TREND_CONFIRM_FAST": (50, 50),
    "SCALPER_TREND_CONFIRM_SLOW": (200, 200),
    "SCALPER_VOL_REGIME_ENABLED": (True, True),
    "SCALPER_VOL_REGIME_GUARD": (True, True),
    "SCALPER_VOL_REGIME_TF": ("5m", "5m"),
    "SCALPER_VOL_REGIME_LOW_ATR_PCT": (0.0010, 0.0010),
    "SCALPER_VOL_REGIME_HIGH_ATR_PCT": (0.0030, 0.0030),
    "SCALPER_VOL_REGIME_LOW_BB_PCT": (0.012, 0.012),
    "SCALPER_VOL_REGIME_HIGH_BB_PCT": (0.035, 0.035),
    "SCALPER_VOL_REGIME_LOW_MULT": (1.15, 1.15),
    "SCALPER_VOL_REGIME_HIGH_MULT": (0.90, 0.90),
    "SCALPER_VOL_RATIO_WEIGHT": (0.4, 0.35),
    "SCALPER_VOL_RATIO_MAX_BOOST": (0.4, 0.5),
    "SCALPER_VOL_RATIO_MAX_DROP": (0.2, 0.25),
    "SCALPER_CONFIDENCE_POWER": (1.0, 1.0),
    "SCALPER_CONFIDENCE_MIN": (0.0, 0.0),
    "SCALPER_CONFIDENCE_MAX": (1.0, 1.0),
    "SCALPER_CONFIDENCE_DIAG": (False, False),
    "SCALPER_DEBUG_FORCE_ENTRY": ("off", "off"),
    "SCALPER_AUDIT": (False, False),
    "SCALPER_AUDIT_COOLDOWN_SEC": (5.0, 5.0),
    "SCALPER_AUDIT_PATH": (Path("logs/strategy_audit.csv"), Path("logs/strategy_audit.csv")),
}


def test_registry_has_every_knob_of_the_issue() -> None:
    names = {p.name for p in REGISTRY}
    assert names == EXPECTED_KNOBS


def test_names_and_aliases_are_unique() -> None:
    spellings = Counter(s for p in REGISTRY for s in (p.name, *p.aliases))
    assert [s for s, n in spellings.items() if n > 1] == []


@pytest.mark.parametrize("param", REGISTRY, ids=lambda p: p.name)
def test_every_knob_is_documented(param: Param) -> None:
    assert param.name == param.name.upper()
    assert " " not in param.name
    assert param.owner.strip()
    assert param.safety in get_args(Safety)
    assert param.doc.strip()
    assert "\n" not in param.doc
    assert len(param.doc) <= 120
    assert param.type in {
        "bool",
        "int",
        "float",
        "choice",
        "hours",
        "path",
        "url",
        "retry_policy",
        "groups",
        "map",
        "symbols",
        "text",
    }
    assert param.parser.expected.strip()


@pytest.mark.parametrize("param", REGISTRY, ids=lambda p: p.name)
@pytest.mark.parametrize("profile", PROFILES)
def test_defaults_exist_and_round_trip_through_the_parser(param: Param, profile: str) -> None:
    default = param.default_for(profile)
    assert default is not None
    assert param.parse(format_value(default)) == default


def test_every_scorer_field_has_exactly_one_env_var() -> None:
    fields = Counter(p.scorer_field for p in REGISTRY if p.scorer_field is not None)
    assert all(n == 1 for n in fields.values()), fields
    assert set(fields) == set(_core.ScorerConfig.profile("micro").to_dict())


def test_trend_lengths_map_to_the_feature_config() -> None:
    assert get_param("SCALPER_TREND_CONFIRM_FAST").feature_field == "ema_fast"
    assert get_param("SCALPER_TREND_CONFIRM_SLOW").feature_field == "ema_slow"
    fields = [p.feature_field for p in REGISTRY if p.feature_field is not None]
    assert sorted(fields) == ["ema_fast", "ema_slow"]
    assert set(fields) <= set(_core.FeatureConfig().to_dict())


def test_rust_backed_knobs_define_no_python_default() -> None:
    for p in REGISTRY:
        if p.rust_backed:
            assert (p.default, p.micro, p.production) == (None, None, None), p.name


@pytest.mark.parametrize("name", sorted(README_DEFAULTS))
def test_defaults_match_the_original_readme(name: str) -> None:
    micro, production = README_DEFAULTS[name]
    param = get_param(name)
    assert param.default_for("micro") == micro
    assert param.default_for("production") == production


def test_timeframes_match_the_core() -> None:
    assert tuple(_core.TIMEFRAMES) == TIMEFRAMES


def test_alias_is_registered_for_the_legacy_min_confidence_name() -> None:
    assert get_param("ENTRY_MIN_CONFIDENCE").aliases == ("MIN_CONFIDENCE",)


def test_unknown_knob_and_profile_are_errors() -> None:
    with pytest.raises(KeyError, match="NOPE"):
        get_param("NOPE")
    with pytest.raises(ValueError, match="unknown profile"):
        get_param("VOL_Z_TH").default_for("mega")


def test_describe_lists_every_knob_with_both_profiles() -> None:
    rows = describe_params()
    assert [r.name for r in rows] == [p.name for p in REGISTRY]
    by_name = {r.name: r for r in rows}
    assert dict(by_name["SCALPER_VOL_RATIO_WEIGHT"].defaults) == {"micro": "0.4", "production": "0.35"}
    assert dict(by_name["SCALPER_SESSION_UTC"].defaults) == {"micro": '""', "production": '""'}
    table = render_params_table(rows)
    lines = table.splitlines()
    assert lines[0].split() == ["name", "type", "micro", "production", "owner", "safety", "doc"]
    assert len(lines) == len(REGISTRY) + 1
    assert "alias: MIN_CONFIDENCE" in table


def test_describe_one_profile() -> None:
    rows = describe_params(("production",))
    assert all(tuple(p for p, _ in r.defaults) == ("production",) for r in rows)
    assert render_params_table(rows).splitlines()[0].split()[2] == "production"
