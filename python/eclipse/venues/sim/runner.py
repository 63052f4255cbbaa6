"""Build and run the simulator server: :func:`build_context` (feed, store, engines, faults from a
:class:`~eclipse.venues.sim.config.SimConfig`), then serve it in the current event loop
(:func:`start_server`; :class:`ListenError` when it cannot bind) or in a background thread with its own
loop (:class:`SimServerThread`, for tests, benches and synchronous callers).

    with SimServerThread(SimConfig(stepped=True)) as sim:
        ex = ccxt.binanceusdm({"urls": {"api": sim.binance_urls()}, ...})
"""

from __future__ import annotations

import asyncio
import errno
import gzip
import json
import os
import socket
import threading
import urllib.request
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from eclipse.clock import Clock, LiveClock
from eclipse.errors import DataError, EclipseError
from eclipse.market.bars import embedded_dataset, load_ohlcv_csv
from eclipse.venues.sim.config import SimConfig, split_symbol
from eclipse.venues.sim.engine import EngineConfig, MatchingEngine
from eclipse.venues.sim.faults import FaultInjector
from eclipse.venues.sim.instruments import default_instruments, guess_instrument
from eclipse.venues.sim.market import FeedConfig, FeedMode, MarketFeed
from eclipse.venues.sim.model import InstrumentSpec
from eclipse.venues.sim.server import SimContext, create_app
from eclipse.venues.sim.store import SimStore, StoreError
from eclipse.venues.types import MarketKind

__all__ = [
    "ListenError",
    "RunningServer",
    "SimServerThread",
    "binance_urls",
    "build_context",
    "build_feed",
    "new_event_loop",
    "split_symbol",
    "start_server",
]

_BINANCE_API_KEYS = {
    "/fapi/v1": ("fapiPublic", "fapiPrivate"),
    "/fapi/v2": ("fapiPublicV2", "fapiPrivateV2"),
    "/fapi/v3": ("fapiPublicV3", "fapiPrivateV3"),
    "/futures/data": ("fapiData",),
    "/api/v3": ("public", "private"),
    "/api/v1": ("v1",),
    "/sapi/v1": ("sapi",),
    "/sapi/v2": ("sapiV2",),
    "/sapi/v3": ("sapiV3",),
    "/sapi/v4": ("sapiV4",),
    "/dapi/v1": ("dapiPublic", "dapiPrivate"),
    "/dapi/v2": ("dapiPublicV2", "dapiPrivateV2"),
    "/futures/data/dapi": ("dapiData",),
    "/eapi/v1": ("eapiPublic", "eapiPrivate"),
    "/papi/v1": ("papi",),
    "/papi/v2": ("papiV2",),
}


def binance_urls(base_url: str) -> dict[str, str]:
    """ccxt ``urls['api']`` for Binance pointing every API family at ``base_url`` (paths kept)."""
    return {name: base_url + path for path, names in _BINANCE_API_KEYS.items() for name in names}


class ListenError(EclipseError, OSError):
    """The server cannot listen on the configured host and port (in use, not an address of this machine,
    no permission, unknown host name); an :class:`OSError` too."""


def _listen_error(exc: OSError, host: str, port: int) -> ListenError:
    """A one-line explanation of a failed bind of ``host:port``."""
    where = f"cannot listen on {f'[{host}]' if ':' in host else host}:{port}"
    if isinstance(exc, socket.gaierror):
        return ListenError(f"{where}: unknown host name {host!r} (use an IP address such as 127.0.0.1)")
    if exc.errno == errno.EADDRINUSE:
        return ListenError(f"{where}: the port is already in use (choose another port, or 0 for a free one)")
    if exc.errno == errno.EADDRNOTAVAIL:
        return ListenError(f"{where}: {host} is not an address of this machine (use 127.0.0.1)")
    if exc.errno == errno.EACCES:
        return ListenError(f"{where}: permission denied (ports below 1024 need privileges; use a higher one)")
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return ListenError(f"{where}: {reason}")


def _open_store(db_path: str) -> SimStore:
    """The store at ``db_path``; StoreError (one line) when the path cannot hold it."""
    path = Path(db_path)
    hint = "give a writable file path, e.g. sim.db"
    if path.is_dir():
        raise StoreError(f"{path}: is a directory; give a file path such as {path / 'sim.db'}")
    parent = path.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise StoreError(f"{path}: cannot create the store, {parent} {what}; {hint}")
    try:
        return SimStore(path)
    except OSError as exc:
        raise StoreError(f"{path}: cannot open ({exc.strerror or exc}); {hint}") from None


def _is_trades_file(path: str) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as gz:
            head = gz.read(4096)
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").lstrip("\ufeff").lower()
    cols = {c.strip() for c in first.split(",")}
    return "price" in cols and "quantity" in cols


def build_feed(config: SimConfig, clock: Clock) -> MarketFeed:
    """The market feed of ``config``: its data sources, or the embedded BTC month as ``BTCUSDT``."""
    feed_config = FeedConfig(
        mode=FeedMode.STEPPED if config.stepped else FeedMode.REPLAY,
        speed=config.speed,
        start_offset_bars=config.start_offset_bars,
    )
    feed = MarketFeed(clock, feed_config)
    if not config.data:
        feed.add_ohlcv("BTCUSDT", embedded_dataset())
    for symbol, path in config.data:
        try:
            trades = _is_trades_file(path)
        except FileNotFoundError:
            raise DataError(f"{path}: cannot read: no such file") from None
        except IsADirectoryError:
            raise DataError(f"{path}: cannot read: is a directory, not a CSV file") from None
        except OSError as exc:
            raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
        except EOFError as exc:
            raise DataError(f"{path}: cannot read ({exc})") from None
        if trades:
            feed.add_trades(symbol, path)
        else:
            feed.add_ohlcv(symbol, load_ohlcv_csv(path))
    return feed


