"""Clock seam: SimClock moves only when told, never backwards; LiveClock follows the wall clock."""

from __future__ import annotations

import pytest

from eclipse.clock import Clock, LiveClock, SimClock


def test_sim_clock_set_and_advance() -> None:
    c = SimClock(1_000)
    assert (c.now_ms(), c.now()) == (1_000, 1.0)
    c.advance(2.5)
    assert c.now_ms() == 3_500
    c.advance(ms=500)
    assert c.now_ms() == 4_000
    c.set_ms(10_000)
    assert c.now() == 10.0
    c.set_ms(10_000)  # staying put is fine


def test_sim_clock_refuses_to_go_backwards() -> None:
    c = SimClock(5_000)
    with pytest.raises(ValueError, match="backwards"):
        c.set_ms(4_999)
    with pytest.raises(ValueError, match="backwards"):
        c.advance(-1)
    with pytest.raises(ValueError, match=">= 0"):
        SimClock(-1)
    assert c.now_ms() == 5_000


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(SimClock(), Clock)
    live = LiveClock()
    assert isinstance(live, Clock)
    a = live.now_ms()
    assert a > 1_600_000_000_000  # after 2020
    assert abs(live.now() * 1000 - a) < 60_000
