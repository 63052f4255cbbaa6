"""Crash points: named moments where the proof suites make the daemon die, exactly there.

The kill -9 suite sets ``CHAOS_CRASH_AT`` (e.g. ``submit.journaled:2,fill.journaled:1``): the daemon sends
itself SIGKILL the n-th time it passes the named point, a real kill -9 (no handler, no flush, no cleanup).
The deterministic simulation raises :class:`SimulatedCrash` there instead (a ``BaseException`` that nothing
in the daemon catches) and restarts a new daemon on the same run directory in the same process.

The points (:data:`POINTS`):

* ``submit.journaled``: the order's submit is in the journal, the venue call not made yet;
* ``submit.sent``: the venue took the order, its answer not journaled yet;
* ``protect.sent``: a stop or take-profit was placed on the venue (a replacement: the old leg not canceled
  yet), not journaled yet;
* ``cancel.sent``: the venue canceled an order, not journaled yet;
* ``fill.journaled``: a fill is in the journal, the book and protection not updated yet;
* ``reconcile.fetched``: reconcile read the venue's orders or positions, nothing compared or repaired yet;
* ``bar``: a closed bar is about to go through the engine;
* ``shutdown``: a graceful stop canceled the resting entries and is about to write the summary.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Final

__all__ = ["POINTS", "CrashPlan", "SimulatedCrash", "parse_crash_at"]

POINTS: Final = (
    "submit.journaled",
    "submit.sent",
    "protect.sent",
    "cancel.sent",
    "fill.journaled",
    "reconcile.fetched",
    "bar",
    "shutdown",
)


class SimulatedCrash(BaseException):
    """The daemon dies here (simulated time): not an Exception, so nothing in the daemon catches it."""

    def __init__(self, point: str, hit: int) -> None:
        super().__init__(f"simulated crash at {point} (pass {hit})")
        self.point = point
        self.hit = hit


def _kill_self(point: str, hit: int) -> None:
    del point, hit
    os.kill(os.getpid(), signal.SIGKILL)


def parse_crash_at(text: str) -> dict[str, int]:
    """``point:n[,point:n...]`` -> {point: n}; ValueError naming what is wrong."""
    out: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, count = part.partition(":")
        name = name.strip()
        if name not in POINTS:
            raise ValueError(f"unknown crash point {name!r}; known: {', '.join(POINTS)}")
        try:
            n = int(count) if count.strip() else 1
        except ValueError:
            raise ValueError(f"crash point {name}: {count!r} is not a pass number") from None
        if n < 1:
            raise ValueError(f"crash point {name}: the pass number must be >= 1, got {n}")
        out[name] = n
    return out


class CrashPlan:
    """Dies at the ``n``-th pass of each named point (the first one reached wins). ``action`` does the
    dying: SIGKILL of this process by default, :class:`SimulatedCrash` for simulated time."""

    __slots__ = ("_action", "_at", "passes")

    def __init__(self, at: Mapping[str, int], action: Callable[[str, int], None] | None = None) -> None:
        unknown = [p for p in at if p not in POINTS]
        if unknown:
            raise ValueError(f"unknown crash point(s) {unknown}; known: {', '.join(POINTS)}")
        self._at = dict(at)
        self._action = action or _kill_self
        self.passes: Counter[str] = Counter()

    @classmethod
    def simulated(cls, at: Mapping[str, int], armed: Callable[[], bool] | None = None) -> CrashPlan:
        """A plan that raises :class:`SimulatedCrash` (only while ``armed()``, when given: the simulation
        disarms it for its quiet end)."""

        def crash(point: str, hit: int) -> None:
            if armed is None or armed():
                raise SimulatedCrash(point, hit)

        return cls(at, crash)

    def hit(self, point: str) -> None:
        """Pass ``point``: die when it is this point's planned pass."""
        self.passes[point] += 1
        n = self.passes[point]
        if self._at.get(point) == n:
            self._action(point, n)
