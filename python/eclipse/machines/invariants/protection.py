"""Property checkers of position protection (``specs/protection.toml``): a :class:`ProtectionTracker` compared
with :class:`ProtectionFacts`, the venue's facts as a test records them.

The record is updated by every event, whatever the tracker does with it (:meth:`ProtectionFacts.apply`): a
fill that grows the position grows it on the venue even when the machine refuses the report, a stop that
went missing is gone. The checkers then compare the tracker with the facts, so a fact the machine refuses
shows as a difference instead of vanishing from the test too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

from eclipse.machines.checkers import register
from eclipse.machines.protection import OPEN_STATES, ProtectionTracker

__all__ = [
    "FACT_EVENTS",
    "ProtectionFacts",
    "Tracked",
    "exits_and_protection_allowed",
    "gap_clock_never_reset",
    "state_agrees_with_the_venue",
    "t_protect_follows_the_facts",
    "venue_facts_taken",
]

_CLOSERS: Final = frozenset({"stop_hit", "take_profit_hit", "exit_filled", "position_closed"})

FACT_EVENTS: Final = (
    "enter",
    "entry_filled",
    "entry_failed",
    "position_found",
    "position_closed",
    "protection_placed",
    "protection_failed",
    "protection_missing",
    "stop_hit",
    "take_profit_hit",
    "exit",
    "exit_filled",
    "exit_failed",
)
"""The protection machine's events, each a command of the bot or a fact of the venue."""


class Tracked(NamedTuple):
    """What the machine must follow: the position open, covered by the stop, an entry awaiting its first
    fill, an exit order working."""

    open: bool
    covered: bool
    entry_pending: bool
    exit_working: bool


@dataclass
class ProtectionFacts:
    """One symbol on the venue: the position (units), the units the confirmed stop covers, the bot's entry
    and exit orders working, and when the open position was last seen uncovered (the facts' gap clock)."""

    position: int = 0
    stop: int = 0
    entry_working: bool = False
    exit_working: bool = False
    gap_since_ms: int | None = None

    @property
    def open(self) -> bool:
        """A position is open on the venue."""
        return self.position > 0

    @property
    def covered(self) -> bool:
        """The confirmed stop covers the whole open position."""
        return self.position > 0 and self.stop >= self.position

    def tracked(self) -> Tracked:
        """The facts the machine follows (a change of these must be taken by the machine)."""
        return Tracked(self.open, self.covered, self.entry_working and self.position == 0, self.exit_working)

    def expected_state(self) -> str:
        """The machine state these facts call for."""
        if self.position > 0:
            if self.exit_working:
                return "exiting"
            return "protected" if self.covered else "open_unprotected"
        return "entering" if self.entry_working else "flat"

    def plausible(self, event: str) -> bool:
        """True when the venue (or the bot, for its commands) can produce ``event`` given these facts."""
        if event == "enter":
            return self.position == 0 and not self.entry_working and not self.exit_working
        if event == "entry_filled":
            return True  # an entry's fill, a late fill after a failed entry, or an entry not announced
        if event == "entry_failed":
            return self.entry_working and self.position == 0
        if event == "position_found":
            return self.position == 0 and not self.entry_working and not self.exit_working
        if event == "position_closed":
            return self.position > 0 or self.entry_working
        if event in ("protection_placed", "protection_failed"):
            return self.position > 0
        if event == "protection_missing":
            return self.stop > 0
        if event in ("stop_hit", "take_profit_hit"):
            return self.covered  # the legs cover the whole position, so their hit closes it
        if event == "exit":
            return self.position > 0 and not self.exit_working
        if event in ("exit_filled", "exit_failed"):
            return self.exit_working
        raise ValueError(f"unknown protection event {event!r}")

    def apply(self, event: str, now_ms: int) -> None:
        """The venue-side effect of ``event`` (whatever the tracker did with it), then the gap clock at
        ``now_ms``."""
        if event == "enter":
            self.entry_working = True
        elif event == "entry_filled":
            self.position += 1
        elif event == "entry_failed":
            self.entry_working = False
        elif event == "position_found":
            self.position, self.stop = 3, 0
        elif event == "protection_placed":
            self.stop = self.position
        elif event == "protection_missing":
            self.stop = 0
        elif event == "exit":
            self.exit_working = True
        elif event == "exit_failed":
            self.exit_working = False
        elif event in _CLOSERS:
            self.position = self.stop = 0
            self.entry_working = self.exit_working = False
        self.settle(now_ms)

    def settle(self, now_ms: int) -> None:
        """The facts' gap clock: starts when the open position is first seen uncovered, stops when it is
        covered or flat."""
        if self.open and not self.covered:
            if self.gap_since_ms is None:
                self.gap_since_ms = now_ms
        else:
            self.gap_since_ms = None


