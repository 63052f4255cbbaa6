"""Property tests of the risk posture: random contradictions opened and resolved, clock moves and updates,
checked after every update against the rules of specs/posture.toml.

Invariants: never_blocks_exits_or_protection, escalation_immediate, no_flapping, warmup_before_normal,
red_lock_critical_streak.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eclipse.clock import SimClock
from eclipse.machines.debt import DEFAULT_WEIGHTS, BeliefDebt
from eclipse.machines.posture import KNOBS, LEVEL, Posture, PostureController, PostureThresholds

HYST_MS, WARMUP_MS, STREAK = 30_000, 60_000, 2
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
        """Every invariant, after one update."""
        now = self.clock.now_ms()
        target = TH.level(self.belief.debt(), self.belief.growth_per_min())
        self.targets.append((now, target))
        posture, knobs = self.ctl.posture, self.ctl.knobs()
        # never_blocks_exits_or_protection
        assert self.ctl.exits_allowed()
        assert self.ctl.protection_allowed()
        assert knobs.exits_allowed
        assert knobs.protection_allowed
        # escalation_immediate
        assert knobs.at_least_as_strict_as(KNOBS[target]), (posture, target)
        for event in self.events[self.seen :]:
            self.seen += 1
            if event["event"] == "posture.red_lock_critical":
                continue
            assert event["event"] == "posture.changed", event
            src, dst = Posture(str(event["from"])), Posture(str(event["to"]))
            if src is Posture.POST_RED_WARMUP and dst is not Posture.RED_LOCK:
                # warmup_before_normal
                assert now - self.last_change_ms >= WARMUP_MS
                self.streak = 0
            if src is Posture.RED_LOCK:
                assert dst is Posture.POST_RED_WARMUP
            going_down = src is Posture.RED_LOCK or (
                src in LEVEL and dst in LEVEL and LEVEL[dst] < LEVEL[src]
            )
            if going_down:
                # no_flapping: a full window since the last change, and the updates have seen the target
                # below the level without interruption for a full window
                assert now - self.last_change_ms >= HYST_MS, (src, dst, now, self.last_change_ms)
                calm_since = now
                for ts, t in reversed(self.targets):
                    if LEVEL[t] >= LEVEL[src]:
                        break
                    calm_since = ts
                assert now - calm_since >= HYST_MS, (src, now, calm_since)
            if dst is Posture.RED_LOCK:
                # red_lock_critical_streak
                self.streak += 1
                critical = [e for e in self.events[self.seen :] if e["event"] == "posture.red_lock_critical"]
                assert bool(critical) == (self.streak >= STREAK), (self.streak, critical)
                if critical:
                    assert critical[0]["streak"] == self.streak
            self.last_change_ms = now
        assert self.ctl.red_lock_streak == self.streak


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
