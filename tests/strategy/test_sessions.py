"""Session hours: inclusive end hour, wrap past midnight, membership by timestamp."""

from __future__ import annotations

import pytest

from eclipse.strategy.sessions import HOUR_MS, SessionHours, utc_hour

DAY0 = 1_641_081_600_000  # 2022-01-02 00:00 UTC


def test_utc_hour_of_timestamps() -> None:
    assert utc_hour(DAY0) == 0
    assert utc_hour(DAY0 + 13 * HOUR_MS + 59 * 60_000) == 13
    assert utc_hour(DAY0 + 24 * HOUR_MS) == 0


def test_inclusive_end_hour() -> None:
    s = SessionHours.parse("13-17")
    assert s.contains_hour(13)
    assert s.contains_hour(17)
    assert not s.contains_hour(12)
    assert not s.contains_hour(18)
    assert s.contains_ms(DAY0 + 17 * HOUR_MS + 59 * 60_000)  # 17:59 is still in
    assert not s.contains_ms(DAY0 + 18 * HOUR_MS)


def test_wrap_around_midnight() -> None:
    s = SessionHours.parse("22-2")
    assert [h for h in range(24) if s.contains_hour(h)] == [0, 1, 2, 22, 23]
    assert s.contains_ms(DAY0 + 23 * HOUR_MS + 30 * 60_000)
    assert s.contains_ms(DAY0 + 24 * HOUR_MS + 2 * HOUR_MS)
    assert not s.contains_ms(DAY0 + 3 * HOUR_MS)


def test_str_round_trips() -> None:
    s = SessionHours.parse("13-17, 19-23")
    assert str(s) == "13-17,19-23"
    assert SessionHours.parse(str(s)) == s
    assert str(SessionHours()) == ""


def test_empty_is_off_and_direct_construction_is_validated() -> None:
    assert not SessionHours().enabled
    assert SessionHours.parse("  ") == SessionHours()
    with pytest.raises(ValueError, match="outside 0-23"):
        SessionHours(((0, 24),))
