"""Property tests of position protection: random event sequences and clock moves, checked after every step
against an independent model of the venue (position and stop quantities).

Invariants (specs/protection.toml): protected_within_t_protect_or_entries_blocked,
gap_clock_never_reset_while_uncovered, exits_and_protection_never_blocked.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eclipse.clock import SimClock
from eclipse.machines.protection import OPEN_STATES, PROTECTION, ProtectionTracker
from eclipse.machines.table import Outcome

T_SEC = 10.0
T_MS = 10_000
EVENTS = sorted({r.event for r in PROTECTION.rows})
CLOSERS = {"stop_hit", "take_profit_hit", "exit_filled", "position_closed"}


@dataclass
class Venue:
    """What the venue holds: the position and the quantity its confirmed stop covers."""

    position: int = 0
    stop: int = 0

    def apply(self, event: str) -> None:
        """The venue-side effect of an event the tracker accepted."""
        if event == "entry_filled":
            self.position += 1
        elif event == "position_found":
            self.position = 3
        elif event == "protection_placed":
            self.stop = self.position
        elif event == "protection_missing":
            self.stop = 0
        elif event in CLOSERS or event == "entry_failed":
            self.position = self.stop = 0

    @property
    def uncovered(self) -> bool:
        """An open position the stop does not fully cover."""
        return self.position > 0 and self.stop < self.position


class Harness:
    """Applies steps to a tracker and to the venue model, and checks the invariants after each."""

    def __init__(self, tracker_cls: type[ProtectionTracker] = ProtectionTracker) -> None:
        self.clock = SimClock(0)
        self.tracker = tracker_cls("ETHUSDT", self.clock, T_SEC, on_event=lambda _e: None)
        self.venue = Venue()
        self.gap_since: int | None = None

    def step(self, action: str | int) -> None:
        """An event name, or a clock move in milliseconds."""
        before_since = self.tracker.gap_since_ms
        if isinstance(action, int):
            self.clock.advance(ms=action)
            accepted = False
        else:
            accepted = self.tracker.fire(action).accepted
            if accepted:
                self.venue.apply(action)
        now = self.clock.now_ms()
        if self.venue.uncovered:
            self.gap_since = now if self.gap_since is None else self.gap_since
        else:
            self.gap_since = None
        self.check(action, accepted, before_since)

    def check(self, action: str | int, accepted: bool, before_since: int | None) -> None:
        """Every invariant, after one step."""
        tr, now = self.tracker, self.clock.now_ms()
        # the tracker's view of the position agrees with the venue model
        assert tr.is_open == (self.venue.position > 0), (tr.state, self.venue)
        assert tr.covered == (self.venue.position > 0 and not self.venue.uncovered)
        # protected_within_t_protect_or_entries_blocked
        assert tr.gap_since_ms == self.gap_since
        gap_ms = 0 if self.gap_since is None else now - self.gap_since
        assert tr.unprotected_sec() == gap_ms / 1000
        assert tr.entries_blocked() == (gap_ms > T_MS)
        assert tr.unprotected_debt_sec() == max(0, gap_ms - T_MS) / 1000
        if tr.state == "protected" or tr.state in ("flat", "entering"):
            assert not tr.entries_blocked()
            assert tr.unprotected_debt_sec() == 0.0
        # gap_clock_never_reset_while_uncovered: a running gap only stops by covering or going flat
        if before_since is not None and tr.gap_since_ms != before_since:
            assert accepted, action
            assert tr.gap_since_ms is None, (action, before_since, tr.gap_since_ms)
            assert action == "protection_placed" or tr.state == "flat", action
        # exits_and_protection_never_blocked
        assert tr.exits_allowed()
        assert tr.protection_allowed()
        if tr.state in OPEN_STATES:
            assert tr.state == "exiting" or (tr.state, "exit") in PROTECTION.rows_for
            assert (tr.state, "protection_placed") in PROTECTION.rows_for


def run(h: Harness, actions: list[str | int]) -> None:
    """Apply ``actions`` in order."""
    for action in actions:
        h.step(action)


ACTIONS = st.one_of(
    st.sampled_from(EVENTS),
    st.sampled_from(["enter", "entry_filled", "protection_placed", "exit", "exit_failed"]),
    st.integers(min_value=0, max_value=15_000),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ACTIONS, min_size=5, max_size=60))
def test_invariants_hold_after_every_step(actions: list[str | int]) -> None:
    """protected_within_t_protect_or_entries_blocked, gap_clock_never_reset_while_uncovered and
    exits_and_protection_never_blocked, after every step of a random history."""
    h = Harness()
    for action in actions:
        h.step(action)


class ResetsOnFailedExit(ProtectionTracker):
    """A broken tracker: a failed exit restarts the gap clock (launders the gap)."""

    def _fire(self, event: str) -> Outcome:
        out = super()._fire(event)
        if event == "exit_failed" and self._gap_since_ms is not None:
            self._gap_since_ms = self._clock.now_ms()
        return out


class NeverBlocks(ProtectionTracker):
    """A broken tracker: ignores T_protect."""

    def entries_blocked(self) -> bool:
        return False


@pytest.mark.parametrize(
    ("broken", "actions"),
    [
        (ResetsOnFailedExit, ["enter", "entry_filled", 8_000, "exit", 1_000, "exit_failed"]),
        (NeverBlocks, ["enter", "entry_filled", 10_001]),
    ],
)
def test_the_checks_catch_a_broken_tracker(broken: type[ProtectionTracker], actions: list[str | int]) -> None:
    h = Harness(broken)
    with pytest.raises(AssertionError):
        run(h, actions)
