"""Property tests of the risk posture: random contradictions opened and resolved, clock moves and updates,
checked after every update by the registered checkers of specs/posture.toml against the test's own record of
targets and changes: never_blocks_exits_or_protection, escalation_immediate, no_flapping (the step down's size
read from the spec), warmup_before_normal, red_lock_critical_streak.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eclipse.clock import SimClock
from eclipse.machines.debt import DEFAULT_WEIGHTS, BeliefDebt
from eclipse.machines.invariants.posture import (
    escalation_immediate,
    never_blocks_exits_or_protection,
    no_flapping,
    red_lock_critical_streak,
    warmup_before_normal,
)
from eclipse.machines.posture import Posture, PostureController, PostureThresholds
from eclipse.machines.spec import load_spec

from .kit import SPECS

HYST_MS, WARMUP_MS, STREAK = 30_000, 60_000, 2
STEP_DOWN = int(load_spec(SPECS / "posture.toml").constant("step_down_levels"))
TH = PostureThresholds()
KINDS = sorted(DEFAULT_WEIGHTS)


def code(key: int, kind: str) -> int:
    """The step argument that adds contradiction ``k<key>`` of ``kind`` (and resolves ``k<key>``)."""
    return key + 8 * KINDS.index(kind)


class Harness:
    """A controller plus the test's own record of targets and changes; :meth:`check` after every update."""

    def __init__(self, **overrides: object) -> None:
        self.clock = SimClock(0)
        self.belief = BeliefDebt(self.clock)
        self.events: list[Mapping[str, object]] = []
        kwargs: dict[str, object] = {
            "thresholds": TH,
            "hysteresis_sec": HYST_MS / 1000,
            "warmup_sec": WARMUP_MS / 1000,
            "red_lock_critical_streak": STREAK,
        }
        kwargs.update(overrides)
        self.ctl = PostureController(
            self.clock,
            belief=self.belief,
            on_event=self.events.append,
            **kwargs,  # type: ignore[arg-type]
        )
        self.targets: list[tuple[int, Posture]] = []
        self.last_change_ms = 0
        self.streak = 0
        self.seen = 0

    def step(self, kind: str, arg: int) -> None:
        """``add``/``resolve`` a contradiction (both update), ``clear`` them all, ``wait`` seconds (no update)
        or ``update``."""
        if kind == "add":
            self.ctl.add_contradiction(f"k{arg % 8}", KINDS[(arg // 8) % len(KINDS)])
        elif kind == "resolve":
            self.ctl.resolve_contradiction(f"k{arg % 8}")
        elif kind == "clear":
            for c in self.belief.open_contradictions():
                self.ctl.resolve_contradiction(c.key)
                self.check()
        elif kind == "wait":
            self.clock.advance(arg)
            return
        else:
            self.ctl.update()
        self.check()

    def check(self) -> None:
        """Every invariant, after one update (the registered checkers)."""
        now = self.clock.now_ms()
        target = TH.level(self.belief.debt(), self.belief.growth_per_min())
        self.targets.append((now, target))
        problems = [*never_blocks_exits_or_protection(self.ctl), *escalation_immediate(self.ctl, target)]
        for event in self.events[self.seen :]:
            self.seen += 1
            if event["event"] == "posture.red_lock_critical":
                continue
            assert event["event"] == "posture.changed", event
            src, dst = Posture(str(event["from"])), Posture(str(event["to"]))
            problems += warmup_before_normal(src, dst, now, self.last_change_ms, WARMUP_MS)
            if src is Posture.POST_RED_WARMUP and dst is not Posture.RED_LOCK:
                self.streak = 0  # a completed warmup
            problems += no_flapping(src, dst, now, self.last_change_ms, self.targets, HYST_MS, STEP_DOWN)
            if dst is Posture.RED_LOCK:
                self.streak += 1
                critical = [e for e in self.events[self.seen :] if e["event"] == "posture.red_lock_critical"]
                problems += red_lock_critical_streak(self.ctl, self.streak, STREAK, critical)
            self.last_change_ms = now
        problems += red_lock_critical_streak(self.ctl, self.streak, STREAK, None)
        assert problems == [], problems


def run(h: Harness, steps: list[tuple[str, int]]) -> None:
    """Apply ``steps`` in order."""
    for kind, arg in steps:
        h.step(kind, arg)


STEPS = st.one_of(
    st.tuples(st.sampled_from(["add", "resolve", "clear", "update"]), st.integers(0, 8 * len(KINDS) - 1)),
    st.tuples(st.just("wait"), st.integers(0, 45)),
)


@settings(max_examples=250, deadline=None)
@given(st.lists(st.tuples(STEPS, st.integers(0, 45)), min_size=20, max_size=120))
def test_invariants_hold_after_every_update(steps: list[tuple[tuple[str, int], int]]) -> None:
    """never_blocks_exits_or_protection, escalation_immediate, no_flapping, warmup_before_normal and
    red_lock_critical_streak after every update of a random history (each step waits, then acts)."""
    h = Harness()
    for (kind, arg), wait in steps:
        h.step("wait", wait)
        h.step(kind, arg)


def test_a_long_calm_walks_down_every_level() -> None:
    h = Harness()
    h.step("add", code(0, "unknown_position"))
    h.step("add", code(1, "balance_mismatch"))
    assert h.ctl.posture.value == "RED_LOCK"
    h.step("resolve", 0)
    h.step("resolve", 1)
    seen = []
    for _ in range(40):
        h.step("wait", 5)
        h.step("update", 0)
        seen.append(h.ctl.posture)
    assert seen[-1] is Posture.GREEN
    assert list(dict.fromkeys(seen)) == [Posture.RED_LOCK, Posture.POST_RED_WARMUP, Posture.GREEN]


def _flap_steps() -> list[tuple[str, int]]:
    return [("add", code(0, "orphan_order")), ("resolve", 0), ("wait", 1), ("update", 0)]


def _relapse_steps() -> list[tuple[str, int]]:
    return [
        ("add", code(0, "unknown_position")),
        ("add", code(1, "balance_mismatch")),
        ("resolve", 0),
        ("resolve", 1),
        ("wait", 31),
        ("update", 0),
        ("add", code(0, "unknown_position")),
        ("add", code(1, "balance_mismatch")),
    ]


@pytest.mark.parametrize(
    ("overrides", "steps"),
    [
        pytest.param({"hysteresis_sec": 0.0}, _flap_steps(), id="no-hysteresis"),
        pytest.param(
            {"thresholds": PostureThresholds(debt_yellow=3.0, growth_yellow=3.0)},
            _flap_steps(),
            id="late-escalation",
        ),
        pytest.param({"red_lock_critical_streak": 3}, _relapse_steps(), id="streak-miscounted"),
        pytest.param(
            {"warmup_sec": 0.0}, [*_relapse_steps()[:6], ("wait", 1), ("update", 0)], id="no-warmup"
        ),
    ],
)
def test_the_checks_catch_a_broken_controller(
    overrides: dict[str, object], steps: list[tuple[str, int]]
) -> None:
    h = Harness(**overrides)
    with pytest.raises(AssertionError):
        run(h, steps)
