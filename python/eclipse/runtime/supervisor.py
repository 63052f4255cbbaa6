"""One supervisor owns every loop of the daemon and their lifecycles (no loop is started or stopped by
anyone else: the original bot's runner/bootstrap/core overlap was a named source of races).

Each loop is an async function run as a task. A loop that raises is logged, emitted
(``runtime.loop_crashed``: loop, error class, message, crash count) and restarted after a backoff that
doubles up to a cap; ``max_crashes`` crashes of one loop within ``window_ms`` call ``on_crash_limit`` (the
daemon stops entries; ``runtime.loop_crash_limit``, severity critical) and the loop keeps being restarted,
so exits and protection carry on. A loop that returns has finished (``stopped``). :meth:`Supervisor.stop`
cancels every loop and waits for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from eclipse.clock import Clock
from eclipse.runtime.snapshot import LoopRow
from eclipse.telemetry import Telemetry

__all__ = ["LoopSpec", "Supervisor"]

_LOG = logging.getLogger("eclipse.runtime")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LoopSpec:
    """A supervised loop: ``body`` runs until it returns (finished) or raises (crash, restarted)."""

    name: str
    body: Callable[[], Awaitable[None]]
    critical: bool = True
    """A critical loop that is down makes the daemon unhealthy (``/healthz`` 503)."""


@dataclass
class _LoopState:
    spec: LoopSpec
    state: str = "starting"
    crashes: int = 0
    recent: deque[int] = field(default_factory=deque)
    last_ok_ms: int | None = None
    task: asyncio.Task[None] | None = None
    error: str = ""


class Supervisor:
    """Runs and restarts the daemon's loops (see the module docstring)."""

    def __init__(
        self,
        clock: Clock,
        telemetry: Telemetry,
        sleep: Sleep,
        *,
        max_crashes: int = 3,
        window_ms: int = 600_000,
        backoff_sec: float = 0.5,
        backoff_max_sec: float = 30.0,
        on_crash_limit: Callable[[str], None] | None = None,
    ) -> None:
        self._clock = clock
        self._telemetry = telemetry
        self._sleep = sleep
        self._max_crashes = max_crashes
        self._window_ms = window_ms
        self._backoff = backoff_sec
        self._backoff_max = backoff_max_sec
        self._on_limit = on_crash_limit
        self._loops: dict[str, _LoopState] = {}
        self._stopping = False
        self.crash_limited: set[str] = set()

    def start(self, spec: LoopSpec) -> None:
        """Start supervising ``spec`` (a name is started once)."""
        if spec.name in self._loops:
            raise ValueError(f"loop {spec.name!r} already supervised")
        st = _LoopState(spec)
        self._loops[spec.name] = st
        st.task = asyncio.get_running_loop().create_task(self._run(st), name=f"eclipse-{spec.name}")

    def beat(self, name: str) -> None:
        """A loop reports progress (its last good moment, shown in the status)."""
        st = self._loops.get(name)
        if st is not None:
            st.last_ok_ms = self._clock.now_ms()

    async def _run(self, st: _LoopState) -> None:
        delay = self._backoff
        while not self._stopping:
            st.state = "running"
            try:
                await st.spec.body()
            except asyncio.CancelledError:
                st.state = "stopped"
                raise
            except Exception as exc:  # a crashed loop is restarted; nothing else may take the daemon down
                self._crashed(st, exc)
                st.state = "restarting"
                await self._sleep(delay)
                delay = min(delay * 2, self._backoff_max)
                continue
            st.state = "stopped"
            return
        st.state = "stopped"

    def _crashed(self, st: _LoopState, exc: Exception) -> None:
        now = self._clock.now_ms()
        st.crashes += 1
        st.error = f"{type(exc).__name__}: {exc}"
        st.recent.append(now)
        while st.recent and now - st.recent[0] > self._window_ms:
            st.recent.popleft()
        _LOG.error("loop %s crashed (%d): %s", st.spec.name, st.crashes, st.error, exc_info=exc)
        self._telemetry.emit(
            "runtime.loop_crashed",
            loop=st.spec.name,
            error=type(exc).__name__,
            detail=str(exc)[:300],
            crashes=st.crashes,
            severity="error",
        )
        if len(st.recent) >= self._max_crashes and st.spec.name not in self.crash_limited:
            self.crash_limited.add(st.spec.name)
            self._telemetry.emit(
                "runtime.loop_crash_limit",
                loop=st.spec.name,
                crashes=len(st.recent),
                window_sec=self._window_ms / 1000,
                action="entries_stopped",
                severity="critical",
            )
            if self._on_limit is not None:
                self._on_limit(st.spec.name)

    def rows(self) -> tuple[LoopRow, ...]:
        """Each loop's state for the status."""
        return tuple(LoopRow(n, s.state, s.crashes, s.last_ok_ms) for n, s in self._loops.items())

    def down(self) -> list[str]:
        """Critical loops that are not running (crashed, restarting or finished early)."""
        return [n for n, s in self._loops.items() if s.spec.critical and s.state != "running"]

    def finished(self, name: str) -> bool:
        """True once loop ``name`` returned by itself."""
        st = self._loops.get(name)
        return st is not None and st.task is not None and st.task.done()

    async def stop(self) -> None:
        """Cancel every loop and wait for them to end."""
        self._stopping = True
        tasks = [s.task for s in self._loops.values() if s.task is not None and not s.task.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
