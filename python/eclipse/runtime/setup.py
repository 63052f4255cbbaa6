"""Open the venue and the clocks of one run mode. The same daemon code runs on all four; only this differs:

* ``live``: a real exchange through ccxt (``EXCHANGE_ADAPTER`` binanceusdm / binance / coinbase), wall
  clock; needs ``SCALPER_DRY_RUN=0`` *and* ``--live`` *and* keys.
* ``paper`` (dry-run, the default with a real exchange configured): that exchange's public market data,
  fills by the paper venue's matching engine, wall clock.
* ``sim``: the exchange simulator through the real ccxt client, wall clock: the one at ``VENUE_API_URL``
  (``EXCHANGE_ADAPTER=sim``), or, when no exchange is configured at all, a simulator the daemon starts
  itself (the embedded BTC month or ``--data``) at ``--speed``, its state kept in the run directory.
* ``simulated-time``: the simulator's matching engine in-process (a paper venue over a replay of the
  data), a :class:`~eclipse.clock.SimClock`, no sockets, no sleeping (``--clock sim``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import aiohttp

from eclipse.clock import Clock, LiveClock, SimClock
from eclipse.config.settings import load_param
from eclipse.errors import ConfigError, EclipseError
from eclipse.market.bars import OhlcvFrame, embedded_dataset, load_ohlcv_csv
from eclipse.runtime.clocks import MarketClock
from eclipse.runtime.rundir import RunDir
from eclipse.venues.ccxt_factory import load_venue_settings
from eclipse.venues.ccxt_venue import CcxtVenue
from eclipse.venues.credentials import Credentials
from eclipse.venues.factory import open_venue
from eclipse.venues.paper import PaperVenue
from eclipse.venues.protocol import Venue
from eclipse.venues.ratelimit import LIMITS, scaled_limits
from eclipse.venues.replay_source import ReplaySource
from eclipse.venues.sim.config import DEFAULT_KEY, DEFAULT_SECRET, SimConfig
from eclipse.venues.sim.market import FeedConfig, FeedMode, MarketFeed
from eclipse.venues.sim.runner import SimServerThread

__all__ = [
    "HISTORY_BARS",
    "RunMode",
    "VenueSetup",
    "open_run_venue",
    "resolve_mode",
    "unified_symbol",
]

HISTORY_BARS = 12_300
"""1m bars of history the features need before trading: 200 hours for the 1h EMA-200 trend gate, plus
margin (so a fresh daemon does not block on ``trend_warmup`` for eight days)."""
EMBEDDED_START_BAR = 13_739
"""Where a replay of the embedded BTC month starts: 2022-01-10 12:00 UTC, 9.5 days in (enough history for
the 1h trend, and a stretch where a newcomer sees entries, stops and exits within the first minutes)."""
_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "EUR", "BTC", "ETH")
EMBEDDED_SYMBOL = "BTCUSDT"


class RunMode(StrEnum):
    """How the daemon runs (only the venue and the clock differ)."""

    LIVE = "live"
    PAPER = "paper"
    SIM = "sim"
    SIMULATED = "simulated-time"


def resolve_mode(env: Mapping[str, str], *, live_flag: bool, sim_clock: bool) -> RunMode:
    """The mode the knobs and flags ask for (ConfigError naming the knob when they disagree)."""
    adapter = env.get("EXCHANGE_ADAPTER", "").strip().lower()
    dry = env.get("SCALPER_DRY_RUN", "1").strip().lower() not in ("0", "false", "no", "off")
    if sim_clock:
        if live_flag:
            raise ConfigError("--clock", "sim", "wall with --live (simulated time never trades on a venue)")
        return RunMode.SIMULATED
    if adapter in ("", "sim"):
        if live_flag:
            raise ConfigError(
                "EXCHANGE_ADAPTER", adapter or "(unset)", "binanceusdm|binance|coinbase with --live"
            )
        return RunMode.SIM
    if dry:
        if live_flag:
            raise ConfigError("SCALPER_DRY_RUN", "1", "0 with --live (live trading is asked for twice)")
        return RunMode.PAPER
    if not live_flag:
        raise ConfigError(
            "SCALPER_DRY_RUN",
            "0",
            "--live as well to trade real money (asked for twice); leave SCALPER_DRY_RUN=1 for paper",
        )
    return RunMode.LIVE


def unified_symbol(symbol: str, *, linear: bool = True) -> str:
    """``BTCUSDT`` -> ``BTC/USDT:USDT`` (linear) or ``BTC/USDT`` (spot); a unified symbol is kept."""
    if "/" in symbol:
        return symbol
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            base = symbol[: -len(quote)]
            return f"{base}/{quote}:{quote}" if linear else f"{base}/{quote}"
    raise ConfigError("ACTIVE_SYMBOLS", symbol, f"a symbol ending in a known quote ({', '.join(_QUOTES)})")


@dataclass
class VenueSetup:
    """What a mode opened: the venue, market time, the wall clock, and how to close it all."""

    mode: RunMode
    venue: Venue
    name: str
    market: Clock
    """Market time (what the engine and the strategy read)."""
    wall: Clock
    resync: Callable[[], Awaitable[None]] | None
    """Re-anchors market time on the venue's (None in simulated time)."""
    sim: SimServerThread | None = None
    sim_clock: SimClock | None = None
    replay: ReplaySource | None = None
    speed: float = 1.0
    on_close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        """Close the venue (and what the mode opened with it), then stop a simulator the daemon started."""
        try:
            for fn in self.on_close:
                await fn()
            await self.venue.close()
        finally:
            if self.sim is not None:
                await asyncio.to_thread(self.sim.stop)


