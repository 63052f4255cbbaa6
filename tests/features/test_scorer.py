"""Behaviour of the signal scorer through the public API (docs/signals.md)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from eclipse import _core as core

from .support import bar_args, random_bars

REASONS = {"warmup", "trend_warmup", "vol_regime_low", "trend_gate", "no_consensus", "below_min_confidence"}
REGIMES = {"LOW", "NORMAL", "HIGH", "OFF", "UNKNOWN"}
# Short periods so every timeframe warms up within a few thousand bars.
FAST_FEATURES = {"ema_fast": 5, "ema_slow": 12, "vwap_window": 60}


def deep_equal(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN (for Signal.to_dict())."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    return type(a) is type(b) and a == b


@pytest.fixture(scope="module")
def market() -> list[tuple]:
    """The first 12,000 bars of the real BTC file, or a synthetic walk when the data is absent."""
    from conftest import load_ohlcv  # tests/conftest.py

    try:
        d = load_ohlcv("btc-perp_1m_2022-01.csv")
    except pytest.skip.Exception:
        return bar_args(random_bars(12_000, scale=4e4, seed=3))
    return bar_args({k: v[:12_000] for k, v in d.items()})


def run(scorer_cfg: Any, bars: list[tuple], features: dict | None = None) -> list[tuple[Any, Any]]:
    """Step every bar; returns (signal, features of every timeframe right after that bar)."""
    state = core.FeatureState(core.FeatureConfig(**(features if features is not None else FAST_FEATURES)))
    scorer = core.Scorer(scorer_cfg)
    out = []
    for b in bars:
        sig = scorer.step(state, *b)
        out.append((sig, state.all_features()))
    return out


# --- config -------------------------------------------------------------------------------------------------


def test_profiles_differ_on_volume_ratio_knobs_as_documented() -> None:
    """The original bot's README: SCALPER_VOL_RATIO_WEIGHT 0.4 micro / 0.35 production, MAX_BOOST 0.4 / 0.5,
    MAX_DROP 0.2 / 0.25."""
    micro, prod = core.ScorerConfig.profile("micro"), core.ScorerConfig.profile("production")
    assert (micro.vol_ratio_weight, micro.vol_ratio_max_boost, micro.vol_ratio_max_drop) == (0.4, 0.4, 0.2)
    assert (prod.vol_ratio_weight, prod.vol_ratio_max_boost, prod.vol_ratio_max_drop) == (0.35, 0.5, 0.25)
    assert core.ScorerConfig().to_dict() == micro.to_dict()
    assert micro.to_dict() != prod.to_dict()


def test_profile_overrides_and_documented_defaults() -> None:
    cfg = core.ScorerConfig.profile("production", vol_ratio_weight=0.1, trend_mode="vote")
    assert cfg.vol_ratio_weight == 0.1
    assert cfg.trend_mode == "vote"
    assert cfg.vol_ratio_max_boost == 0.5
    micro = core.ScorerConfig()
    assert micro.trend_confirm is True
    assert micro.trend_mode == "gate"
    assert micro.trend_tf == "1h"
    assert micro.vol_regime_enabled is True
    assert micro.vol_regime_guard is True
    assert micro.vol_regime_tf == "5m"
    assert (micro.confidence_power, micro.confidence_min, micro.confidence_max) == (1.0, 0.0, 1.0)
    d = micro.to_dict()
    for k in ("vol_ratio_weight", "trend_mode", "min_confidence", "vol_regime_low_mult"):
        assert k in d


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"profile|aggressive"):
        core.ScorerConfig.profile("aggressive")
    with pytest.raises(ValueError, match="trend_mode"):
        core.ScorerConfig(trend_mode="sideways")
    with pytest.raises(ValueError, match="trend_tf"):
        core.ScorerConfig(trend_tf="2m")
    with pytest.raises(ValueError, match="vol_regime_tf"):
        core.ScorerConfig(vol_regime_tf="4h")
    with pytest.raises((TypeError, ValueError), match="no_such_knob"):
        core.ScorerConfig(no_such_knob=1.0)


# --- invariants over a replay -------------------------------------------------------------------------------

CONFIGS = {
    "micro": {},
    "production": {"profile": "production"},
    "vote": {"trend_mode": "vote", "trend_tf": "15m"},
    "no-trend-no-regime": {"trend_confirm": False, "vol_regime_enabled": False, "min_confidence": 0.2},
    "calibrated": {"confidence_power": 1.7, "confidence_min": 0.05, "confidence_max": 0.85,
                   "min_confidence": 0.3, "trend_tf": "5m"},
}  # fmt: skip


def make_cfg(spec: dict) -> Any:
    spec = dict(spec)
    profile = spec.pop("profile", "micro")
    return core.ScorerConfig.profile(profile, **spec)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_signal_invariants(market: list[tuple], name: str) -> None:
    cfg = make_cfg(CONFIGS[name])
    results = run(cfg, market)
    directions = set()
    for (sig, feats), bar in zip(results, market, strict=True):
        assert sig.ts_ms == bar[0]
        assert sig.close == bar[4]
        assert 0.0 <= sig.confidence <= 1.0, sig.to_dict()
        assert sig.direction in (-1, 0, 1)
        assert sig.candidate in (-1, 0, 1)
        assert sig.side == {1: "long", -1: "short", 0: "none"}[sig.direction]
        assert sig.regime in REGIMES
        if sig.direction != 0:
            assert sig.blocked is None, sig.to_dict()
            assert sig.confidence >= cfg.min_confidence, sig.to_dict()
            assert sig.direction == sig.candidate
        else:
            assert sig.blocked in REASONS, sig.to_dict()
        if sig.blocked == "no_consensus":
            assert sig.candidate == 0
        if sig.blocked == "below_min_confidence":
            assert sig.candidate != 0
            assert sig.confidence < cfg.min_confidence
        f1 = feats["1m"]
        warm = not any(
            math.isnan(f1[k])
            for k in ("mom_fast", "mom_slow", "atr_pct", "vwap_dist", "volume_zscore", "volume_ratio")
        )
        assert (sig.blocked == "warmup") == (not warm), (sig.to_dict(), f1)
        if warm:
            assert sig.mom_fast == f1["mom_fast"]
            assert sig.mom_slow == f1["mom_slow"]
        if not cfg.vol_regime_enabled:
            assert sig.regime == "OFF"
        for comp in sig.components():
            assert comp.vote in (-1, 0, 1)
            assert isinstance(comp.name, str)
            assert isinstance(comp.reason, str)
        assert isinstance(sig.explain(), str)
        assert sig.explain()
        directions.add(sig.direction)
    assert directions & {-1, 1}, f"{name}: no signal at all in {len(market)} bars"


def test_low_regime_with_guard_blocks(market: list[tuple]) -> None:
    """Thresholds so high that every warmed-up regime is LOW: with the guard every non-warm-up signal is
    blocked with vol_regime_low; without it, LOW does not block."""
    low = {
        "vol_regime_low_atr_pct": 1.0,
        "vol_regime_low_bb_pct": 10.0,
        "vol_regime_high_atr_pct": 2.0,
        "vol_regime_high_bb_pct": 20.0,
        "trend_confirm": False,
    }
    guarded = run(core.ScorerConfig(vol_regime_enabled=True, vol_regime_guard=True, **low), market)
    n_low = 0
    for sig, _ in guarded:
        if sig.blocked == "warmup":
            continue
        if sig.regime == "LOW":
            n_low += 1
            assert sig.blocked == "vol_regime_low", sig.to_dict()
            assert sig.direction == 0, sig.to_dict()
        else:
            assert sig.regime == "UNKNOWN", sig.to_dict()
    assert n_low > len(market) // 2
    unguarded = run(core.ScorerConfig(vol_regime_enabled=True, vol_regime_guard=False, **low), market)
    assert not any(s.blocked == "vol_regime_low" for s, _ in unguarded)
    assert any(s.direction != 0 and s.regime == "LOW" for s, _ in unguarded)


def test_high_regime_is_detected(market: list[tuple]) -> None:
    high = {"vol_regime_low_atr_pct": 1e-12, "vol_regime_low_bb_pct": 1e-12,
            "vol_regime_high_atr_pct": 1e-9, "vol_regime_high_bb_pct": 1e-9}  # fmt: skip
    res = run(core.ScorerConfig(**high), market)
    regimes = {s.regime for s, _ in res}
    assert "HIGH" in regimes
    assert "LOW" not in regimes


def test_trend_gate_blocks_counter_trend_candidates(market: list[tuple]) -> None:
    tf = "5m"
    cfg = core.ScorerConfig(
        trend_confirm=True, trend_mode="gate", trend_tf=tf, vol_regime_enabled=False, min_confidence=0.0
    )
    counts = {"trend_gate": 0, "with_trend": 0, "trend_warmup": 0}
    for sig, feats in run(cfg, market):
        if sig.candidate == 0 or sig.blocked == "warmup":
            continue
        trend = feats[tf]["trend"]
        if math.isnan(trend):
            assert sig.blocked == "trend_warmup", sig.to_dict()
            counts["trend_warmup"] += 1
        elif trend == -sig.candidate:
            assert sig.blocked == "trend_gate", (trend, sig.to_dict())
            assert sig.direction == 0, (trend, sig.to_dict())
            counts["trend_gate"] += 1
        elif trend == sig.candidate:
            assert sig.blocked in (None, "below_min_confidence"), (trend, sig.to_dict())
            counts["with_trend"] += 1
    assert counts["trend_gate"] > 0, counts
    assert counts["with_trend"] > 0, counts


def test_trend_vote_mode_never_gates(market: list[tuple]) -> None:
    cfg = core.ScorerConfig(trend_mode="vote", trend_tf="5m", vol_regime_enabled=False)
    assert not any(s.blocked in ("trend_gate", "trend_warmup") for s, _ in run(cfg, market))


def test_min_confidence_one_blocks_everything_below(market: list[tuple]) -> None:
    cfg = core.ScorerConfig(
        min_confidence=1.0, trend_confirm=False, vol_regime_enabled=False, confidence_max=0.99
    )
    for sig, _ in run(cfg, market[:3000]):
        assert sig.direction == 0
        assert sig.confidence <= 0.99


@pytest.mark.parametrize("name", ["micro", "production", "vote"])
def test_step_equals_update_then_score(market: list[tuple], name: str) -> None:
    cfg = make_cfg(CONFIGS[name])
    scorer = core.Scorer(cfg)
    a = core.FeatureState(core.FeatureConfig(**FAST_FEATURES))
    b = core.FeatureState(core.FeatureConfig(**FAST_FEATURES))
    for i, bar in enumerate(market[:6000]):
        s1 = scorer.step(a, *bar)
        b.update(*bar)
        s2 = scorer.score(b)
        d1, d2 = s1.to_dict(), s2.to_dict()
        assert deep_equal(d1, d2), f"bar {i}: step {d1} != update+score {d2}"
    assert a.to_bytes() == b.to_bytes()


def test_score_does_not_change_state(market: list[tuple]) -> None:
    state = core.FeatureState(core.FeatureConfig(**FAST_FEATURES))
    scorer = core.Scorer()
    for bar in market[:500]:
        state.update(*bar)
    blob = state.to_bytes()
    first = scorer.score(state).to_dict()
    assert deep_equal(scorer.score(state).to_dict(), first)
    assert state.to_bytes() == blob


def test_fresh_state_scores_warmup() -> None:
    sig = core.Scorer().score(core.FeatureState())
    assert sig.direction == 0
    assert sig.blocked == "warmup"
    assert 0.0 <= sig.confidence <= 1.0


def test_scorer_config_property() -> None:
    cfg = core.ScorerConfig.profile("production")
    assert core.Scorer(cfg).config.to_dict() == cfg.to_dict()
    assert core.Scorer().config.to_dict() == core.ScorerConfig().to_dict()


def test_synthetic_series_invariants() -> None:
    bars = bar_args(random_bars(4000, scale=2e-3, seed=8, gap_prob=0.01))
    for sig, _ in run(core.ScorerConfig(trend_tf="5m"), bars):
        assert 0.0 <= sig.confidence <= 1.0
        assert (sig.direction != 0) == (sig.blocked is None)
    assert np.isfinite([s.raw_confidence for s, _ in run(core.ScorerConfig(), bars[-200:])]).all()