@register("protection.property.venue_facts_taken")
def venue_facts_taken(event: str, before: Tracked, after: Tracked, accepted: bool, state: str) -> list[str]:
    """machine_follows_the_venue: an event that changed what the machine follows (the position opened or
    closed, covered or uncovered, an entry or exit order started or ended) was taken by the machine."""
    if before == after or accepted:
        return []
    return [f"{event} refused in {state}, but it changed the venue's facts from {before} to {after}"]


@register("protection.property.state_agrees_with_the_venue")
def state_agrees_with_the_venue(tracker: ProtectionTracker, facts: ProtectionFacts) -> list[str]:
    """machine_follows_the_venue: the state is the one the facts call for (open states exactly while a
    position is open, protected only while the stop covers it, exiting only while an exit order works)."""
    want = facts.expected_state()
    return (
        []
        if tracker.state == want
        else [f"state {tracker.state}, the venue's facts call for {want}: {facts}"]
    )


@register("protection.property.t_protect_follows_the_facts")
def t_protect_follows_the_facts(tracker: ProtectionTracker, facts: ProtectionFacts, now_ms: int) -> list[str]:
    """protected_within_t_protect_or_entries_blocked: the tracker's covered flag and gap clock are the
    facts': an open position uncovered for longer than T_protect blocks entries, and the overrun is debt."""
    out = []
    if tracker.is_open != facts.open:
        out.append(f"tracker open={tracker.is_open} ({tracker.state}), venue position {facts.position}")
    if tracker.covered != facts.covered:
        out.append(f"tracker covered={tracker.covered} ({tracker.state}), venue: {facts}")
    if tracker.gap_since_ms != facts.gap_since_ms:
        out.append(f"gap clock started at {tracker.gap_since_ms}, the facts' gap at {facts.gap_since_ms}")
    gap_ms = 0 if facts.gap_since_ms is None else now_ms - facts.gap_since_ms
    t_ms = round(tracker.t_protect_sec * 1000)
    if tracker.unprotected_sec() != gap_ms / 1000:
        out.append(f"unprotected_sec {tracker.unprotected_sec()}, the facts' gap {gap_ms / 1000}")
    if tracker.entries_blocked() != (gap_ms > t_ms):
        out.append(f"entries_blocked {tracker.entries_blocked()} after an uncovered gap of {gap_ms} ms")
    if tracker.unprotected_debt_sec() != max(0, gap_ms - t_ms) / 1000:
        out.append(f"debt {tracker.unprotected_debt_sec()} s after an uncovered gap of {gap_ms} ms")
    return out


@register("protection.property.gap_clock_never_reset")
def gap_clock_never_reset(
    tracker: ProtectionTracker, facts: ProtectionFacts, event: str, gap_before: int | None
) -> list[str]:
    """gap_clock_never_reset_while_uncovered: a running gap clock stops only when the position is covered or
    flat, and never restarts while it stays uncovered."""
    after = tracker.gap_since_ms
    if gap_before is None or after == gap_before:
        return []
    if after is not None:
        return [
            f"{event}: the gap clock restarted ({gap_before} -> {after}) while the position stayed uncovered"
        ]
    if facts.open and not facts.covered:
        return [f"{event}: the gap clock stopped while the venue's position is open and uncovered ({facts})"]
    return []


@register("protection.property.exits_and_protection_allowed")
def exits_and_protection_allowed(tracker: ProtectionTracker) -> list[str]:
    """exits_and_protection_never_blocked: exits and stop placement are always allowed, and the current
    open state accepts them."""
    out = []
    if not tracker.exits_allowed():
        out.append("exits_allowed() is False")
    if not tracker.protection_allowed():
        out.append("protection_allowed() is False")
    rows, state = tracker.table.rows_for, tracker.state
    if state in OPEN_STATES:
        if state != "exiting" and (state, "exit") not in rows:
            out.append(f"{state} does not accept exit")
        if (state, "protection_placed") not in rows:
            out.append(f"{state} does not accept protection_placed")
    return out
