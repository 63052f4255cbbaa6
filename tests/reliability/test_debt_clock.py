"""The belief debt under a clock that moves between two readings (wall time at a replay speed): growth is
computed from one reading, never out of the window it knows (regression: the daemon's status crashed with
"debt is known from ... not at ..." when the market clock moved inside ``growth_per_min``)."""

from __future__ import annotations

from eclipse.machines.debt import BeliefDebt


class TickingClock:
    """A clock that moves 7 ms forward every time it is read."""

    def __init__(self, start: int) -> None:
        self.t = start

    def now_ms(self) -> int:
        self.t += 7
        return self.t

    def now(self) -> float:
        return self.now_ms() / 1000


def test_growth_with_a_clock_that_moves_between_readings() -> None:
    clock = TickingClock(1_700_000_000_000)
    debt = BeliefDebt(clock, growth_window_sec=60.0)
    debt.add("position_mismatch:BTC", "position_mismatch")
    for _ in range(1000):
        assert debt.growth_per_min() >= 0.0
    debt.resolve("position_mismatch:BTC")
    assert debt.growth_per_min() <= 4.0
