"""Test kit for the status server: a snapshot factory, a fake :class:`DaemonControl` with a settable
snapshot that records every action, and a :class:`StatusServer` served from a background thread."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
from types import TracebackType

from eclipse.runtime.http import StatusServer
from eclipse.runtime.metrics import DaemonMetrics
from eclipse.runtime.snapshot import LoopRow, OrderRow, PositionRow, SignalRow, StatusSnapshot

T0 = 1_641_731_640_000  # 2022-01-09 12:34:00 UTC
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
TOKEN = "s3cret-token-0123456789"


def snap(**over: object) -> StatusSnapshot:
    """A healthy paper daemon with one position, one order and one signal; ``over`` replaces fields."""
    base = StatusSnapshot(
        mode="paper",
        venue="binanceusdm",
        clock="wall",
        run_dir="/tmp/eclipse-run",
        started_ms=T0 - 3_600_000,
        now_ms=T0,
        wall_ms=T0,
        posture="normal",
        entries="enabled",
        equity=10_012.5,
        realized_pnl=15.0,
        fees=2.5,
        unrealized_pnl=1.2,
        net_pnl=13.7,
        drawdown=0.4,
        bars=1234,
        last_bar_ms=T0 - 60_000,
        bar_lag_ms_p50=12.0,
        bar_lag_ms_p95=40.0,
        order_path_us_p50=120.0,
        order_path_us_p95=400.0,
        healthy=True,
        health_reason="",
        symbols=(BTC, ETH),
        positions=(PositionRow(BTC, "long", 0.012, 40_000.0, 40_100.0, 1.2, 39_600.0, 40_800.0, True, T0),),
        signals=(SignalRow(T0, ETH, "short", 0.71, "cooldown", "trend down; blocked by cooldown"),),
        orders=(OrderRow(T0, BTC, "ecl-e1", "entry", "buy", "market", 0.012, "filled"),),
        blocked=(("cooldown", 3), ("spread", 1)),
        loops=(LoopRow("market", "running", 0, T0), LoopRow("engine", "running", 1, T0)),
        trades=3,
        wins=2,
        versions={"eclipse": "0.9.0", "core": "0.9.0"},
    )
    return dataclasses.replace(base, **over)  # type: ignore[arg-type]


class FakeControl:
    """A :class:`DaemonControl` whose snapshot tests set; ``calls`` records every action."""

    def __init__(self, snapshot: StatusSnapshot | None = None) -> None:
        self.snap = snapshot or snap()
        self.calls: list[tuple[str, str]] = []
        self.flat = True
        self.fail_snapshot = False

    def snapshot(self) -> StatusSnapshot:
        if self.fail_snapshot:
            raise RuntimeError("snapshot broke\nsecond line")
        return self.snap

    def pause_entries(self, reason: str) -> None:
        self.calls.append(("pause", reason))
        self.snap = dataclasses.replace(self.snap, entries=f"paused: {reason}")

    def resume_entries(self) -> None:
        self.calls.append(("resume", ""))
        self.snap = dataclasses.replace(self.snap, entries="enabled")

    async def flatten(self, symbol: str) -> bool:
        await asyncio.sleep(0)
        self.calls.append(("flatten", symbol))
        return self.flat

    def request_stop(self) -> None:
        self.calls.append(("stop", ""))

    def lift_guard(self, code: str, symbol: str | None = None) -> bool:
        self.calls.append(("lift", code))
        return code == "kill_drawdown"


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """A :class:`StatusServer` on 127.0.0.1 in a background thread with its own loop (for sync callers)."""

    def __init__(self, control: FakeControl, *, token: str = "", port: int = 0) -> None:
        self.control = control
        self.metrics = DaemonMetrics([BTC, ETH], ["market", "engine"])
        self.server = StatusServer(control, self.metrics, host="127.0.0.1", port=port, token=token)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="status-test", daemon=True)
        self.url = ""

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(10)
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
