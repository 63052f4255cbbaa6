"""SignalEngine on the embedded dataset: signals exist, block reasons are documented, gates apply in order,
one Rust call per bar, and state save/restore mid-stream changes nothing."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from eclipse import _core
from eclipse.clock import SimClock
from eclipse.errors import DataError, StateError
from eclipse.market.bars import OhlcvFrame
from eclipse.strategy.decision import Decision
from eclipse.strategy.engine import DIAG_INTERVAL_MS, SignalEngine
from eclipse.strategy.gates import BLOCK_REASONS, SCORER_REASONS
from eclipse.strategy.sessions import utc_hour

from .helpers import SYMBOL, fingerprint, run, settings


def trend_vote(d: Decision) -> int:
    return next(c.vote for c in d.signal.components() if c.name == "trend")


def test_defaults_give_long_and_short_signals_that_follow_the_1h_trend(default_run: list[Decision]) -> None:
    # The default trend gate needs the 1h EMA 50/200, i.e. 200 hours (~12,000 bars) before any signal. After
    # that, most of January 2022 is a 1h downtrend (shorts); the 1h trend turns up late in the month (longs).
    assert len(default_run) == 45_031
    signals = [i for i, d in enumerate(default_run) if d.direction != 0]
    sides = [default_run[i].direction for i in signals]
    assert sides.count(1) > 0, "no long signal with the default micro profile over January 2022"
    assert sides.count(-1) > 0, "no short signal with the default micro profile over January 2022"
    for i in signals:
        assert trend_vote(default_run[i]) == default_run[i].direction
    last_trend_warmup = max(i for i, d in enumerate(default_run) if d.blocked_by == "trend_warmup")
    assert last_trend_warmup < signals[0]
    # the gate turned candidates down on both sides
    assert {d.candidate for d in default_run if d.blocked_by == "trend_gate"} == {1, -1}
    assert {d.blocked_by for d in default_run} >= {
        "warmup",
        "trend_warmup",
        "trend_gate",
        "below_min_confidence",
    }


def test_trend_vote_mode_lets_signals_through_against_or_without_the_trend(embedded: OhlcvFrame) -> None:
    ds = run(embedded, settings({"SCALPER_TREND_CONFIRM_MODE": "vote"}))
    signals = [d for d in ds if d.direction != 0]
    assert {d.direction for d in signals} == {1, -1}
    assert any(trend_vote(d) == -d.direction for d in signals), "vote mode: no signal against the 1h trend"
    assert any(trend_vote(d) == 0 for d in signals), "vote mode: no signal while the 1h trend warms up"
    assert not {d.blocked_by for d in ds} & {"trend_gate", "trend_warmup"}


def test_decisions_are_consistent_and_reasons_documented(default_run: list[Decision]) -> None:
    for d in default_run:
        assert d.blocked_by is None or d.blocked_by in BLOCK_REASONS
        assert (d.direction != 0) == (d.blocked_by is None)
        assert d.side == {1: "long", -1: "short", 0: "none"}[d.direction]
        assert 0.0 <= d.confidence <= 1.0
        assert d.signal.ts_ms == d.ts_ms
        assert d.symbol == SYMBOL
        assert not d.forced
        # no Python gate is configured and the data is fresh: the decision is the scorer's
        assert (d.direction, d.blocked_by, d.candidate) == (
            d.signal.direction,
            d.signal.blocked,
            d.signal.candidate,
        )
    reasons = {d.blocked_by for d in default_run if d.blocked_by}
    assert reasons <= set(SCORER_REASONS)
    assert default_run[0].blocked_by == "warmup"


def test_one_rust_call_per_bar(embedded: OhlcvFrame) -> None:
    class CountingScorer:
        def __init__(self, inner: _core.Scorer) -> None:
            self.inner, self.steps = inner, 0

        def step(self, *args: object) -> _core.Signal:
            self.steps += 1
            return self.inner.step(*args)  # type: ignore[arg-type]

    clock = SimClock()
    engine = SignalEngine(settings(), clock)
    bars = list(embedded.head(50).bars())
    clock.set_ms(bars[0].close_ms())
    engine.on_bar(SYMBOL, bars[0])
    state = engine._symbols[SYMBOL]
    counter = CountingScorer(state.scorer)
    state.scorer = counter  # type: ignore[assignment]
    for bar in bars[1:]:
        clock.set_ms(bar.close_ms())
        engine.on_bar(SYMBOL, bar)
    assert counter.steps == len(bars) - 1
    assert state.features.bars("1m") == len(bars)


def test_stale_data_blocks_everything(embedded: OhlcvFrame) -> None:
    frame = embedded.head(400)
    late = run(frame, settings(), lag_ms=181_000)
    assert {d.blocked_by for d in late} == {"stale_data"}
    assert all(d.direction == 0 for d in late)
    assert any(d.candidate != 0 for d in late)
    assert not any(d.near_miss for d in late)  # a candidate on stale data is not a near-miss
    on_time = run(frame, settings(), lag_ms=180_000)
    assert "stale_data" not in {d.blocked_by for d in on_time}
    never = run(frame, settings({"SCALPER_DATA_MAX_STALE_SEC": "0"}), lag_ms=10**9)
    assert "stale_data" not in {d.blocked_by for d in never}


def test_session_hours_gate_on_real_data(embedded: OhlcvFrame, default_run: list[Decision]) -> None:
    gated = run(embedded, settings({"SCALPER_SESSION_UTC": "13-17"}))
    checked = 0
    for base, g in zip(default_run, gated, strict=True):
        if base.direction == 0:
            assert g.direction == 0
            continue
        checked += 1
        if utc_hour(base.ts_ms + 60_000) in range(13, 18):
            assert fingerprint(g) == fingerprint(base)
        else:
            assert (g.direction, g.blocked_by, g.candidate) == (0, "session_hours", base.candidate)
            assert g.near_miss
    assert checked > 0
    assert any(g.blocked_by == "session_hours" for g in gated)


def test_session_momentum_gate_on_real_data(embedded: OhlcvFrame, default_run: list[Decision]) -> None:
    env = {"SCALPER_SESSION_MOM_UTC": "0-23", "SCALPER_SESSION_MOM_MIN": "0.0015"}
    gated = run(embedded, settings(env))
    blocked = passed = 0
    for base, g in zip(default_run, gated, strict=True):
        if base.direction == 0:
            continue
        s = base.signal
        strong = min(s.mom_fast * base.direction, s.mom_slow * base.direction) >= 0.0015
        if strong:
            passed += 1
            assert g.direction == base.direction
        else:
            blocked += 1
            assert g.blocked_by == "session_momentum"
            assert g.near_miss
    assert blocked > 0
    assert passed > 0


def test_forced_alternate_flips_and_gates_still_apply(embedded: OhlcvFrame) -> None:
    frame = embedded.head(120)
    ds = run(frame, settings({"SCALPER_DEBUG_FORCE_ENTRY": "alternate"}))
    assert [d.direction for d in ds[:4]] == [1, -1, 1, -1]
    assert all(d.forced and d.candidate == d.direction for d in ds)
    assert ds[0].signal.blocked == "warmup"  # the scorer's block is bypassed, but still visible
    stale = run(frame, settings({"SCALPER_DEBUG_FORCE_ENTRY": "long"}), lag_ms=10**7)
    assert all(d.blocked_by == "stale_data" and not d.forced for d in stale)


def test_loss_cooldown_through_the_engine(embedded: OhlcvFrame) -> None:
    cfg = settings({"SCALPER_DEBUG_FORCE_ENTRY": "long", "SCALPER_COOLDOWN_LOSSES": "2",
                    "SCALPER_COOLDOWN_MINUTES": "30"})  # fmt: skip
    clock = SimClock()
    engine = SignalEngine(cfg, clock)
    bars = list(embedded.head(100).bars())
    out = run(embedded.head(10), cfg, engine=engine, clock=clock)
    assert all(d.direction == 1 for d in out)
    engine.record_trade_result(SYMBOL, -1.0, clock.now_ms())
    engine.record_trade_result(SYMBOL, -2.0, clock.now_ms())
    t_loss = clock.now_ms()
    later = []
    for bar in bars[10:60]:
        clock.set_ms(bar.close_ms())
        later.append((clock.now_ms() - t_loss, engine.on_bar(SYMBOL, bar)))
    for since, d in later:
        if since < 30 * 60_000:
            assert d.blocked_by == "loss_cooldown"
            assert d.direction == 0
            assert d.near_miss
        else:
            assert d.direction == 1
    assert engine.on_bar("ETH", bars[0]).blocked_by != "loss_cooldown"  # per symbol


def test_invalid_bar_raises_data_error_naming_the_symbol(embedded: OhlcvFrame) -> None:
    clock = SimClock()
    engine = SignalEngine(settings(), clock)
    good = embedded.bar(0)
    clock.set_ms(good.close_ms())
    engine.on_bar(SYMBOL, good)
    with pytest.raises(DataError, match=SYMBOL):
        engine.on_bar(SYMBOL, replace(embedded.bar(1), high=good.low - 1000))
    with pytest.raises(DataError, match="ts_ms"):
        engine.on_bar(SYMBOL, good)  # not after the last bar
    nxt = embedded.bar(1)
    clock.set_ms(nxt.close_ms())
    assert engine.on_bar(SYMBOL, nxt).ts_ms == nxt.ts_ms  # the state was not damaged


def test_save_restore_mid_stream_gives_identical_decisions(
    embedded: OhlcvFrame, default_run: list[Decision]
) -> None:
    cut = 30_000  # the 1h trend is warm; both long and short signals come after the cut
    cfg = settings()
    clock = SimClock()
    first = SignalEngine(cfg, clock)
    run(embedded.head(cut), cfg, engine=first, clock=clock)
    blob = first.save_state(SYMBOL)
    assert isinstance(blob, bytes)

    clock2 = SimClock(clock.now_ms())
    second = SignalEngine(cfg, clock2)
    second.restore_state(SYMBOL, blob)
    resumed = run(embedded.slice(cut), cfg, engine=second, clock=clock2)
    expected = default_run[cut:]
    assert [fingerprint(d) for d in resumed] == [fingerprint(d) for d in expected]
    assert {d.direction for d in resumed} == {-1, 0, 1}


def test_restore_keeps_the_loss_cooldown(embedded: OhlcvFrame) -> None:
    cfg = settings({"SCALPER_COOLDOWN_LOSSES": "1", "SCALPER_COOLDOWN_MINUTES": "60",
                    "SCALPER_DEBUG_FORCE_ENTRY": "short"})  # fmt: skip
    clock = SimClock()
    engine = SignalEngine(cfg, clock)
    bar = embedded.bar(0)
    clock.set_ms(bar.close_ms())
    engine.on_bar(SYMBOL, bar)
    engine.record_trade_result(SYMBOL, -5.0, clock.now_ms())
    restarted = SignalEngine(cfg, clock)
    restarted.restore_state(SYMBOL, engine.save_state(SYMBOL))
    nxt = embedded.bar(1)
    clock.set_ms(nxt.close_ms())
    assert restarted.on_bar(SYMBOL, nxt).blocked_by == "loss_cooldown"


def test_restore_refuses_bad_blobs(embedded: OhlcvFrame) -> None:
    clock = SimClock()
    engine = SignalEngine(settings(), clock)
    run(embedded.head(10), settings(), engine=engine, clock=clock)
    blob = engine.save_state(SYMBOL)
    with pytest.raises(StateError, match="not an engine state"):
        engine.restore_state(SYMBOL, b"garbage")
    with pytest.raises(StateError, match="corrupt"):
        engine.restore_state(SYMBOL, blob[:-20])
    with pytest.raises(StateError, match="belongs to 'BTC-PERP'"):
        engine.restore_state("ETH", blob)
    other = SignalEngine(settings({"SCALPER_TREND_CONFIRM_FAST": "20"}), clock)
    with pytest.raises(StateError, match="different FeatureConfig"):
        other.restore_state(SYMBOL, blob)
    with pytest.raises(KeyError, match="ETH"):
        engine.save_state("ETH")


def test_symbols_are_independent(embedded: OhlcvFrame) -> None:
    clock = SimClock()
    engine = SignalEngine(settings(), clock)
    a, b = [], []
    for bar in embedded.head(2_000).bars():
        clock.set_ms(bar.close_ms())
        a.append(engine.on_bar("A", bar))
        b.append(engine.on_bar("B", bar))
    assert [fingerprint(replace(d, symbol="x")) for d in a] == [
        fingerprint(replace(d, symbol="x")) for d in b
    ]
    assert engine.symbols == ("A", "B")


def test_confidence_diag_logs_are_throttled(embedded: OhlcvFrame, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="eclipse.strategy.engine")
    run(embedded.head(3_000), settings({"SCALPER_CONFIDENCE_DIAG": "1"}))
    records = [r for r in caplog.records if r.name == "eclipse.strategy.engine"]
    assert records
    assert "raw=" in records[0].getMessage()
    assert len(records) <= 3_000 * 60_000 // DIAG_INTERVAL_MS + 1
    caplog.clear()
    run(embedded.head(3_000), settings())
    assert not [r for r in caplog.records if r.name == "eclipse.strategy.engine"]