def _listing(feed: MarketFeed, kind: MarketKind) -> dict[str, InstrumentSpec]:
    defaults = default_instruments(kind)
    out: dict[str, InstrumentSpec] = {}
    for symbol in feed.symbols():
        if symbol in defaults:
            out[symbol] = defaults[symbol]
            continue
        try:
            base, quote = split_symbol(symbol)
            out[symbol] = guess_instrument(symbol, base, quote, kind, Decimal(str(feed.last_price(symbol))))
        except ValueError as exc:
            raise DataError(str(exc)) from None
    return out


def build_context(config: SimConfig, clock: Clock, feed: MarketFeed | None = None) -> SimContext:
    """Feed, store, both engines and the fault injector of ``config``, restored from its db if any."""
    store = _open_store(config.db_path) if config.db_path else None
    try:
        if feed is None:
            feed = build_feed(config, clock)
        saved = store.load_feed() if store is not None else None
        if saved is not None:
            feed.restore(saved)
        futures_specs = _listing(feed, MarketKind.LINEAR)
        spot_specs = _listing(feed, MarketKind.SPOT)
        faults = FaultInjector(
            config.faults,
            config.seed,
            step_of=lambda sym: futures_specs[sym].step_size if sym in futures_specs else Decimal(0),
        )
        opts = dict(config.engine_options)
        ids = {"algo_ids": config.algo_ids}
        futures_cfg = EngineConfig.futures(**{**ids, **opts.get("futures", {})})
        spot_cfg = EngineConfig.spot(**{**ids, **opts.get("spot", {})})
        futures = MatchingEngine(futures_specs, feed, clock, futures_cfg, faults=faults, store=store)
        spot = MatchingEngine(spot_specs, feed, clock, spot_cfg, faults=faults, store=store)
    except BaseException:
        if store is not None:
            store.close()
        raise
    return SimContext(config, clock, feed, futures, spot, futures_specs, spot_specs, faults, store)


class RunningServer:
    """A server started in the current loop: ``url``, ``ctx`` and ``await stop()``."""

    def __init__(self, runner: web.AppRunner, site: web.TCPSite, ctx: SimContext, url: str) -> None:
        self._runner = runner
        self._site = site
        self.ctx = ctx
        self.url = url

    async def stop(self) -> None:
        """Stop serving, record the market time and close the store."""
        await self._runner.cleanup()
        if self.ctx.store is not None:
            self.ctx.store.save_feed(self.ctx.feed.state())
            self.ctx.store.close()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop for the server: uvloop's where it is installed (about 1.3-1.5x the requests per
    second of the stock loop on this workload), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


async def start_server(
    config: SimConfig, clock: Clock | None = None, feed: MarketFeed | None = None, tick_ms: int = 100
) -> RunningServer:
    """Build the simulator and serve it on ``config.host:config.port`` (0 = a free port) in this loop."""
    ctx = build_context(config, clock or LiveClock(), feed)
    app = create_app(ctx, tick_ms)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        if ctx.store is not None:
            ctx.store.close()
        raise _listen_error(exc, config.host, config.port) from None
    addresses = runner.addresses
    port = int(addresses[0][1]) if addresses else config.port
    host = config.host if ":" not in config.host else f"[{config.host}]"
    return RunningServer(runner, site, ctx, f"http://{host}:{port}")


class SimServerThread:
    """The simulator in a daemon thread with its own event loop: ``start()`` returns the URL, ``stop()``
    shuts it down (idempotent). Usable as a context manager."""

    def __init__(
        self,
        config: SimConfig,
        clock: Clock | None = None,
        feed: MarketFeed | None = None,
        tick_ms: int = 100,
    ) -> None:
        self.config = config
        self._clock = clock
        self._feed = feed
        self._tick_ms = tick_ms
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: RunningServer | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234`` (RuntimeError before start)."""
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return self._server.url

    @property
    def ctx(self) -> SimContext:
        """The running server's context (for in-process inspection; use it from the server thread only
        through :meth:`call`)."""
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return self._server.ctx

    def binance_urls(self) -> dict[str, str]:
        """ccxt ``urls['api']`` for Binance pointing at this server."""
        return binance_urls(self.url)

    def start(self, timeout_s: float = 30.0) -> str:
        """Start serving; the URL. Raises what the server raised while starting."""
        if self._thread is not None:
            return self.url
        # a previous start that failed leaves its flag, error and closed loop behind: start afresh
        self._ready.clear()
        self._error = None
        self._loop = None
        self._server = None
        self._thread = threading.Thread(target=self._run, name="eclipse-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError("the simulator did not start in time")
        if self._error is not None:
            error, self._error = self._error, None
            self._thread.join()
            self._thread = None
            self._loop = None
            self._ready.clear()
            raise error
        return self.url

    def _run(self) -> None:
        loop = new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(
                start_server(self.config, self._clock, self._feed, self._tick_ms)
            )
        except BaseException as exc:  # handed to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._server.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the server's loop thread and return its result (thread-safe access to the
        context)."""
        if self._loop is None:
            raise RuntimeError("the simulator is not running")

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call one of the ``/_sim`` control endpoints over HTTP, as a client would (blocking); the decoded
        JSON answer (an HTTP error raises ``urllib.error.HTTPError``)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        """Stop serving, close the store and join the thread."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._thread = None
        self._loop = None
        self._server = None
        self._ready.clear()

    def __enter__(self) -> SimServerThread:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