def _frames(data: Sequence[tuple[str, str]]) -> dict[str, OhlcvFrame]:
    if not data:
        return {EMBEDDED_SYMBOL: embedded_dataset()}
    return {sym.upper(): load_ohlcv_csv(Path(path)) for sym, path in data}


def _start_bar(frames: Mapping[str, OhlcvFrame], embedded: bool) -> int:
    """Bars of the data before the replay starts (history for the warm-up; at most half the data)."""
    if embedded:
        return EMBEDDED_START_BAR
    shortest = min(len(f) for f in frames.values())
    return min(HISTORY_BARS, shortest // 2)


async def _sim_market_ms(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(f"{url}/_sim/state", timeout=aiohttp.ClientTimeout(total=5)) as resp:
        body = json.loads(await resp.text())
    return int(body["market_time"])


async def open_run_venue(
    mode: RunMode,
    env: Mapping[str, str],
    run_dir: RunDir,
    *,
    symbols: Sequence[str],
    speed: float | None,
    data: Sequence[tuple[str, str]] = (),
    frames: Mapping[str, OhlcvFrame] | None = None,
    seed: int = 0,
) -> VenueSetup:
    """Open the venue of ``mode`` (see the module docstring); EclipseError naming what failed."""
    wall = LiveClock()
    if mode is RunMode.SIMULATED:
        given = dict(frames) if frames is not None else _frames(data)
        embedded = frames is None and not data
        frames = {unified_symbol(s): f for s, f in given.items()}
        missing = [s for s in symbols if s not in frames]
        if missing:
            raise EclipseError(f"no data for {', '.join(missing)} (give --data SYMBOL=FILE for each)")
        frames = {s: frames[s] for s in symbols}
        start = max(int(f.ts_ms[_start_bar({s: f}, embedded)]) for s, f in frames.items())
        clock = SimClock(start)
        source = ReplaySource(clock, frames, partial_forming=True)
        paper = PaperVenue(source, clock, refresh_ms=0, symbols=tuple(symbols))
        return VenueSetup(
            mode, paper, "replay (in-process)", clock, clock, None, sim_clock=clock, replay=source
        )
    if mode is RunMode.SIM and not env.get("VENUE_API_URL", "").strip():
        return await _builtin_sim(env, run_dir, symbols=symbols, speed=speed or 60.0, data=data, seed=seed)
    if mode is RunMode.SIM:
        settings = load_venue_settings({**env, "EXCHANGE_ADAPTER": "sim", "SCALPER_DRY_RUN": "0"})
        creds = settings.credentials(env) or Credentials(DEFAULT_KEY, DEFAULT_SECRET)

        def make(speed: float) -> Venue:
            return CcxtVenue(
                "binanceusdm",
                creds,
                wall,
                api_url=settings.api_url,
                timeout_ms=settings.timeout_ms,
                recv_window_ms=settings.recv_window_ms,
                weight_budget_pct=settings.weight_budget_pct,
                weight_reserve_pct=settings.weight_reserve_pct,
                rate_scale=max(
                    1.0, speed
                ),  # the simulator's limits are per market minute (sim-venue --speed)
            )

        return await _sim_clocks(mode, make, settings.api_url, f"sim {settings.api_url}", wall)
    venue = open_venue(
        env,
        wall,
        live_confirmed=mode is RunMode.LIVE,
        paper_store=run_dir.root / "paper.sqlite" if mode is RunMode.PAPER else None,
        symbols=tuple(symbols) if mode is RunMode.PAPER else None,
    )
    market = MarketClock(wall)

    async def resync() -> None:
        market.observe(await venue.fetch_time_ms())

    return VenueSetup(mode, venue, venue.name, market, wall, resync)


async def _builtin_sim(
    env: Mapping[str, str],
    run_dir: RunDir,
    *,
    symbols: Sequence[str],
    speed: float,
    data: Sequence[tuple[str, str]],
    seed: int,
) -> VenueSetup:
    frames = _frames(data)
    known = {unified_symbol(s) for s in frames}
    missing = [s for s in symbols if s not in known]
    if missing:
        raise EclipseError(
            f"the built-in simulator has no data for {', '.join(missing)}; set ACTIVE_SYMBOLS to "
            f"{','.join(sorted(frames))} or give --data SYMBOL=FILE"
        )
    limits = scaled_limits(LIMITS["binanceusdm"], max(1.0, speed))  # the simulator speaks Binance USD-M
    config = SimConfig(
        data=tuple((s, p) for s, p in data),
        speed=speed,
        # limits per market minute, as a real venue's: a replay at x S grants S times per wall minute
        weight_limit_1m=limits.weight_1m or 2400,
        order_limit_10s=limits.orders_10s or 300,
        order_limit_1m=limits.orders_1m or 1200,
        start_offset_bars=_start_bar(frames, not data),
        db_path=str(run_dir.sim_db),
        seed=seed,
    )
    # no rebase: market time is the data's own time, so the replay starts where the data says whatever
    # the hour (a rebased replay keeps the time of day and would start up to a day later)
    feed = MarketFeed(
        LiveClock(),
        FeedConfig(
            mode=FeedMode.REPLAY, speed=speed, rebase=False, start_offset_bars=config.start_offset_bars
        ),
    )
    for symbol, frame in frames.items():
        feed.add_ohlcv(symbol, frame)
    sim = SimServerThread(config, LiveClock(), feed)
    try:
        url = await asyncio.to_thread(sim.start)
    except OSError as exc:
        raise EclipseError(f"cannot start the built-in simulator: {exc.strerror or exc}") from None
    wall = LiveClock()
    reserve = float(str(load_param(env, "VENUE_WEIGHT_RESERVE_PCT")))

    def make(measured: float) -> Venue:
        return CcxtVenue(
            "binanceusdm",
            Credentials(DEFAULT_KEY, DEFAULT_SECRET),
            wall,
            api_url=url,
            rate_scale=max(1.0, speed),
            weight_reserve_pct=reserve,
        )

    setup = await _sim_clocks(RunMode.SIM, make, url, f"built-in simulator x{speed:g}", wall)
    setup.sim = sim
    return setup


async def _sim_clocks(
    mode: RunMode, make: Callable[[float], Venue], url: str, name: str, wall: Clock
) -> VenueSetup:
    """Market time of a simulator: read from its control endpoint, its speed measured over a short
    interval; ``make`` builds the venue for that speed."""
    session = aiohttp.ClientSession()
    try:
        t0, m0 = wall.now_ms(), await _sim_market_ms(session, url)
        await asyncio.sleep(0.25)
        t1, m1 = wall.now_ms(), await _sim_market_ms(session, url)
    except (aiohttp.ClientError, TimeoutError, KeyError, ValueError) as exc:
        await session.close()
        raise EclipseError(
            f"the simulator at {url} does not answer /_sim/state ({exc}); is it running?"
        ) from None
    speed = max(0.01, round((m1 - m0) / max(1, t1 - t0), 2)) if m1 > m0 else 1.0
    market = MarketClock(wall, speed=speed, market_ms=m1)
    venue = make(speed)

    async def resync() -> None:
        # on failure: extrapolate; the feed still only hands out bars the venue closed
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, KeyError, ValueError):
            market.observe(await _sim_market_ms(session, url))

    return VenueSetup(mode, venue, name, market, wall, resync, speed=speed, on_close=[session.close])
