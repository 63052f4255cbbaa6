"""Property tests of the reconcile cycle: a chaotic history (failures, new drift, stray events, clock moves)
up to time t, then no more faults; checked after every step and for convergence by the registered checkers
of specs/reconcile.toml (one_cycle_at_a_time, backoff_capped_exponential, backoff_waits_for_the_clock,
converges_within_k_cycles), with K and the backoff factor read from the spec. Every loop is bounded: a broken
cycle fails the test with a message, it never hangs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eclipse.clock import SimClock
from eclipse.machines.invariants.reconcile import (
    backoff_capped_exponential,
    backoff_waits_for_the_clock,
    converges_within_k_cycles,
    one_cycle_at_a_time,
)
from eclipse.machines.reconcile import ReconcileCycle
from eclipse.machines.spec import Spec, load_spec
from eclipse.machines.table import Outcome

from .kit import SPECS, copy_specs, set_constant

BASE_MS, MAX_MS, STEP_MS = 1_000, 16_000, 250
SPEC = load_spec(SPECS / "reconcile.toml")


@dataclass
class World:
    """Venue drift: items where local belief differs from the venue; a fetch snapshots them."""

    drift: set[int] = field(default_factory=set)
    snapshot: frozenset[int] = frozenset()
    next_id: int = 0

    def new_drift(self) -> None:
        """Something diverged."""
        self.drift.add(self.next_id)
        self.next_id += 1


class Harness:
    """Drives a cycle like the reconcile worker would, and checks the invariants after every step (K and
    the backoff factor from ``spec``)."""

    def __init__(self, cycle_cls: type[ReconcileCycle] = ReconcileCycle, spec: Spec = SPEC) -> None:
        self.clock = SimClock(0)
        self.rc = cycle_cls(self.clock, BASE_MS / 1000, MAX_MS / 1000)
        self.world = World()
        self.failures = 0  # the test's own count of consecutive failed cycles
        self.k = int(spec.constant("k_cycles"))
        self.factor = int(spec.constant("backoff_factor"))

    def natural(self, fail: bool) -> None:
        """The worker's next move in the current state; ``fail`` makes the venue call fail."""
        state = self.rc.state
        if state == "idle":
            self.event("start")
        elif state == "fetching":
            self.event("fetch_failed" if fail else "fetched")
        elif state == "diffing":
            self.event("diffed_clean" if not self.world.snapshot else "diffed_dirty")
        elif state == "repairing":
            self.event("repair_failed" if fail else "repaired")
        else:
            assert self.rc.next_attempt_ms is not None
            self.clock.set_ms(max(self.clock.now_ms(), self.rc.next_attempt_ms))
            self.event("tick")

    def event(self, name: str) -> None:
        """One raw event, then the checks."""
        before, now = self.rc.state, self.clock.now_ms()
        due_before = self.rc.next_attempt_ms
        out: Outcome | bool
        if name == "start":
            out = self.rc.start()
        elif name == "fetched":
            out = self.rc.fetched()
            if out.accepted:
                self.world.snapshot = frozenset(self.world.drift)
        elif name == "fetch_failed":
            out = self.rc.fetch_failed()
        elif name in ("diffed_clean", "diffed_dirty"):
            out = self.rc.diffed(name == "diffed_clean")
        elif name == "repaired":
            out = self.rc.repaired()
            if out.accepted:
                self.world.drift -= self.world.snapshot
        elif name == "repair_failed":
            out = self.rc.repair_failed()
        else:
            out = self.rc.tick()
        accepted = out if isinstance(out, bool) else out.accepted
        after = self.rc.state
        entered = accepted and after == "backoff" and before != "backoff"
        if entered:
            self.failures += 1
        if accepted and after == "idle" and before in ("diffing", "repairing"):
            self.failures = 0
        problems = [
            *one_cycle_at_a_time(name, before, accepted),
            *backoff_capped_exponential(self.rc, self.failures, entered, now, self.factor),
            *backoff_waits_for_the_clock(before, after, due_before, now),
        ]
        assert problems == [], (name, problems)

    def converge(self, limit: int = 10) -> tuple[int | None, int]:
        """From now on no faults and no new drift: run until a cycle started from now ends clean. Returns
        (cycles started, elapsed ms); cycles None when ``limit`` cycles' worth of steps do not get there."""
        t0, started0 = self.clock.now_ms(), self.rc.cycles_started
        clean0 = self.rc.clean_cycles
        for _ in range(limit * 6 + 2):
            self.clock.advance(ms=STEP_MS)
            started = self.rc.cycles_started - started0
            cycle_begun_after_t = started > 0
            self.natural(fail=False)
            if cycle_begun_after_t and self.rc.clean_cycles > clean0 and self.rc.state == "idle":
                return self.rc.cycles_started - started0, self.clock.now_ms() - t0
            if self.rc.clean_cycles > clean0 and not cycle_begun_after_t:
                clean0 = self.rc.clean_cycles  # the cycle in progress at t does not count
        return None, self.clock.now_ms() - t0

    def converges(self) -> list[str]:
        """converges_within_k_cycles from now on (the registered checker, K from the spec)."""
        cycles, _ = self.converge()
        return converges_within_k_cycles(cycles, self.k)


STEPS = st.one_of(
    st.tuples(st.just("natural"), st.booleans()),
    st.tuples(st.just("natural"), st.booleans()),
    st.tuples(st.just("drift"), st.just(False)),
    st.tuples(
        st.sampled_from(
            [
                "start",
                "fetched",
                "fetch_failed",
                "diffed_clean",
                "diffed_dirty",
                "repaired",
                "repair_failed",
                "tick",
            ]
        ),
        st.just(False),
    ),
    st.tuples(st.just("wait"), st.booleans()),
)


