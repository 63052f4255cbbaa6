"""The kill switch: daily loss and drawdown halts, their expiry (KILL_*_HALT_SEC, KILL_DAILY_HALT_UNTIL_UTC,
the next UTC midnight), the UTC-day rollover, operator lifts, re-arming and persistence."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from eclipse.clock import SimClock
from eclipse.reliability.guards import GuardEvent, GuardSet, GuardSettings, GuardStateStore
from eclipse.reliability.guards.kill_switch import next_utc_time

DAY = 86_400_000
HOUR = 3_600_000
T0 = 19_700 * DAY  # a UTC midnight (2023-12-09)
LIMITS = {"MAX_DAILY_LOSS_PCT": "0.02", "MAX_DRAWDOWN_PCT": "0.05", "ENTRY_DATA_MAX_STALE_SEC": "0"}


def make(
    env: dict[str, str] | None = None, store: GuardStateStore | None = None, start: int = T0 + HOUR
) -> tuple[GuardSet, SimClock]:
    clock = SimClock(start)
    return GuardSet(GuardSettings.load({**LIMITS, **(env or {})}), clock, store), clock


def named(events: list[GuardEvent], name: str) -> list[dict[str, object]]:
    return [dict(e.fields) for e in events if e.name == name]


def test_daily_loss_halts_every_entry_until_the_next_utc_midnight() -> None:
    guards, _ = make()
    assert guards.check_risk(Decimal(1000)) == []
    assert guards.check_risk(Decimal("980.5")) == []  # -1.95%
    events = guards.check_risk(Decimal(979))
    [halt] = named(events, "kill.halted")
    assert halt["kind"] == "daily_loss"
    assert halt["code"] == "kill_daily_loss"
    assert halt["severity"] == "critical"
    assert halt["until_ms"] == T0 + DAY
    knobs = guards.knobs("BTCUSDT")
    assert knobs.entry_block
    assert knobs.code == "kill_daily_loss"
    assert knobs.exits_allowed
    assert knobs.protection_allowed
    assert guards.knobs(None).code == "kill_daily_loss"
    assert [a.code for a in guards.active()] == ["kill_daily_loss"]
    assert guards.active()[0].symbol is None


def test_a_halt_in_force_is_not_raised_again() -> None:
    guards, clock = make()
    guards.check_risk(Decimal(1000))
    assert named(guards.check_risk(Decimal(900)), "kill.halted")
    clock.advance(600)
    assert named(guards.check_risk(Decimal(800)), "kill.halted") == []


def test_daily_halt_expires_at_midnight_and_the_new_day_starts_from_its_first_equity() -> None:
    guards, clock = make()
    guards.check_risk(Decimal(1000))
    guards.check_risk(Decimal(970))
    clock.set_ms(T0 + DAY - 1)
    assert guards.evaluate() == []
    assert guards.knobs().entry_block
    clock.set_ms(T0 + DAY)
    [lifted] = named(guards.evaluate(), "kill.halt_lifted")
    assert lifted == {"kind": "daily_loss", "code": "kill_daily_loss", "how": "expired"}
    assert not guards.knobs().entry_block
    assert guards.check_risk(Decimal(970)) == []
    assert guards.check_risk(Decimal("950.7")) == []  # 970 x 0.98 = 950.6
    assert named(guards.check_risk(Decimal(950)), "kill.halted")


def test_utc_day_rollover_resets_the_daily_reference_at_the_first_check_of_the_day() -> None:
    guards, clock = make(start=T0 + DAY - 60_000)
    guards.check_risk(Decimal(1000))
    clock.set_ms(T0 + DAY + 60_000)
    assert guards.check_risk(Decimal(975)) == []  # -2.5% since yesterday, but today starts at 975
    assert guards.check_risk(Decimal("955.6")) == []
    [halt] = named(guards.check_risk(Decimal(955)), "kill.halted")
    assert halt["until_ms"] == T0 + 2 * DAY


def test_kill_daily_halt_sec_sets_the_halt_length_and_rearms_from_the_equity_after_it() -> None:
    guards, clock = make({"KILL_DAILY_HALT_SEC": "600"})
    guards.check_risk(Decimal(1000))
    [halt] = named(guards.check_risk(Decimal(970)), "kill.halted")
    assert halt["until_ms"] == clock.now_ms() + 600_000
    clock.advance(600)
    assert named(guards.check_risk(Decimal(970)), "kill.halt_lifted")[0]["how"] == "expired"
    assert not guards.knobs().entry_block  # re-armed at 970: trading resumes
    assert guards.check_risk(Decimal("950.7")) == []
    assert named(guards.check_risk(Decimal(950)), "kill.halted")


@pytest.mark.parametrize(
    ("until", "hour", "expected"),
    [
        ("06:00", 3, T0 + 6 * HOUR),
        ("06:00", 7, T0 + DAY + 6 * HOUR),
        ("6:30", 6, T0 + 6 * HOUR + 30 * 60_000),
        ("1", 7, T0 + DAY),  # the original's boolean: until the next UTC day
        ("", 7, T0 + DAY),
    ],
)
def test_kill_daily_halt_until_utc(until: str, hour: int, expected: int) -> None:
    guards, _ = make({"KILL_DAILY_HALT_UNTIL_UTC": until}, start=T0 + hour * HOUR)
    guards.check_risk(Decimal(1000))
    [halt] = named(guards.check_risk(Decimal(970)), "kill.halted")
    assert halt["until_ms"] == expected


def test_kill_daily_halt_sec_wins_over_until_utc() -> None:
    guards, clock = make({"KILL_DAILY_HALT_UNTIL_UTC": "06:00", "KILL_DAILY_HALT_SEC": "60"})
    guards.check_risk(Decimal(1000))
    assert named(guards.check_risk(Decimal(900)), "kill.halted")[0]["until_ms"] == clock.now_ms() + 60_000


def test_next_utc_time_is_strictly_after_now() -> None:
    assert next_utc_time(T0, 0) == T0 + DAY
    assert next_utc_time(T0 + 5 * HOUR, 6 * 60) == T0 + 6 * HOUR
    assert next_utc_time(T0 + 6 * HOUR, 6 * 60) == T0 + DAY + 6 * HOUR


def test_drawdown_from_the_peak_halts_until_the_operator_lifts_it() -> None:
    guards, clock = make({"MAX_DAILY_LOSS_PCT": "0"})
    guards.check_risk(Decimal(1000))
    guards.check_risk(Decimal(1100))
    assert guards.check_risk(Decimal("1045.01")) == []
    [halt] = named(guards.check_risk(Decimal(1045)), "kill.halted")  # 1100 x 0.95: inclusive
    assert halt["kind"] == "drawdown"
    assert halt["until_ms"] is None
    clock.advance(7 * 86_400)
    assert guards.evaluate() == []
    assert guards.knobs().code == "kill_drawdown"
    assert guards.lift("kill_drawdown") is True
    assert not guards.knobs().entry_block
    assert named(guards.evaluate(), "kill.halt_lifted") == [
        {"kind": "drawdown", "code": "kill_drawdown", "how": "operator"}
    ]
    assert guards.lift("kill_drawdown") is False
    assert guards.check_risk(Decimal(1045)) == []  # re-armed: the peak restarts at 1045
    assert guards.check_risk(Decimal("992.8")) == []
    assert named(guards.check_risk(Decimal("992.75")), "kill.halted")


def test_kill_drawdown_halt_sec_sets_the_halt_length() -> None:
    guards, clock = make({"KILL_DRAWDOWN_HALT_SEC": "300", "MAX_DAILY_LOSS_PCT": "0"})
    guards.check_risk(Decimal(1000))
    assert named(guards.check_risk(Decimal(900)), "kill.halted")[0]["until_ms"] == clock.now_ms() + 300_000
    clock.advance(300)
    assert named(guards.evaluate(), "kill.halt_lifted")[0]["how"] == "expired"


def test_both_halts_and_the_daily_code_comes_first() -> None:
    guards, _ = make()
    guards.check_risk(Decimal(1000))
    events = guards.check_risk(Decimal(900))
    assert [e["kind"] for e in named(events, "kill.halted")] == ["daily_loss", "drawdown"]
    assert guards.knobs().code == "kill_daily_loss"
    assert guards.lift("kill_daily_loss")
    assert guards.knobs().code == "kill_drawdown"


def test_limits_of_zero_are_off() -> None:
    guards, _ = make({"MAX_DAILY_LOSS_PCT": "0", "MAX_DRAWDOWN_PCT": "0"})
    guards.check_risk(Decimal(1000))
    assert guards.check_risk(Decimal(1)) == []
    assert not guards.knobs().entry_block


def test_non_finite_equity_is_ignored() -> None:
    guards, _ = make()
    guards.check_risk(Decimal(1000))
    assert guards.check_risk(Decimal("NaN")) == []
    assert guards.check_risk(Decimal(990)) == []


def test_a_halt_survives_a_restart_and_is_not_raised_again(tmp_path: Path) -> None:
    store = GuardStateStore(tmp_path / "guards.json")
    guards, clock = make(store=store)
    guards.check_risk(Decimal(1000))
    guards.check_risk(Decimal(1200))
    guards.check_risk(Decimal(1100))  # day start 1000, peak 1200
    guards.check_risk(Decimal(950))
    again, clock2 = make(store=store, start=clock.now_ms() + 60_000)
    assert again.knobs().code == "kill_daily_loss"
    assert {a.code for a in again.active()} == {"kill_daily_loss", "kill_drawdown"}
    assert named(again.check_risk(Decimal(900)), "kill.halted") == []
    assert again.kill.day_ref == Decimal(1000)
    assert again.kill.peak == Decimal(1200)
    clock2.set_ms(T0 + DAY)
    assert named(again.evaluate(), "kill.halt_lifted")[0]["kind"] == "daily_loss"
    assert again.knobs().code == "kill_drawdown"  # until the operator lifts it


def test_a_halt_that_ended_while_down_is_dropped_on_load(tmp_path: Path) -> None:
    store = GuardStateStore(tmp_path / "guards.json")
    guards, _ = make({"MAX_DRAWDOWN_PCT": "0"}, store=store)
    guards.check_risk(Decimal(1000))
    guards.check_risk(Decimal(900))
    again, _ = make({"MAX_DRAWDOWN_PCT": "0"}, store=store, start=T0 + DAY + HOUR)
    assert not again.knobs().entry_block
    assert named(again.evaluate(), "kill.halt_lifted") == [
        {"kind": "daily_loss", "code": "kill_daily_loss", "how": "expired"}
    ]
    assert again.check_risk(Decimal(900)) == []  # a new day starts at 900
