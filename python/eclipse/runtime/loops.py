"""The daemon's two drivers over the same :class:`~eclipse.runtime.daemon.Daemon`:

* :func:`run_wall` (live, paper, sim): the supervisor's loops on the wall clock: ``bars`` (the polling
  feed -> ``on_bar``), ``tick`` (``engine.tick()`` at least every ``PROTECTION_CHECK_SEC`` of market time),
  ``reconcile``, ``telemetry`` (flush), ``status`` (the terminal and the status server's health), and
  ``duration`` when asked. Engine calls are serialized by the daemon's engine lock: the loops never overlap
  inside the engine.
* :func:`run_simulated` (simulated time): one deterministic stepper moving the :class:`SimClock` from bar
  close to bar close; between closes, while a position or an order is open, it ticks every
  ``PROTECTION_CHECK_SEC`` like the wall driver; reconcile every ``RECONCILE_INTERVAL_SEC`` of market time.
  No sockets, no sleeping: the same seed and data give the same journal and telemetry, record for record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import numpy as np

from eclipse.clock import perf_ns
from eclipse.contracts import IntentKind
from eclipse.market.bars import BAR_MS, Bar
from eclipse.runtime.daemon import Daemon
from eclipse.runtime.feed import PollingBarFeed
from eclipse.runtime.snapshot import StatusSnapshot
from eclipse.runtime.supervisor import LoopSpec, Supervisor
from eclipse.venues.errors import VenueError

__all__ = ["StatusView", "run_simulated", "run_wall"]

_STATUS_SEC = 0.25
_FLUSH_SEC = 1.0
_STALE_BARS = 3
_YIELD_EVERY = 100
"""Simulated time hands the event loop a turn every this many closes (signals, --duration)."""


class StatusView(Protocol):
    """Where the status goes while the daemon runs (the terminal display)."""

    def update(self, snap: StatusSnapshot) -> None:
        """Show ``snap``."""
        ...


async def run_wall(daemon: Daemon, view: StatusView | None = None) -> None:
    """Run the supervised loops until :attr:`Daemon.stop_event` is set."""
    setup, engine, telemetry = daemon.setup, daemon.engine, daemon.telemetry
    assert setup is not None
    assert engine is not None
    assert telemetry is not None
    from eclipse.runtime.clocks import MarketClock

    market = setup.market
    assert isinstance(market, MarketClock)
    s = daemon.settings
    feed = PollingBarFeed(
        setup.venue, daemon.symbols, market, asyncio.sleep, settle_sec=s.bar_settle_sec, resync=setup.resync
    )
    for symbol, last in daemon.feed_start.items():
        feed.mark_seen(symbol, last)
    sup = Supervisor(
        setup.wall,
        telemetry,
        asyncio.sleep,
        max_crashes=s.max_loop_crashes,
        on_crash_limit=daemon.crash_limit,
    )
    lock = daemon.engine_lock
    reliability = daemon.reliability
    assert reliability is not None
    empty_polls = 0

    async def bars() -> None:
        nonlocal empty_polls
        while True:
            try:
                closed = await feed.next_bars()
            except VenueError as err:  # the venue is busy or unreachable: not a crash, try again
                telemetry.emit(
                    "data.fetch_failed", kind=err.kind.value, detail=str(err)[:200], severity="warning"
                )
                await asyncio.sleep(min(30.0, max(1.0, err.retry_after_s or 1.0)))
                continue
            sup.beat("bars")
            for failed in feed.errors:
                telemetry.emit(
                    "data.fetch_failed", kind=failed.kind.value, detail=str(failed)[:200], severity="warning"
                )
            if not closed:
                empty_polls += 1
                if setup.sim is not None and empty_polls >= 2 and setup.sim.ctx.feed.ended:
                    daemon.request_stop("the replay reached the end of its data")
                continue
            empty_polls = 0
            async with lock:
                daemon.before_close()
                for cb in closed:
                    try:
                        await daemon.handle_bar(cb.symbol, cb.bar, market.speed)
                    except Exception as exc:  # one symbol's failure must not lose the others' bars
                        daemon.bar_failed(cb.symbol, cb.bar, exc)
                    if daemon.stop_event.is_set():
                        break
                daemon.after_close()
            if daemon.stop_event.is_set():
                return

    async def tick() -> None:
        # twice per PROTECTION_CHECK_SEC of market time (a check run by a bar resets the engine's timer),
        # at most once a wall second at real time; check_due() keeps the venue calls to one per period
        interval = max(0.05, min(1.0, market.wall_seconds(s.protection_check_sec) / 2))
        while True:
            await asyncio.sleep(interval)
            async with lock:
                await engine.tick()
                daemon.guards_tick()
            sup.beat("tick")

    async def reconcile() -> None:
        # the reliability loop runs the checks that are due (each has its period) as one machine cycle
        interval = max(0.5, market.wall_seconds(daemon.reliability_settings.inflight_check_sec))
        reliability.cycle_period_ms = round(interval * market.speed * 1000)  # market time between cycles
        while True:
            await asyncio.sleep(interval)
            async with lock:
                await reliability.run_cycle()
            sup.beat("reconcile")

    async def flush() -> None:
        while True:
            await asyncio.sleep(_FLUSH_SEC)
            daemon.flush_telemetry()
            sup.beat("telemetry")

    async def status() -> None:
        while True:
            snap = daemon.snapshot()
            daemon.publish(snap)
            if view is not None:
                view.update(snap)
            sup.beat("status")
            await asyncio.sleep(_STATUS_SEC)

    def health() -> tuple[bool, str]:
        if daemon.stop_event.is_set():
            return True, f"stopping: {daemon.stop_reason}"
        down = sup.down()
        if down:
            return False, f"loops down: {', '.join(down)}"
        last = daemon.observer.last_bar_ms
        limit = _STALE_BARS * BAR_MS + round(s.bar_settle_sec * 1000)
        since = last if last is not None else daemon.started_ms
        if market.now_ms() - since > limit:
            return False, f"no closed bar for {(market.now_ms() - since) / 1000:.0f} s (market time)"
        return True, "ok"

    daemon.health = health
    daemon.loops_view = sup.rows
    loops: list[tuple[str, Callable[[], Awaitable[None]], bool]] = [
        ("bars", bars, True),
        ("tick", tick, True),
        ("reconcile", reconcile, True),
        ("telemetry", flush, False),
        ("status", status, False),
    ]
    if daemon.options.duration_sec is not None:
        seconds = daemon.options.duration_sec

        async def duration() -> None:
            await asyncio.sleep(seconds)
            daemon.request_stop(f"--duration {seconds:g}s reached")

        loops.append(("duration", duration, False))
    for name, body, critical in loops:
        sup.start(LoopSpec(name, body, critical))
    try:
        await daemon.stop_event.wait()
    finally:
        # loops stop between engine calls, never inside one (a stop being placed is placed, then the loop
        # ends): the lock is taken first, so a loop holding it finishes its call
        async with lock:
            await sup.stop()
        if view is not None:
            view.update(daemon.snapshot())


async def run_simulated(daemon: Daemon, view: StatusView | None = None, *, view_every: int = 500) -> None:
    """Step through the replay's bars in simulated time until the data ends or a stop is asked for."""
    setup, engine = daemon.setup, daemon.engine
    assert setup is not None
    assert engine is not None
    clock, source = setup.sim_clock, setup.replay
    assert clock is not None
    assert source is not None
    s = daemon.settings
    settle = round(s.bar_settle_sec * 1000)
    check = max(1, round(s.protection_check_sec * 1000))
    reliability = daemon.reliability
    assert reliability is not None
    frames = {sym: source.frame(sym) for sym in daemon.symbols}
    cursor = {sym: daemon.feed_start.get(sym, clock.now_ms() - BAR_MS) for sym in daemon.symbols}
    index = {
        sym: int(np.searchsorted(frames[sym].ts_ms, cursor[sym], side="right")) for sym in daemon.symbols
    }
    daemon.health = lambda: (True, "ok")
    duration = daemon.options.duration_sec
    deadline = perf_ns() + round(duration * 1e9) if duration is not None else None
    closes = 0
    while not daemon.stop_event.is_set():
        closes += 1
        if closes % _YIELD_EVERY == 0:
            await asyncio.sleep(
                0
            )  # let a signal handler run (Ctrl-C); touches no record: still deterministic
            if deadline is not None and perf_ns() >= deadline:
                daemon.request_stop(f"--duration {duration:g}s reached")
                break
        pending = [(int(frames[sym].ts_ms[i]), sym) for sym, i in index.items() if i < len(frames[sym])]
        if not pending:
            daemon.request_stop("the replay reached the end of its data")
            break
        open_ms = min(t for t, _ in pending)
        close_ms = open_ms + BAR_MS
        # between bars: the protection check while a position is not (yet) covered by a stop or an entry or
        # exit is in flight; a covered position waits for the bar (the in-process venue fills its stop on
        # the price path either way, and the bar's own check books it)
        t = clock.now_ms()
        while t + check < close_ms + settle and _at_stake(daemon):
            t += check
            clock.set_ms(t)
            await engine.tick()
        if close_ms + settle > clock.now_ms():
            clock.set_ms(close_ms + settle)
        daemon.before_close()
        for ts, sym in sorted(pending):
            if ts != open_ms:
                continue
            f, i = frames[sym], index[sym]
            bar = Bar(
                ts, float(f.open[i]), float(f.high[i]), float(f.low[i]), float(f.close[i]), float(f.volume[i])
            )
            await daemon.handle_bar(sym, bar, None)
            index[sym] = i + 1
        daemon.after_close()
        await reliability.run_cycle()  # the checks that are due, by market time
        if view is not None and daemon.observer.bars % view_every == 0:
            view.update(daemon.snapshot())
    if view is not None:
        view.update(daemon.snapshot())


def _at_stake(daemon: Daemon) -> bool:
    """A position without a confirmed stop, or an entry or exit order still working."""
    engine = daemon.engine
    assert engine is not None
    for order in engine.orders.live():
        if order.kind in (IntentKind.ENTRY, IntentKind.EXIT, IntentKind.FLATTEN):
            return True
    return any(
        engine.protection.tracker(symbol).state != "protected" for symbol in engine.book.open_positions()
    )
