"""load_strategy_settings: env mapping -> typed settings and Rust configs; every bad value names its knob."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from eclipse.config.settings import StrategySettings, load_param, load_strategy_settings
from eclipse.errors import ConfigError


def test_defaults_are_the_micro_profile() -> None:
    s = load_strategy_settings({})
    assert s.profile == "micro"
    assert s.gates.max_stale_sec == 180.0
    assert not s.gates.session_hours.enabled
    assert not s.gates.session_mom_hours.enabled
    assert s.gates.session_mom_min == 0.0015
    assert (s.gates.cooldown_losses, s.gates.cooldown_minutes) == (0, 0.0)
    assert s.force_entry == "off"
    assert s.confidence_diag is False
    assert s.audit.enabled is False
    assert s.audit.cooldown_sec == 5.0
    assert s.audit.path == Path("logs/strategy_audit.csv")
    assert s.scorer.to_dict() == s.scorer.profile("micro").to_dict()
    assert (s.features.ema_fast, s.features.ema_slow) == (50, 200)
    assert s.overrides == ()


def test_profiles_differ_where_the_readme_says() -> None:
    micro = load_strategy_settings({}).scorer
    prod = load_strategy_settings({"SCALPER_SIGNAL_PROFILE": "production"}).scorer
    assert (micro.vol_ratio_weight, micro.vol_ratio_max_boost, micro.vol_ratio_max_drop) == (0.4, 0.4, 0.2)
    assert (prod.vol_ratio_weight, prod.vol_ratio_max_boost, prod.vol_ratio_max_drop) == (0.35, 0.5, 0.25)


def test_profile_argument_beats_the_env() -> None:
    env = {"SCALPER_SIGNAL_PROFILE": "micro"}
    assert load_strategy_settings(env, "production").profile == "production"
    assert load_strategy_settings({"SCALPER_SIGNAL_PROFILE": " Production "}).profile == "production"
    with pytest.raises(ConfigError, match=r"SCALPER_SIGNAL_PROFILE='big': expected one of micro\|production"):
        load_strategy_settings({}, "big")


def test_env_values_reach_every_setting() -> None:
    env = {
        "SCALPER_DATA_MAX_STALE_SEC": "120",
        "SCALPER_SESSION_UTC": "12-20",
        "SCALPER_SESSION_MOM_UTC": "13-17",
        "SCALPER_SESSION_MOM_MIN": "0.002",
        "SCALPER_COOLDOWN_LOSSES": "2",
        "SCALPER_COOLDOWN_MINUTES": "30",
        "SCALPER_CONFIDENCE_DIAG": "1",
        "SCALPER_AUDIT": "yes",
        "SCALPER_AUDIT_COOLDOWN_SEC": "10",
        "SCALPER_AUDIT_PATH": "/tmp/x/audit.csv",
        "SCALPER_DEBUG_FORCE_ENTRY": "alternate",
        "SCALPER_TREND_CONFIRM_FAST": "20",
        "SCALPER_TREND_CONFIRM_SLOW": "100",
        "SCALPER_TREND_CONFIRM_MODE": "vote",
        "SCALPER_TREND_CONFIRM_TF": "15m",
        "SCALPER_VOL_REGIME_TF": "15m",
        "SCALPER_VOL_REGIME_GUARD": "off",
        "SCALPER_WEIGHT_VWAP": "0.7",
        "DYN_MOM_MULT": "1.3",
        "ENTRY_MIN_CONFIDENCE": "0.42",
        "SCALPER_CONFIDENCE_POWER": "1.2",
        "UNRELATED_VAR": "whatever",
        "SCALPER_NOT_A_KNOB": "x",
    }
    s = load_strategy_settings(env)
    g = s.gates
    assert g.max_stale_sec == 120.0
    assert g.session_hours.hours == frozenset(range(12, 21))
    assert g.session_mom_hours.hours == frozenset(range(13, 18))
    assert (g.session_mom_min, g.cooldown_losses, g.cooldown_minutes) == (0.002, 2, 30.0)
    assert s.confidence_diag is True
    assert s.force_entry == "alternate"
    assert (s.audit.enabled, s.audit.cooldown_sec, s.audit.path) == (True, 10.0, Path("/tmp/x/audit.csv"))
    assert (s.features.ema_fast, s.features.ema_slow) == (20, 100)
    sc = s.scorer
    assert (sc.trend_mode, sc.trend_tf, sc.vol_regime_tf, sc.vol_regime_guard) == (
        "vote",
        "15m",
        "15m",
        False,
    )
    assert (sc.weight_vwap, sc.dyn_mom_mult, sc.min_confidence, sc.confidence_power) == (0.7, 1.3, 0.42, 1.2)
    assert dict(s.overrides)["ENTRY_MIN_CONFIDENCE"] == "ENTRY_MIN_CONFIDENCE"
    assert "UNRELATED_VAR" not in dict(s.overrides)


def test_empty_values_mean_unset_but_empty_hours_mean_off() -> None:
    s = load_strategy_settings(
        {"SCALPER_DATA_MAX_STALE_SEC": "", "DYN_MOM_MULT": "  ", "SCALPER_SESSION_UTC": ""}
    )
    assert s.gates.max_stale_sec == 180.0
    assert s.scorer.dyn_mom_mult == s.scorer.profile("micro").dyn_mom_mult
    assert not s.gates.session_hours.enabled


def test_legacy_alias_is_resolved_and_the_canonical_name_wins() -> None:
    assert load_strategy_settings({"MIN_CONFIDENCE": "0.33"}).scorer.min_confidence == 0.33
    both = {"MIN_CONFIDENCE": "0.33", "ENTRY_MIN_CONFIDENCE": "0.33"}
    assert load_strategy_settings(both).scorer.min_confidence == 0.33
    with pytest.raises(ConfigError) as info:
        load_strategy_settings({"MIN_CONFIDENCE": "0.5", "ENTRY_MIN_CONFIDENCE": "0.33"})
    assert info.value.knob == "MIN_CONFIDENCE"
    assert "ENTRY_MIN_CONFIDENCE" in str(info.value)
    with pytest.raises(ConfigError, match=r"^MIN_CONFIDENCE='high': expected a finite number in \[0, 1\]"):
        load_strategy_settings({"MIN_CONFIDENCE": "high"})


@pytest.mark.parametrize(
    ("knob", "raw", "expected"),
    [
        ("SCALPER_DATA_MAX_STALE_SEC", "abc", "a finite number >= 0"),
        ("SCALPER_DATA_MAX_STALE_SEC", "-5", "a finite number >= 0"),
        ("SCALPER_SESSION_UTC", "25-3", "comma-separated UTC hour ranges"),
        ("SCALPER_SESSION_MOM_UTC", "3-", "comma-separated UTC hour ranges"),
        ("SCALPER_SESSION_MOM_MIN", "nan", "a finite number"),
        ("SCALPER_COOLDOWN_LOSSES", "1.5", "an integer >= 0"),
        ("SCALPER_TREND_CONFIRM", "maybe", "a boolean"),
        ("SCALPER_TREND_CONFIRM_MODE", "veto", "one of gate|vote"),
        ("SCALPER_TREND_CONFIRM_TF", "2h", "one of 1m|5m|15m|1h"),
        ("SCALPER_TREND_CONFIRM_FAST", "0", "an integer >= 1"),
        ("SCALPER_VOL_REGIME_TF", "4h", "one of 1m|5m|15m|1h"),
        ("DYN_MOM_MULT", "inf", "a finite number"),
        ("VOL_Z_TH", "-1", "a finite number >= 0"),
        ("SCALPER_CONFIDENCE_MAX", "1.5", "in [0, 1]"),
        ("ENTRY_MIN_CONFIDENCE", "2", "in [0, 1]"),
        ("SCALPER_DEBUG_FORCE_ENTRY", "sideways", "one of off|long|short|alternate"),
        ("SCALPER_AUDIT", "2", "a boolean"),
        ("SCALPER_SIGNAL_PROFILE", "mega", "one of micro|production"),
    ],
)
def test_bad_values_name_the_knob(knob: str, raw: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_strategy_settings({knob: raw})
    msg = str(info.value)
    assert msg.startswith(f"{knob}={raw!r}: expected ")
    assert expected in msg
    assert info.value.knob == knob


def test_scorer_cross_field_errors_name_the_env_var_that_was_set() -> None:
    with pytest.raises(ConfigError) as info:
        load_strategy_settings({"SCALPER_CONFIDENCE_MIN": "0.9", "SCALPER_CONFIDENCE_MAX": "0.5"})
    assert info.value.knob == "SCALPER_CONFIDENCE_MIN"
    assert "confidence_max" in str(info.value)
    # the soft threshold is checked against a default VOL_Z_SOFT_TH: the env var that was set is blamed
    with pytest.raises(ConfigError) as info2:
        load_strategy_settings({"VOL_Z_TH": "0.1"})
    assert info2.value.knob == "VOL_Z_TH"
    assert str(info2.value).startswith("VOL_Z_TH='0.1': expected a value the scorer accepts (")
    with pytest.raises(ConfigError) as info3:
        load_strategy_settings({"SCALPER_CONFIDENCE_POWER": "0"})
    assert info3.value.knob == "SCALPER_CONFIDENCE_POWER"


def test_trend_fast_must_be_below_slow() -> None:
    with pytest.raises(ConfigError, match=r"^SCALPER_TREND_CONFIRM_FAST='200': expected an integer below"):
        load_strategy_settings({"SCALPER_TREND_CONFIRM_FAST": "200"})


def test_feature_config_limits_from_rust_name_the_env_var() -> None:
    with pytest.raises(ConfigError) as info:
        load_strategy_settings({"SCALPER_TREND_CONFIRM_SLOW": "100000000"})
    assert info.value.knob == "SCALPER_TREND_CONFIRM_SLOW"


def test_cooldown_losses_without_minutes_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^SCALPER_COOLDOWN_MINUTES='0.0': expected a number > 0 when"):
        load_strategy_settings({"SCALPER_COOLDOWN_LOSSES": "2"})
    with pytest.raises(ConfigError, match=r"^SCALPER_COOLDOWN_MINUTES='0': expected a number > 0 when"):
        load_strategy_settings({"SCALPER_COOLDOWN_LOSSES": "2", "SCALPER_COOLDOWN_MINUTES": "0"})
    assert load_strategy_settings({"SCALPER_COOLDOWN_MINUTES": "5"}).gates.cooldown_losses == 0


@pytest.mark.parametrize("mode", ["long", "short", "alternate"])
def test_force_entry_is_refused_in_production(mode: str) -> None:
    env = {"SCALPER_DEBUG_FORCE_ENTRY": mode}
    assert load_strategy_settings(env).force_entry == mode
    with pytest.raises(ConfigError) as info:
        load_strategy_settings(env, "production")
    assert info.value.knob == "SCALPER_DEBUG_FORCE_ENTRY"
    assert "refused in the production profile" in str(info.value)
    with pytest.raises(ConfigError, match="refused in the production profile"):
        load_strategy_settings({**env, "SCALPER_SIGNAL_PROFILE": "production"})


def test_settings_cannot_be_built_around_the_production_refusal() -> None:
    micro = load_strategy_settings({"SCALPER_DEBUG_FORCE_ENTRY": "long"})
    with pytest.raises(ConfigError, match="refused in the production profile"):
        dataclasses.replace(micro, profile="production")
    with pytest.raises(ConfigError, match="SCALPER_DEBUG_FORCE_ENTRY"):
        dataclasses.replace(micro, force_entry="up")


def test_settings_are_frozen() -> None:
    s = load_strategy_settings({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.profile = "production"  # type: ignore[misc]
    assert isinstance(s, StrategySettings)


def test_load_param_reads_one_knob() -> None:
    assert load_param({"SCALPER_AUDIT_PATH": "a/b.csv"}, "SCALPER_AUDIT_PATH") == Path("a/b.csv")
    assert load_param({}, "SCALPER_VOL_RATIO_WEIGHT", "production") == 0.35
    with pytest.raises(ConfigError, match="SCALPER_AUDIT_COOLDOWN_SEC"):
        load_param({"SCALPER_AUDIT_COOLDOWN_SEC": "soon"}, "SCALPER_AUDIT_COOLDOWN_SEC")
