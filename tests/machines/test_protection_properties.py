"""Property tests of position protection: random histories of venue facts, bot commands and clock moves drive
a ProtectionTracker next to the test's own record of the venue (ProtectionFacts: position, stop, the entry
and exit orders working). The record follows every event the venue can produce, whatever the machine does
with it; after every step the registered checkers of specs/protection.toml compare the tracker with it:

* t_protect_follows_the_facts (protected_within_t_protect_or_entries_blocked): covered flag, gap clock,
  entries blocked and debt are the facts';
* gap_clock_never_reset (gap_clock_never_reset_while_uncovered);
* exits_and_protection_allowed (exits_and_protection_never_blocked);
* venue_facts_taken and state_agrees_with_the_venue (machine_follows_the_venue).

The suite has teeth: with the row ``exiting --entry_filled--> exiting`` or ``protected --protection_missing-->
open_unprotected`` deleted from a copy of the spec (and the class: the tracker runs the table compiled from
the copy, so conformance passes), the same histories report violations.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eclipse.clock import SimClock
from eclipse.machines.checkers import registry
from eclipse.machines.invariants.protection import (
    FACT_EVENTS,
    ProtectionFacts,
    exits_and_protection_allowed,
    gap_clock_never_reset,
    state_agrees_with_the_venue,
    t_protect_follows_the_facts,
    venue_facts_taken,
)
from eclipse.machines.protection import ProtectionTracker
from eclipse.machines.spec import load_spec
from eclipse.machines.table import CompiledMachine, Outcome, compile_spec

from .kit import SPECS, copy_specs, drop_row

T_SEC = 10.0
T_MS = 10_000
SPEC = load_spec(SPECS / "protection.toml")
SPEC_ROWS = {r.key() for r in SPEC.rows}
CLOCK_MOVES = (0, 500, 3_000, 9_999, 10_001, 15_000)


class Harness:
    """A tracker (on ``table``, default the code's) and the venue's facts; :meth:`step` applies one action to
    both and returns every problem the registered checkers find."""

    def __init__(
        self, tracker_cls: type[ProtectionTracker] = ProtectionTracker, table: CompiledMachine | None = None
    ) -> None:
        self.clock = SimClock(0)
        self.tracker = tracker_cls("ETHUSDT", self.clock, T_SEC, on_event=lambda _e: None, table=table)
        self.facts = ProtectionFacts()
        self.rows: set[tuple[str, str, str, str | None]] = set()
        self.history: list[str | int] = []

    def plausible(self) -> list[str]:
        """The events the venue (or the bot) can produce now, by the facts alone (never by the machine)."""
        return [e for e in FACT_EVENTS if self.facts.plausible(e)]

    def step(self, action: str | int) -> list[str]:
        """An event name (skipped when the facts make it impossible), or a clock move in milliseconds."""
        tr, facts = self.tracker, self.facts
        gap_before = tr.gap_since_ms
        problems: list[str] = []
        if isinstance(action, int):
            self.clock.advance(ms=action)
            label = f"+{action} ms"
        elif not facts.plausible(action):
            return []
        else:
            label = action
            before = facts.tracked()
            out: Outcome = tr.fire(action)
            facts.apply(action, self.clock.now_ms())  # what happened on the venue, accepted or not
            if out.row is not None:
                self.rows.add(out.row.key())
            problems += venue_facts_taken(action, before, facts.tracked(), out.accepted, out.source)
        self.history.append(action)
        problems += state_agrees_with_the_venue(tr, facts)
        problems += t_protect_follows_the_facts(tr, facts, self.clock.now_ms())
        problems += gap_clock_never_reset(tr, facts, label, gap_before)
        problems += exits_and_protection_allowed(tr)
        return [f"after {self.history}: {p}" for p in problems]

    def run(self, actions: list[str | int]) -> list[str]:
        """Apply ``actions`` in order; every problem found."""
        return [p for a in actions for p in self.step(a)]


def walk(h: Harness, rng: random.Random, steps: int) -> list[str]:
    """``steps`` random steps: a plausible event (most of the time) or a clock move."""
    problems: list[str] = []
    for _ in range(steps):
        if rng.random() < 0.25:
            problems += h.step(rng.choice(CLOCK_MOVES))
        else:
            problems += h.step(rng.choice(h.plausible()))
    return problems


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_invariants_hold_after_every_step(data: st.DataObject) -> None:
    """Every checker of the protection spec's property suite, after every step of a random history."""
    h = Harness()
    for _ in range(data.draw(st.integers(5, 60), label="steps")):
        if data.draw(st.booleans(), label="clock"):
            action: str | int = data.draw(st.sampled_from(CLOCK_MOVES), label="ms")
        else:
            action = data.draw(st.sampled_from(h.plausible()), label="event")
        assert h.step(action) == []


def test_seeded_walks_take_every_row_and_keep_every_invariant() -> None:
    """Breadth: 300 seeded walks of 60 steps find no problem and take every row of the spec."""
    rng = random.Random(20_260_601)
    taken: set[tuple[str, str, str, str | None]] = set()
    for _ in range(300):
        h = Harness()
        assert walk(h, rng, 60) == []
        taken |= h.rows
    assert SPEC_ROWS - taken == set()


def test_a_refused_report_still_changes_the_record() -> None:
    """The record follows the venue, not the machine: a stop that goes missing while it no longer covered
    the (grown) position is refused by the machine (open_unprotected has no protection_missing row), yet the
    record drops the stop; nothing the machine follows changed, so nothing is reported."""
    h = Harness()
    assert h.run(["enter", "entry_filled", "protection_placed", "entry_filled"]) == []
    assert (h.tracker.state, h.facts.position, h.facts.stop) == ("open_unprotected", 2, 1)
    assert h.step("protection_missing") == []
    assert (h.tracker.state, h.facts.stop) == ("open_unprotected", 0)
    assert h.run(["protection_placed", "stop_hit"]) == []
    assert (h.tracker.state, h.facts.position) == ("flat", 0)


# --- the suite catches broken trackers and broken rows ----------------------------------------------------
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


class CoveredByRefusedEvents(ProtectionTracker):
    """The tracker before the fix: its covered flag changes only on accepted events, so a refused fact (a
    fill that grew the position, a missing stop) leaves it covered."""

    def _fire(self, event: str) -> Outcome:
        covered = self._covered
        out = super()._fire(event)
        if not out.accepted and out.target in ("protected", "exiting"):
            self._covered = covered
            if covered and self._gap_since_ms is not None:
                self._gap_since_ms = None
        return out


@pytest.mark.parametrize(
    ("broken", "actions"),
    [
        (ResetsOnFailedExit, ["enter", "entry_filled", 8_000, "exit", 1_000, "exit_failed"]),
        (NeverBlocks, ["enter", "entry_filled", 10_001]),
    ],
)
def test_the_checks_catch_a_broken_tracker(broken: type[ProtectionTracker], actions: list[str | int]) -> None:
    assert Harness(broken).run(actions) != []


def mutant(tmp_path: Path, source: str, event: str, target: str) -> CompiledMachine:
    """The table of a copy of specs/protection.toml without the row (the class mutated alike: conformance
    of the copy against its own table passes, and so do the protection conformance checkers)."""
    spec = load_spec(drop_row(copy_specs(tmp_path), "protection", source, event, target))
    table = compile_spec(spec)
    reg = registry()
    for name in spec.checkers:
        if reg[name].suite == "conformance":
            assert reg[name].func(table) == [], name  # only the property suite can see it
    return table


LATE_FILL_DURING_EXIT = ["enter", "entry_filled", "protection_placed", "exit", "entry_filled", "exit_failed"]
STOP_GONE = ["enter", "entry_filled", "protection_placed", 1_000, "protection_missing", 10_001]


def test_deleting_exiting_entry_filled_is_caught(tmp_path: Path) -> None:
    """exiting --entry_filled--> exiting deleted: the late entry fill during the exit is refused. The fixed
    tracker still uncovers the position (the fill is a fact) so the failed exit lands in open_unprotected
    with the gap clock running, and the suite reports the refused fact."""
    table = mutant(tmp_path, "exiting", "entry_filled", "exiting")
    h = Harness(table=table)
    problems = h.run(LATE_FILL_DURING_EXIT)
    assert any("entry_filled refused in exiting" in p for p in problems), problems
    assert (h.tracker.state, h.tracker.covered) == ("open_unprotected", False)
    h.clock.advance(ms=T_MS + 1)
    assert h.tracker.entries_blocked()
    assert Harness().run(LATE_FILL_DURING_EXIT) == []  # the real machine takes the fact
    # the tracker before the fix: it ends protected and covered, no debt, entries never blocked
    old = Harness(CoveredByRefusedEvents, table=table)
    assert any("covered=True" in p for p in old.run(LATE_FILL_DURING_EXIT))
    assert (old.tracker.state, old.tracker.covered) == ("protected", True)
    old.clock.advance(ms=T_MS * 5)
    assert not old.tracker.entries_blocked()


def test_deleting_protected_protection_missing_is_caught(tmp_path: Path) -> None:
    """protected --protection_missing--> open_unprotected deleted: the machine stays protected while the stop
    is gone. The fixed tracker uncovers the position and runs the gap clock anyway (entries block after
    T_protect); the suite reports the refused fact and the state the facts contradict."""
    table = mutant(tmp_path, "protected", "protection_missing", "open_unprotected")
    h = Harness(table=table)
    problems = h.run(STOP_GONE)
    assert any("protection_missing refused in protected" in p for p in problems), problems
    assert any("state protected, the venue's facts call for open_unprotected" in p for p in problems), (
        problems
    )
    assert (h.tracker.state, h.tracker.covered) == ("protected", False)
    assert h.tracker.entries_blocked()
    assert Harness().run(STOP_GONE) == []


@pytest.mark.parametrize(
    "row",
    [("exiting", "entry_filled", "exiting"), ("protected", "protection_missing", "open_unprotected")],
    ids=["exiting-entry_filled", "protected-protection_missing"],
)
def test_the_random_suite_finds_each_deleted_row(tmp_path: Path, row: tuple[str, str, str]) -> None:
    """The seeded walks that pass on the real machine report violations on each mutant."""
    table = mutant(tmp_path, *row)
    rng = random.Random(7)
    found = [p for _ in range(100) for p in walk(Harness(table=table), rng, 60)]
    assert any(f"{row[1]} refused in {row[0]}" in p for p in found), found[:5]
