"""Data quality and staleness: fail-closed before the first bar, staleness, the score (missing, late,
duplicate, out-of-order and degenerate bars), data.quality events, the rolling score's alert and block,
knob resolution and persistence."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.reliability.guards_kit import guard_set

from eclipse.clock import SimClock
from eclipse.errors import ConfigError
from eclipse.market.bars import Bar
from eclipse.reliability.guards import GuardEvent, GuardSet, GuardSettings, GuardStateStore

MIN = 60_000
T0 = 28_333_320 * MIN  # minute-aligned
SYM = "BTCUSDT"


def make(
    env: dict[str, str] | None = None, store: GuardStateStore | None = None
) -> tuple[GuardSet, SimClock]:
    return guard_set(T0, {}, env, store)


def bar(minute: int, **prices: float) -> Bar:
    p = {"open": 100.0, "high": 101.0, "low": 99.0, "close": 100.5, "volume": 10.0, **prices}
    return Bar(T0 + minute * MIN, p["open"], p["high"], p["low"], p["close"], p["volume"])


def feed(guards: GuardSet, clock: SimClock, minutes: list[int], delay_ms: int = 1500) -> list[GuardEvent]:
    """Each bar received ``delay_ms`` after its close."""
    events: list[GuardEvent] = []
    for m in minutes:
        clock.set_ms(max(clock.now_ms(), T0 + (m + 1) * MIN + delay_ms))
        events += guards.on_bar(SYM, bar(m))
    return events


def score(guards: GuardSet, clock: SimClock) -> float:
    q = guards.data.score(SYM, clock.now_ms())
    assert q is not None
    return q.score


def test_a_symbol_is_blocked_until_its_first_bar() -> None:
    guards, clock = make()
    knobs = guards.knobs(SYM)
    assert knobs.code == "data_stale"
    assert knobs.exits_allowed
    assert not guards.knobs(None).entry_block  # staleness is per symbol
    feed(guards, clock, [0])
    assert not guards.knobs(SYM).entry_block


def test_stale_when_the_last_bar_closed_longer_ago_than_the_limit() -> None:
    guards, clock = make()
    feed(guards, clock, [0])
    clock.set_ms(T0 + MIN + 180_000)
    assert not guards.knobs(SYM).entry_block
    clock.advance(ms=1)
    knobs = guards.knobs("BTC/USDT:USDT")  # the symbol key is used everywhere
    assert knobs.code == "data_stale"
    assert "180" in knobs.reason
    [active] = [a for a in guards.active() if a.code == "data_stale"]
    assert active.symbol == SYM
    assert guards.knobs("ETHUSDT").code == "data_stale"  # never seen
    assert guards.lift("data_stale", SYM) is False  # a condition, not a halt


def test_staleness_off_with_zero() -> None:
    guards, clock = make({"ENTRY_DATA_MAX_STALE_SEC": "0"})
    assert not guards.knobs(SYM).entry_block
    feed(guards, clock, [0])
    clock.advance(86_400)
    assert guards.knobs(SYM).code != "data_stale"


def test_symbols_are_keyed_like_the_gate() -> None:
    guards, clock = make()
    clock.set_ms(T0 + MIN + 1500)
    guards.on_bar("BTC/USDT:USDT", bar(0))
    assert not guards.knobs("btcusdt").entry_block
    assert guards.knobs("ETHUSDT").code == "data_stale"


def test_perfect_bars_score_100_and_a_missing_one_costs_one_slot() -> None:
    guards, clock = make()
    feed(guards, clock, list(range(10)))
    assert score(guards, clock) == 100.0
    guards, clock = make()
    feed(guards, clock, [m for m in range(20) if m != 5])
    assert score(guards, clock) == 95.0  # 1 missing of 20


def test_late_bars_cost_half_a_slot() -> None:
    guards, clock = make()
    feed(guards, clock, list(range(10)), delay_ms=61_000)
    assert score(guards, clock) == 50.0
    guards, clock = make()
    feed(guards, clock, list(range(10)), delay_ms=60_000)  # not more than 60 s: on time
    assert score(guards, clock) == 100.0


def test_duplicate_and_out_of_order_bars_cost_half_a_slot() -> None:
    guards, clock = make()
    feed(guards, clock, list(range(10)))
    guards.on_bar(SYM, bar(9))
    assert score(guards, clock) == 95.0
    guards, clock = make()
    feed(guards, clock, [0, 1, 2])
    clock.set_ms(T0 + 5 * MIN)
    guards.on_bar(SYM, bar(4))
    guards.on_bar(SYM, bar(3))  # after 4, exactly 60 s after its close: out of order, not late
    feed(guards, clock, [5, 6, 7, 8, 9])
    assert score(guards, clock) == 95.0


@pytest.mark.parametrize(
    "prices",
    [{"high": 98.0}, {"close": math.nan}, {"low": 0.0, "open": 0.0}, {"volume": -1.0}],
    ids=["high_below_low", "nan", "zero_price", "negative_volume"],
)
def test_degenerate_bars_cost_a_slot_and_do_not_count_as_fresh(prices: dict[str, float]) -> None:
    guards, clock = make()
    feed(guards, clock, list(range(9)))
    clock.set_ms(T0 + 10 * MIN + 1500)
    guards.on_bar(SYM, bar(9, **prices))
    assert score(guards, clock) == 90.0
    clock.set_ms(T0 + 9 * MIN + 180_001)  # the last good bar closed at minute 9
    assert guards.knobs(SYM).code == "data_stale"


def test_a_bar_off_the_minute_is_degenerate() -> None:
    guards, clock = make()
    feed(guards, clock, list(range(9)))
    clock.set_ms(T0 + 10 * MIN + 1500)
    b = bar(9)
    guards.on_bar(SYM, Bar(b.ts_ms + 7, b.open, b.high, b.low, b.close, b.volume))
    assert score(guards, clock) == 90.0


def test_a_bar_from_the_future_is_ignored() -> None:
    guards, clock = make()
    feed(guards, clock, list(range(5)))
    guards.on_bar(SYM, bar(10))  # closes 6 minutes after now
    assert score(guards, clock) == 100.0
    clock.set_ms(T0 + 5 * MIN + 180_001)
    assert guards.knobs(SYM).code == "data_stale"


def test_a_low_score_blocks_the_symbol() -> None:
    guards, clock = make({"ENTRY_DATA_MAX_STALE_SEC": "0"})
    feed(guards, clock, [0, 10])
    assert score(guards, clock) == 18.2  # 9 missing of 11
    knobs = guards.knobs(SYM)
    assert knobs.code == "data_quality_low"
    assert "18.2" in knobs.reason
    guards, clock = make({"ENTRY_DATA_MAX_STALE_SEC": "0", "ENTRY_DATA_QUALITY_MIN": "0"})
    feed(guards, clock, [0, 10])
    assert not guards.knobs(SYM).entry_block


def test_bars_that_stop_coming_count_as_missing_once_due() -> None:
    guards, clock = make()
    feed(guards, clock, list(range(10)))
    clock.set_ms(T0 + 16 * MIN)  # minutes 10..14 are due (closed more than 60 s ago), 15 is not
    guards.evaluate()
    assert score(guards, clock) == 66.7  # 5 missing of 15
    assert guards.knobs(SYM).code == "data_stale"
    assert {a.code for a in guards.active()} == {"data_stale"}


def test_the_window_is_bounded() -> None:
    guards, clock = make({"ENTRY_DATA_QUALITY_WINDOW": "10"})
    feed(guards, clock, [0, *range(20, 30)])
    assert score(guards, clock) == 100.0  # the gap is older than the 10 slots


def test_data_quality_events_at_most_every_emit_sec() -> None:
    guards, clock = make({"ENTRY_DATA_QUALITY_EMIT_SEC": "120"})
    events = feed(guards, clock, list(range(5)))
    emitted = [dict(e.fields) for e in events if e.name == "data.quality"]
    assert len(emitted) == 3  # minutes 0, 2, 4
    first = emitted[0]
    assert first["symbol"] == SYM
    assert first["score"] == 100.0
    assert first["roll_score"] == 100.0
    assert first["stale_sec"] == 1.5
    assert first["bars"] == 1
    assert {"expected", "missing", "late", "duplicate", "degenerate"} <= set(first)
    clock.advance(120)
    assert [e.name for e in guards.evaluate()] == ["data.quality"]
    assert guards.evaluate() == []


ROLL_ENV = {
    "ENTRY_DATA_MAX_STALE_SEC": "0",
    "ENTRY_DATA_QUALITY_MIN": "0",
    "ENTRY_DATA_QUALITY_ROLL_MIN": "60",
    "ENTRY_DATA_QUALITY_WINDOW": "5",
    "ENTRY_DATA_QUALITY_ROLL_SEC": "180",
    "ENTRY_DATA_QUALITY_KILL_SEC": "120",
}


def test_a_rolling_score_below_roll_min_for_kill_sec_blocks_until_it_recovers() -> None:
    guards, clock = make(ROLL_ENV)
    events = feed(guards, clock, [0, 1], delay_ms=61_000)  # every bar late: score 50
    assert not guards.knobs(SYM).entry_block  # below for 60 s only
    events = feed(guards, clock, [2], delay_ms=61_000)
    [alert] = [dict(e.fields) for e in events if e.name == "data.quality.roll_alert"]
    assert alert["symbol"] == SYM
    assert alert["roll_score"] == 50.0
    assert alert["severity"] == "high"
    assert alert["below_since_ms"] == T0 + 2 * MIN + 1000
    assert guards.knobs(SYM).code == "data_quality_roll"
    assert [a.code for a in guards.active()] == ["data_quality_roll"]
    events = feed(guards, clock, list(range(3, 12)))  # on time again
    cleared = [dict(e.fields) for e in events if e.name == "data.quality.roll_cleared"]
    assert cleared[0]["how"] == "recovered"
    assert not guards.knobs(SYM).entry_block
    assert not any(e.name == "data.quality.roll_alert" for e in events)


def test_the_operator_can_lift_the_rolling_block() -> None:
    guards, clock = make(ROLL_ENV)
    feed(guards, clock, [0, 1, 2], delay_ms=61_000)
    assert guards.lift("data_quality_roll", "ETHUSDT") is False
    assert guards.lift("data_quality_roll", SYM) is True
    assert not guards.knobs(SYM).entry_block
    assert [e.fields["how"] for e in guards.evaluate() if e.name == "data.quality.roll_cleared"] == [
        "operator"
    ]


def test_roll_min_defaults_to_quality_min() -> None:
    assert GuardSettings.load({"ENTRY_DATA_QUALITY_MIN": "70"}).data.roll_min == 70.0
    assert (
        GuardSettings.load(
            {"ENTRY_DATA_QUALITY_MIN": "70", "ENTRY_DATA_QUALITY_ROLL_MIN": "40"}
        ).data.roll_min
        == 40
    )
    with pytest.raises(ConfigError, match="ENTRY_DATA_QUALITY_ROLL_MIN"):
        GuardSettings.load({"ENTRY_DATA_QUALITY_ROLL_MIN": "-0.5"})


def test_only_1m_bars_are_scored() -> None:
    assert GuardSettings.load({"ENTRY_DATA_QUALITY_TF": "1M"}).data.tf == "1m"
    with pytest.raises(ConfigError, match="ENTRY_DATA_QUALITY_TF"):
        GuardSettings.load({"ENTRY_DATA_QUALITY_TF": "5m"})


def test_last_bar_samples_and_the_roll_block_survive_a_restart(tmp_path: Path) -> None:
    store = GuardStateStore(tmp_path / "guards.json")
    guards, clock = make({**ROLL_ENV, "ENTRY_DATA_MAX_STALE_SEC": "180"}, store)
    feed(guards, clock, [0, 1, 2], delay_ms=61_000)
    assert guards.knobs(SYM).code == "data_quality_roll"
    again = GuardSet(GuardSettings.load({**ROLL_ENV, "ENTRY_DATA_MAX_STALE_SEC": "180"}), clock, store)
    assert again.knobs(SYM).code == "data_quality_roll"
    assert again.data.dump()[SYM] == guards.data.dump()[SYM]
    clock.advance(120)  # the last good bar closed 181 s ago
    assert again.knobs(SYM).code == "data_stale"


def test_samples_older_than_the_rolling_window_are_dropped_on_load(tmp_path: Path) -> None:
    store = GuardStateStore(tmp_path / "guards.json")
    guards, clock = make(ROLL_ENV, store)
    feed(guards, clock, [0, 1, 2], delay_ms=61_000)
    clock.advance(3600)
    again = GuardSet(GuardSettings.load(ROLL_ENV), clock, store)
    dumped = again.data.dump()[SYM]
    assert isinstance(dumped, dict)
    assert dumped["samples"] == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 200), st.integers(0, 200_000), st.booleans()),
        min_size=1,
        max_size=60,
    )
)
def test_the_score_stays_within_0_and_100(bars: list[tuple[int, int, bool]]) -> None:
    guards, clock = make()
    for minute, delay, broken in bars:
        clock.set_ms(max(clock.now_ms(), T0 + (minute + 1) * MIN + delay))
        guards.on_bar(SYM, bar(minute, high=98.0) if broken else bar(minute))
        q = guards.data.score(SYM, clock.now_ms())
        assert q is not None
        assert 0.0 <= q.score <= 100.0
        assert q.bars <= q.expected <= 120
        knobs = guards.knobs(SYM)
        assert knobs.exits_allowed
        assert knobs.protection_allowed
