"""The reconcile cycle (``specs/reconcile.toml``): idle -> fetching -> diffing -> repairing -> idle, with a
failed fetch or repair going to a capped exponential backoff read from the injected clock.

:class:`ReconcileMachine` is the declarative definition, :data:`RECONCILE` its compiled table, and
:class:`ReconcileCycle` drives it through a :class:`~eclipse.machines.table.Runner`.

Backoff: after the n-th consecutive failed cycle the next attempt is due ``min(max_backoff, base_backoff *
2^(n-1))`` after the failure (no jitter: one reconcile loop per account, and replays stay deterministic); a
cycle that completes (clean diff, or repair done) resets n. Defaults: base 2 s, cap 60 s (a reconcile loop
runs every 5-60 s, so an outage costs at most about one skipped minute once the venue is back).

Convergence (invariant ``converges_within_k_cycles``): once faults stop at time t (no failure and no new drift
after t), at most :data:`K_CYCLES` = 2 cycles started after t are needed: the first sees all the drift and
repairs it, the second verifies with a clean diff. In time, that is at most ``max_backoff`` plus two cycles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from statemachine import State, StateMachine

from eclipse.clock import Clock
from eclipse.machines.table import CompiledMachine, Outcome, Refusal, Runner, compile_class

__all__ = [
    "BACKOFF_FACTOR",
    "K_CYCLES",
    "RECONCILE",
    "OnEvent",
    "ReconcileCycle",
    "ReconcileMachine",
    "backoff_delay_ms",
]

OnEvent = Callable[[Mapping[str, object]], None]
"""Telemetry sink: receives one structured event (``{"event": "<machine>.<name>", ...}``)."""

K_CYCLES: Final = 2
"""Cycles started after the faults stop within which a clean diff is reached (``k_cycles`` in
``specs/reconcile.toml``; ``eclipse specs check`` compares the two)."""
BACKOFF_FACTOR: Final = 2
"""Each consecutive failed cycle multiplies the delay by this (``backoff_factor`` in the spec)."""


class ReconcileMachine(StateMachine):
    """One reconcile cycle at a time; mirrors ``specs/reconcile.toml`` row for row."""

    NAME = "reconcile"
    TERMINAL: frozenset[str] = frozenset()
    IN_FLIGHT = frozenset({"fetching", "repairing"})

    idle = State(initial=True)
    fetching = State()
    diffing = State()
    repairing = State()
    backoff = State()

    start = idle.to(fetching)
    fetched = fetching.to(diffing)
    fetch_failed = fetching.to(backoff)
    diffed = diffing.to(idle, cond="clean") | diffing.to(repairing, cond="dirty")
    repaired = repairing.to(idle)
    repair_failed = repairing.to(backoff)
    tick = backoff.to(idle, cond="due") | backoff.to(backoff, cond="not_due")

    def clean(self, clean: bool = False) -> bool:
        """Guard: the diff found no drift."""
        return clean

    def dirty(self, clean: bool = False) -> bool:
        """Guard: the diff found drift to repair."""
        return not clean

    def due(self, due: bool = False) -> bool:
        """Guard: the clock has reached the next attempt."""
        return due

    def not_due(self, due: bool = False) -> bool:
        """Guard: the backoff delay has not elapsed yet."""
        return not due


RECONCILE: Final[CompiledMachine] = compile_class(ReconcileMachine)
"""The compiled table of :class:`ReconcileMachine` (compiled once at import)."""


def _is_true(ctx: object) -> bool:
    return ctx is True


def _is_false(ctx: object) -> bool:
    return ctx is False


_GUARDS: Final[Mapping[str, Callable[[object], bool]]] = {
    "clean": _is_true,
    "dirty": _is_false,
    "due": _is_true,
    "not_due": _is_false,
}


def backoff_delay_ms(failures: int, base_ms: int, max_ms: int) -> int:
    """Delay after the ``failures``-th consecutive failed cycle:
    ``min(max_ms, base_ms * BACKOFF_FACTOR^(failures-1))``."""
    if failures <= 0:
        return 0
    delay = base_ms
    for _ in range(failures - 1):  # at most ~log2(max_ms / base_ms) + 1 rounds before the cap
        if delay >= max_ms:
            break
        delay *= BACKOFF_FACTOR
    return min(max_ms, delay)


class ReconcileCycle:
    """Drives the reconcile machine of one account.

    Event methods return the :class:`~eclipse.machines.table.Outcome`; a refused event (``start`` during a
    cycle, ``repaired`` while fetching, ...) never raises and is reported to ``on_event`` as
    ``reconcile.transition_refused``. Entering backoff emits ``reconcile.backoff``; the first cycle completed
    after failures emits ``reconcile.recovered``. ``table`` is the compiled machine to run (default
    :data:`RECONCILE`; a test may run one compiled from a changed spec).
    """

    __slots__ = (
        "_base_ms",
        "_clock",
        "_max_ms",
        "_on_event",
        "_runner",
        "clean_cycles",
        "consecutive_failures",
        "cycles_completed",
        "cycles_started",
        "last_clean_ms",
        "next_attempt_ms",
    )

    def __init__(
        self,
        clock: Clock,
        base_backoff_sec: float = 2.0,
        max_backoff_sec: float = 60.0,
        on_event: OnEvent | None = None,
        table: CompiledMachine | None = None,
    ) -> None:
        base_ms, max_ms = round(base_backoff_sec * 1000), round(max_backoff_sec * 1000)
        if base_ms <= 0 or max_ms < base_ms:
            raise ValueError(
                f"need 0 < base_backoff_sec <= max_backoff_sec, got {base_backoff_sec}, {max_backoff_sec}"
            )
        self._clock = clock
        self._base_ms = base_ms
        self._max_ms = max_ms
        self._on_event = on_event
        self._runner = Runner(table if table is not None else RECONCILE, _GUARDS, self._refused)
        self.consecutive_failures = 0
        """Failed cycles since the last completed one."""
        self.cycles_started = 0
        """Cycles started so far."""
        self.cycles_completed = 0
        """Cycles that ended in idle (clean diff or repair done)."""
        self.clean_cycles = 0
        """Cycles that ended with a clean diff."""
        self.last_clean_ms: int | None = None
        """When the last clean diff happened."""
        self.next_attempt_ms: int | None = None
        """While in backoff: when the next tick may leave it; None otherwise."""

    @property
    def state(self) -> str:
        """Current state of the machine."""
        return self._runner.state

    @property
    def base_backoff_ms(self) -> int:
        """Delay after the first failure."""
        return self._base_ms

    @property
    def max_backoff_ms(self) -> int:
        """Cap of the delay."""
        return self._max_ms

    def can_start(self) -> bool:
        """True when :meth:`start` would be accepted now (idle)."""
        return self._runner.state == "idle"

    def start(self) -> Outcome:
        """Begin a cycle (idle only)."""
        out = self._runner.fire("start")
        if out.accepted:
            self.cycles_started += 1
        return out

    def fetched(self) -> Outcome:
        """The venue snapshot arrived."""
        return self._runner.fire("fetched")

    def fetch_failed(self) -> Outcome:
        """The venue queries failed or timed out: back off."""
        return self._fail("fetch_failed")

    def diffed(self, clean: bool) -> Outcome:
        """The diff is done; ``clean`` when local belief equals venue truth."""
        out = self._runner.fire("diffed", bool(clean))
        if out.accepted and out.target == "idle":
            self.clean_cycles += 1
            self.last_clean_ms = self._clock.now_ms()
            self._completed()
        return out

    def repaired(self) -> Outcome:
        """The repairs were applied."""
        out = self._runner.fire("repaired")
        if out.accepted:
            self._completed()
        return out

    def repair_failed(self) -> Outcome:
        """A repair failed or timed out: back off."""
        return self._fail("repair_failed")

    def tick(self) -> bool:
        """Periodic tick: in backoff, returns to idle once the clock reaches :attr:`next_attempt_ms`. Returns
        True when it left backoff; elsewhere it does nothing (a periodic tick is not a refusal)."""
        if self._runner.state != "backoff" or self.next_attempt_ms is None:
            return False
        out = self._runner.fire("tick", self._clock.now_ms() >= self.next_attempt_ms)
        if out.target == "idle":
            self.next_attempt_ms = None
            return True
        return False

    # --- internals ------------------------------------------------------------------------------------------
    def _fail(self, event: str) -> Outcome:
        out = self._runner.fire(event)
        if out.accepted:
            self.consecutive_failures += 1
            delay = backoff_delay_ms(self.consecutive_failures, self._base_ms, self._max_ms)
            self.next_attempt_ms = self._clock.now_ms() + delay
            self._emit(
                "reconcile.backoff",
                trigger=event,
                failures=self.consecutive_failures,
                delay_ms=delay,
                next_attempt_ms=self.next_attempt_ms,
            )
        return out

    def _completed(self) -> None:
        self.cycles_completed += 1
        if self.consecutive_failures:
            self._emit("reconcile.recovered", after_failures=self.consecutive_failures)
        self.consecutive_failures = 0

    def _refused(self, refusal: Refusal) -> None:
        self._emit(
            "reconcile.transition_refused", state=refusal.state, trigger=refusal.event, reason=refusal.reason
        )

    def _emit(self, name: str, **fields: object) -> None:
        if self._on_event is not None:
            self._on_event({"event": name, "ts_ms": self._clock.now_ms(), **fields})
