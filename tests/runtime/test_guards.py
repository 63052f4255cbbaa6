"""The daemon's own entry guards, in simulated time: the daily loss limit halts entries (exits go on), the
basic entry loop holds one position across all symbols, and an operator pause blocks entries."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np

from eclipse.market.bars import OhlcvFrame, embedded_dataset
from eclipse.runtime.daemon import Daemon, RunOptions
from eclipse.runtime.loops import run_simulated
from eclipse.runtime.setup import RunMode


def _run(tmp: Path, env: dict[str, str], bars: int, frames: dict[str, OhlcvFrame] | None = None) -> Daemon:
    daemon = Daemon(
        {"FIXED_NOTIONAL_USDT": "200", "LEVERAGE": "5", **env},
        RunOptions(run_dir=tmp, sim_clock=True, max_bars=bars, frames=frames),
    )

    async def go() -> None:
        await daemon.start(RunMode.SIMULATED)
        await run_simulated(daemon)
        await daemon.shutdown()

    asyncio.run(go())
    return daemon


def _telemetry(tmp: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp / "telemetry.jsonl").read_text().splitlines()]


def test_the_daily_loss_limit_halts_entries_and_never_exits(tmp_path: Path) -> None:
    # a limit so small that the first losing round trip trips it
    _run(tmp_path, {"MAX_DAILY_LOSS_PCT": "0.00001", "KILL_DAILY_HALT_SEC": "0"}, 2500)
    events = _telemetry(tmp_path)
    halted = [e for e in events if e["event"] == "kill.halted"]
    assert halted, "no halt: the run never lost? (the embedded month's second day loses)"
    assert halted[0]["kind"] == "daily_loss"
    assert halted[0]["severity"] == "critical"
    t = halted[0]["ts_ms"]
    later_entries = [e for e in events if e["event"] == "entry.submitted" and e["ts_ms"] > t]
    day_end = (t // 86_400_000 + 1) * 86_400_000
    assert all(e["ts_ms"] >= day_end for e in later_entries), "an entry went out while halted"
    blocked = [e for e in events if e["event"] == "entry.blocked" and e.get("reason") == "kill_daily_loss"]
    assert any(t <= e["ts_ms"] < day_end for e in blocked)
    closed = [  # the position open at the halt still leaves by its take-profit / stop: exits are never halted
        e
        for e in events
        if e["event"] == "position.changed" and t < e["ts_ms"] < day_end and e.get("kind") != "entry"
    ]
    assert closed, "no exit while halted: the halt must never block one"
    state = json.loads((tmp_path / "guards.json").read_text())  # the halt is persisted in the run directory
    assert "daily_loss" in json.dumps(state) or "kill_daily_loss" in json.dumps(state)


def test_basic_entry_loop_holds_one_position_across_symbols(tmp_path: Path) -> None:
    base = embedded_dataset()
    shifted = OhlcvFrame(
        base.ts_ms,
        np.roll(base.open, 37),
        np.roll(base.high, 37),
        np.roll(base.low, 37),
        np.roll(base.close, 37),
        np.roll(base.volume, 37),
    )
    frames = {"BTCUSDT": base, "ETHUSDT": shifted}
    env = {"ENTRY_LOOP_MODE": "basic", "ACTIVE_SYMBOLS": "BTCUSDT,ETHUSDT"}
    _run(tmp_path, env, 4000, frames)
    held: dict[str, float] = {}
    overlap = 0
    for e in _telemetry(tmp_path):
        if e["event"] == "position.changed":
            held[str(e["symbol"])] = float(e["qty"])
            overlap = max(overlap, sum(1 for q in held.values() if q != 0))
    assert held, "no position at all"
    assert overlap == 1


def test_a_pause_blocks_entries_until_resumed(tmp_path: Path) -> None:
    daemon = Daemon(
        {"FIXED_NOTIONAL_USDT": "200"}, RunOptions(run_dir=tmp_path, sim_clock=True, max_bars=1500)
    )

    async def go() -> None:
        await daemon.start(RunMode.SIMULATED)
        daemon.pause_entries("operator test")
        assert "pause: operator test" in daemon.snapshot().entries
        await run_simulated(daemon)
        await daemon.shutdown()

    asyncio.run(go())
    events = _telemetry(tmp_path)
    assert not [e for e in events if e["event"] == "entry.submitted"]
    assert [e for e in events if e["event"] == "entry.blocked" and e.get("reason") == "guard_entry_block"]


def test_a_halt_in_the_run_directory_survives_into_the_next_run(tmp_path: Path) -> None:
    """A drawdown halt (until the operator lifts it) saved in guards.json by an earlier run blocks every entry
    of the next daemon on that directory, and is still there when it stops."""
    from decimal import Decimal

    from eclipse.clock import SimClock
    from eclipse.reliability.guards import GuardSet, GuardSettings, GuardStateStore

    store = GuardStateStore(tmp_path / "guards.json")
    earlier = GuardSet(GuardSettings.load({"MAX_DRAWDOWN_PCT": "0.01"}), SimClock(1_641_800_000_000), store)
    earlier.check_risk(Decimal(1000))
    assert earlier.check_risk(Decimal(900))  # -10%: halted until lifted
    env = {"MAX_DRAWDOWN_PCT": "0.01", "SCALPER_DEBUG_FORCE_ENTRY": "long"}
    daemon = _run(tmp_path, env, 300)
    events = _telemetry(tmp_path)
    assert not [e for e in events if e["event"] == "entry.submitted"]
    assert {e.get("reason") for e in events if e["event"] == "entry.blocked"} == {"kill_drawdown"}
    assert daemon.guards is not None
    assert [g.code for g in daemon.guards.active()] == ["kill_drawdown"]
    assert "kill_drawdown" in (tmp_path / "guards.json").read_text()