def run_chaos(h: Harness, steps: list[tuple[str, bool]]) -> None:
    """The faulty history before t."""
    for kind, flag in steps:
        if kind == "natural":
            h.natural(fail=flag)
        elif kind == "drift":
            h.world.new_drift()
        elif kind == "wait":
            h.clock.advance(ms=STEP_MS if flag else 7_000)
        else:
            h.event(kind)


def chaos_then_converge(h: Harness, steps: list[tuple[str, bool]]) -> list[str]:
    """The chaotic prefix, then the fault-free run to a clean cycle: the convergence problems."""
    run_chaos(h, steps)
    return h.converges()


@settings(max_examples=300, deadline=None)
@given(st.lists(STEPS, min_size=10, max_size=80))
def test_converges_within_k_cycles_once_faults_stop(steps: list[tuple[str, bool]]) -> None:
    """converges_within_k_cycles (with backoff_capped_exponential, backoff_waits_for_the_clock and
    one_cycle_at_a_time checked after every step of the chaotic prefix and of the recovery)."""
    h = Harness()
    run_chaos(h, steps)
    cycles, elapsed_ms = h.converge()
    assert converges_within_k_cycles(cycles, h.k) == []
    # in time: at most one full backoff, plus K cycles of four steps, plus the cycle in progress at t
    assert elapsed_ms <= MAX_MS + ((h.k + 1) * 4 + 2) * STEP_MS


def fail_until(h: Harness, failures: int, bound: int = 200) -> None:
    """Fail every venue call until ``failures`` consecutive failed cycles; fails the test (never hangs) when
    ``bound`` steps do not get there (a cycle stuck in backoff, say)."""
    for _ in range(bound):
        if h.rc.consecutive_failures >= failures:
            return
        h.natural(fail=True)
    pytest.fail(
        f"{bound} steps did not reach {failures} consecutive failures: stuck in {h.rc.state} with "
        f"{h.rc.consecutive_failures} (next attempt {h.rc.next_attempt_ms}, now {h.clock.now_ms()})"
    )


def test_a_persistent_failure_keeps_backing_off_at_the_cap() -> None:
    h = Harness()
    fail_until(h, 20)
    assert h.rc.state == "backoff"
    assert h.rc.next_attempt_ms == h.clock.now_ms() + MAX_MS
    cycles, elapsed_ms = h.converge()
    assert cycles == 1
    assert MAX_MS <= elapsed_ms <= MAX_MS + 4 * STEP_MS


class IgnoresTheClock(ReconcileCycle):
    """A broken cycle: leaves backoff on any tick."""

    def tick(self) -> bool:
        if self.state != "backoff":
            return False
        self.next_attempt_ms = self._clock.now_ms()
        return super().tick()


class NeverTrustsAClean(ReconcileCycle):
    """A broken cycle: treats every diff as dirty, so it never completes clean."""

    def diffed(self, clean: bool) -> Outcome:
        return super().diffed(False)


class Uncapped(ReconcileCycle):
    """A broken cycle: its backoff ignores the cap."""

    def fetch_failed(self) -> Outcome:
        out = super().fetch_failed()
        if out.accepted and self.next_attempt_ms is not None:
            self.next_attempt_ms = self._clock.now_ms() + BASE_MS * 2 ** (self.consecutive_failures - 1)
        return out


class SwappedDueGuards(ReconcileCycle):
    """A broken cycle: the due / not_due guards swapped, so a tick that is due keeps it in backoff."""

    def tick(self) -> bool:
        if self.state != "backoff" or self.next_attempt_ms is None:
            return False
        out = self._runner.fire("tick", self._clock.now_ms() < self.next_attempt_ms)
        if out.target == "idle":
            self.next_attempt_ms = None
            return True
        return False


@pytest.mark.parametrize(
    ("broken", "steps"),
    [
        (IgnoresTheClock, [("natural", False), ("natural", True), ("tick", False)]),
        (NeverTrustsAClean, []),
        (Uncapped, [("natural", True)] * 30),
    ],
)
def test_the_checks_catch_a_broken_cycle(broken: type[ReconcileCycle], steps: list[tuple[str, bool]]) -> None:
    h = Harness(broken)
    with pytest.raises(AssertionError):
        assert chaos_then_converge(h, steps) == []


def test_swapped_due_guards_fail_with_a_message_instead_of_hanging() -> None:
    """The backoff loop that used to be ``while failures < 20`` hung forever on this cycle; bounded, it fails
    with a message naming where it got stuck."""
    h = Harness(SwappedDueGuards)
    with pytest.raises(
        pytest.fail.Exception, match="did not reach 20 consecutive failures: stuck in backoff"
    ):
        fail_until(h, 20)


def test_a_changed_k_in_the_spec_fails_the_property_suite(tmp_path: Path) -> None:
    """K is read from the spec: with k_cycles = 1 in a copy of reconcile.toml, drift that needs a repairing
    cycle and a verifying one (K=2) is reported by the suite's convergence checker."""
    spec = load_spec(set_constant(copy_specs(tmp_path), "reconcile", "k_cycles", 1))
    assert "K=1" in spec.description
    drifted = [("drift", False)]
    assert chaos_then_converge(Harness(), list(drifted)) == []
    problems = chaos_then_converge(Harness(spec=spec), list(drifted))
    assert problems == ["2 cycles started after the faults stopped before a clean one (K=1)"]
