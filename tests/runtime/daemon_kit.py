"""Test kit for the daemon end to end: an exchange simulator in this process (the embedded BTC month at
market time = the data's own time, a fast replay), ``eclipse run`` in a subprocess against it through the
real ccxt client, and the venue's truth read from the simulator itself. No tests here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from eclipse.clock import LiveClock
from eclipse.contracts import FillRecorded
from eclipse.execution.journal import Journal
from eclipse.market.bars import embedded_dataset
from eclipse.runtime.setup import EMBEDDED_START_BAR
from eclipse.venues.sim.config import SimConfig
from eclipse.venues.sim.engine import AlgoIdLayout
from eclipse.venues.sim.market import FeedConfig, FeedMode, MarketFeed
from eclipse.venues.sim.runner import SimServerThread
from eclipse.venues.types import OrderType

RAW = "BTCUSDT"
SYM = "BTC/USDT:USDT"
SECRET = "sEcReT-never-printed-0123456789"
TOKEN = "tOkEn-never-printed-0123456789"


def start_sim(
    speed: float, *, db_path: Path | None = None, port: int = 0, algo_ids: str = "apart"
) -> SimServerThread:
    """A replaying simulator (no rebase: the replay starts 2022-01-10 12:00 UTC, where trading happens),
    its request limits per market minute; optionally on a store (a restart on it continues the venue), a
    fixed port and coinciding algo ids (``algo_ids="coincide"``)."""
    feed = MarketFeed(
        LiveClock(),
        FeedConfig(mode=FeedMode.REPLAY, speed=speed, rebase=False, start_offset_bars=EMBEDDED_START_BAR),
    )
    feed.add_ohlcv(RAW, embedded_dataset())
    scale = max(1.0, speed)
    config = SimConfig(
        port=port,
        speed=speed,
        start_offset_bars=EMBEDDED_START_BAR,
        db_path=str(db_path) if db_path is not None else None,
        algo_ids=AlgoIdLayout.parse(algo_ids),
        weight_limit_1m=round(2400 * scale),
        order_limit_10s=round(300 * scale),
        order_limit_1m=round(1200 * scale),
    )
    sim = SimServerThread(config, LiveClock(), feed)
    sim.start()
    return sim


def daemon_env(sim: SimServerThread, **extra: str) -> dict[str, str]:
    """The environment of a daemon trading ``sim`` (secrets set, to prove they never show)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALPER_", "EXCHANGE_", "VENUE_"))}
    env.update(
        EXCHANGE_ADAPTER="sim",
        VENUE_API_URL=sim.url,
        FIXED_NOTIONAL_USDT="200",
        STATUS_HTTP_PORT="0",
        STATUS_TOKEN=TOKEN,
        BINANCE_API_SECRET=SECRET,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def spawn(run_dir: Path, env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    """``eclipse run --dir run_dir --plain *args`` in a subprocess (stdout and stderr piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "eclipse.cli", "run", "--dir", str(run_dir), "--plain", *args],
        env=env,
        cwd=cwd or run_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def status(run_dir: Path) -> dict[str, Any] | None:
    """The running daemon's ``/status`` (None while it has no status server)."""
    try:
        url = (run_dir / "status.url").read_text().strip()
        with urllib.request.urlopen(url + "/status", timeout=2) as resp:
            body: dict[str, Any] = json.loads(resp.read())
            return body
    except (OSError, ValueError):
        return None


def wait_for(
    what: str, pred: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 120.0
) -> None:
    """Poll ``pred`` until true; AssertionError with the daemon's output when it dies or time runs out."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(
                f"the daemon exited ({proc.returncode}) before {what}:\n{out[-3000:]}\n{err[-3000:]}"
            )
        time.sleep(0.05)
    proc.kill()
    out, err = proc.communicate()
    raise AssertionError(f"timed out waiting for {what}:\n{out[-3000:]}\n{err[-3000:]}")


def protected_position(run_dir: Path) -> bool:
    """True while the daemon reports an open position with a stop."""
    snap = status(run_dir)
    return bool(snap and any(p["stop"] is not None and p["protected"] for p in snap["positions"]))


def bars_seen(run_dir: Path) -> int:
    """Bars the running daemon has handled (0 without a status)."""
    snap = status(run_dir)
    return int(snap["bars"]) if snap else 0


def truth(sim: SimServerThread) -> dict[str, Any]:
    """From the simulator itself: trade id -> (owning client id, qty), every client id it was sent, the
    position, the working stops and the working regular orders."""

    def read(ctx: Any) -> dict[str, Any]:
        eng = ctx.futures
        owner = {o.order_id: o.client_id for o in eng.regular.orders.values()}
        for a in eng.algo.orders.values():
            if a.triggered_order_id is not None:
                owner[a.triggered_order_id] = a.client_id
        trades = {str(t.trade_id): (owner[t.order_id], t.qty) for t in eng.trades_mem[RAW]}
        sent = [o.client_id for o in eng.regular.orders.values()] + [
            a.client_id for a in eng.algo.orders.values()
        ]
        live_algo = list(eng.algo.open[RAW].values())
        return {
            "trades": trades,
            "sent": sent,
            "position": eng.pos_state[RAW].qty,
            "stops": sorted(a.client_id for a in live_algo if a.type is OrderType.STOP_MARKET),
            "open_regular": sorted(o.client_id for o in eng.regular.open[RAW].values()),
        }

    result: dict[str, Any] = sim.call(read, sim.ctx)
    return result


def journal_fills(run_dir: Path) -> dict[str, tuple[str, Decimal]]:
    """trade id -> (client id, qty) of every fill in the daemon's journal (duplicates would collide)."""
    journal = Journal.open(run_dir / "journal.sqlite")
    out: dict[str, tuple[str, Decimal]] = {}
    try:
        for rec in journal.records(0):
            ev = rec.event
            if isinstance(ev, FillRecorded):
                assert ev.fill.trade_id not in out, f"fill {ev.fill.trade_id} journaled twice"
                out[ev.fill.trade_id] = (ev.client_order_id, ev.fill.qty)
    finally:
        journal.close()
    return out


def stop_daemon(proc: subprocess.Popen[str], sig: int, timeout: float = 60.0) -> tuple[int, str, str]:
    """Send ``sig`` and wait: (exit code, stdout, stderr)."""
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(
            f"the daemon did not stop after signal {sig}:\n{out[-2000:]}\n{err[-2000:]}"
        ) from None
    return proc.returncode, out, err
