"""Each gate with a fake clock: staleness, session hours, session momentum, loss cooldown, force-entry."""

from __future__ import annotations

import pytest

from eclipse.clock import SimClock
from eclipse.strategy.gates import (
    BLOCK_REASONS,
    LOSS_COOLDOWN,
    SESSION_HOURS,
    SESSION_MOMENTUM,
    STALE_DATA,
    ForceEntry,
    GateResult,
    LossCooldown,
    SessionHoursGate,
    SessionMomentumGate,
    StaleDataGate,
)
from eclipse.strategy.sessions import HOUR_MS, SessionHours

DAY0 = 1_641_081_600_000  # 2022-01-02 00:00 UTC
MIN = 60_000


def test_stale_data_age_is_measured_from_the_bar_close() -> None:
    gate = StaleDataGate(180)
    bar_ts = DAY0
    clock = SimClock(bar_ts + MIN)  # the bar just closed
    assert gate.check(bar_ts, clock.now_ms()).ok
    clock.advance(180)  # exactly at the limit: still fresh
    assert gate.check(bar_ts, clock.now_ms()).ok
    clock.advance(ms=1)
    res = gate.check(bar_ts, clock.now_ms())
    assert res == GateResult(False, STALE_DATA, res.detail)
    assert "180" in res.detail


def test_stale_data_zero_disables() -> None:
    assert StaleDataGate(0).check(DAY0, DAY0 + 10**9).ok


def test_session_hours_gate() -> None:
    gate = SessionHoursGate(SessionHours.parse("22-2"))
    clock = SimClock(DAY0 + 21 * HOUR_MS + 59 * MIN)
    res = gate.check(clock.now_ms())
    assert not res.ok
    assert res.reason == SESSION_HOURS
    clock.advance(ms=MIN)  # 22:00
    assert gate.check(clock.now_ms()).ok
    clock.set_ms(DAY0 + 24 * HOUR_MS + 2 * HOUR_MS + 59 * MIN)  # 02:59 next day: inclusive end hour
    assert gate.check(clock.now_ms()).ok
    clock.advance(ms=MIN)  # 03:00
    assert gate.check(clock.now_ms()).reason == SESSION_HOURS
    assert SessionHoursGate(SessionHours()).check(DAY0 + 5 * HOUR_MS).ok


def test_session_momentum_only_inside_its_hours() -> None:
    gate = SessionMomentumGate(SessionHours.parse("13-17"), 0.0015)
    inside, outside = DAY0 + 13 * HOUR_MS, DAY0 + 18 * HOUR_MS
    assert gate.check(inside, 1, 0.002, 0.0015).ok
    assert gate.check(inside, -1, -0.002, -0.003).ok
    weak = gate.check(inside, 1, 0.002, 0.001)
    assert not weak.ok
    assert weak.reason == SESSION_MOMENTUM
    assert gate.check(inside, -1, -0.002, 0.002).reason == SESSION_MOMENTUM
    assert gate.check(inside, 1, -0.002, -0.002).reason == SESSION_MOMENTUM
    assert gate.check(inside, 1, float("nan"), 0.01).reason == SESSION_MOMENTUM
    assert gate.check(outside, 1, 0.0, 0.0).ok
    assert gate.check(inside, 0, 0.0, 0.0).ok  # no direction, nothing to confirm
    assert SessionMomentumGate(SessionHours(), 0.1).check(inside, 1, 0.0, 0.0).ok


def test_loss_cooldown_streak_block_and_expiry() -> None:
    clock = SimClock(DAY0)
    cd = LossCooldown(2, 30)
    cd.record_result(-1.0, clock.now_ms())
    assert cd.streak == 1
    assert cd.check(clock.now_ms()).ok
    cd.record_result(-0.5, clock.now_ms())
    res = cd.check(clock.now_ms())
    assert not res.ok
    assert res.reason == LOSS_COOLDOWN
    clock.advance(30 * 60 - 1)
    assert not cd.check(clock.now_ms()).ok
    clock.advance(1)
    assert cd.check(clock.now_ms()).ok
    assert cd.blocked_until_ms == DAY0 + 30 * MIN


def test_a_win_resets_the_streak() -> None:
    cd = LossCooldown(2, 10)
    cd.record_result(-1, DAY0)
    cd.record_result(+1, DAY0 + MIN)
    cd.record_result(-1, DAY0 + 2 * MIN)
    assert cd.streak == 1
    assert cd.check(DAY0 + 2 * MIN).ok
    cd.record_result(0.0, DAY0 + 3 * MIN)  # break-even leaves the streak alone
    assert cd.streak == 1
    cd.record_result(-1, DAY0 + 4 * MIN)
    assert not cd.check(DAY0 + 4 * MIN).ok


def test_each_further_loss_restarts_the_cooldown_until_a_win() -> None:
    cd = LossCooldown(2, 10)
    for i in range(2):
        cd.record_result(-1, DAY0 + i)
    after = DAY0 + 11 * MIN
    assert cd.check(after).ok
    cd.record_result(-1, after)
    assert cd.check(after + MIN).reason == LOSS_COOLDOWN


def test_cooldown_zero_disables_and_state_round_trips() -> None:
    off = LossCooldown(0, 0)
    for _ in range(10):
        off.record_result(-1, DAY0)
    assert off.check(DAY0).ok
    assert off.streak == 0
    cd = LossCooldown(1, 5)
    cd.record_result(-1, DAY0)
    copy = LossCooldown(1, 5)
    copy.load_state(cd.to_state())
    assert copy.check(DAY0 + MIN).reason == LOSS_COOLDOWN
    with pytest.raises(ValueError, match="bad loss-cooldown state"):
        copy.load_state({"streak": None, "blocked_until_ms": None})
    with pytest.raises(ValueError, match=">= 0"):
        LossCooldown(-1, 0)


def test_force_entry_modes() -> None:
    assert ForceEntry("off").next_direction() == 0
    assert not ForceEntry("off").active
    assert [ForceEntry("long").next_direction() for _ in range(2)] == [1, 1]
    assert ForceEntry("short").next_direction() == -1
    alt = ForceEntry("alternate")
    assert [alt.next_direction() for _ in range(5)] == [1, -1, 1, -1, 1]
    with pytest.raises(ValueError, match="unknown force-entry mode"):
        ForceEntry("up")


def test_block_reasons_are_stable_names() -> None:
    assert {STALE_DATA, SESSION_HOURS, SESSION_MOMENTUM, LOSS_COOLDOWN} <= BLOCK_REASONS
    assert {
        "warmup",
        "trend_warmup",
        "vol_regime_low",
        "trend_gate",
        "no_consensus",
        "below_min_confidence",
    } <= (BLOCK_REASONS)
