"""The reliability loop through the daemon: ``eclipse run`` in a subprocess against the exchange simulator,
the real ccxt client, the venue changed under the bot from the simulator itself: a position that is not ours
at startup (reported, never touched, its symbol blocked), and a position the venue closes while the daemon
runs (a liquidation: repaired from the venue's fills, the symbol tradeable again)."""

from __future__ import annotations

import json
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.runtime.daemon_kit import RAW, daemon_env, spawn, status, stop_daemon, truth, wait_for

from eclipse.venues.sim.model import PlaceRequest
from eclipse.venues.sim.runner import SimServerThread
from eclipse.venues.sim.walk import liquidate
from eclipse.venues.types import OrderType, Side


def _events(run_dir: Path, name: str) -> list[dict[str, Any]]:
    path = run_dir / "telemetry.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if f'"{name}"' in line:
            rec = json.loads(line)
            if rec.get("event") == name:
                out.append(rec)
    return out


def _reliability(run_dir: Path) -> dict[str, Any]:
    snap = status(run_dir)
    return dict(snap.get("reliability") or {}) if snap else {}


@pytest.mark.parametrize("policy", ["block", "protect", "flatten"])
def test_a_position_not_ours_at_startup_follows_the_foreign_policy(
    sim: SimServerThread, tmp_path: Path, policy: str
) -> None:
    """block: reported, never touched, entries there blocked; protect: adopted and covered by a stop;
    flatten: adopted and closed."""

    def manual(ctx: Any) -> None:
        ctx.futures.place(
            PlaceRequest(RAW, Side.BUY, OrderType.MARKET, Decimal("0.01"), client_id="by-hand-1")
        )

    sim.call(manual, sim.ctx)
    run_dir = tmp_path / "run"
    env = daemon_env(
        sim, RECONCILE_FOREIGN_POLICY=policy, EXIT_MAX_HOLD_SEC="100000", SCALPER_DEBUG_FORCE_ENTRY="long"
    )
    proc = spawn(run_dir, env)
    wait_for("the status", lambda: bool(_reliability(run_dir)), proc)
    wait_for("some bars", lambda: (status(run_dir) or {}).get("bars", 0) >= 5, proc)
    if policy != "block":  # adopted: tradeable once a reconcile is recent (a loaded machine may lag a cycle)
        wait_for("the symbol tradeable", lambda: not _reliability(run_dir).get("symbol_blocks"), proc)
    rel = _reliability(run_dir)
    code, out, err = stop_daemon(proc, signal.SIGTERM)
    assert code == 0, err[-2000:]
    venue = truth(sim)
    if policy == "block":
        assert rel["symbol_blocks"] == {"BTC/USDT:USDT": "foreign_position"}
        assert "not ours" in out
        assert "entries blocked after the startup reconcile (foreign position)" in out
        assert venue["position"] == Decimal("0.01")  # the user's trade is never touched
        assert all(cid == "by-hand-1" for cid in venue["sent"])  # no entry was sent on a blocked symbol
        assert "foreign_position" in {e["reason"] for e in _events(run_dir, "entry.blocked")}
        (foreign,) = _events(run_dir, "reconcile.foreign")
        assert foreign["policy"] == "block"
        return
    (adopted,) = _events(run_dir, "reconcile.position_adopted")
    assert adopted["policy"] == policy
    assert not rel["symbol_blocks"]
    if policy == "protect":
        assert venue["stops"], "the adopted position has its stop on the venue"
        assert venue["position"] >= Decimal("0.01")
    else:
        assert any(cid.startswith("X-") for cid in venue["sent"]), "a reduce-only close was sent"


def test_a_liquidation_while_running_is_repaired_from_the_venues_fills(
    sim: SimServerThread, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    env = daemon_env(
        sim,
        SCALPER_DEBUG_FORCE_ENTRY="long",
        EXIT_MAX_HOLD_SEC="100000",
        RECONCILE_INTERVAL_SEC="5",
        RECONCILE_INFLIGHT_CHECK_SEC="1",
    )
    proc = spawn(run_dir, env)
    wait_for("a position", lambda: bool((status(run_dir) or {}).get("positions")), proc)

    def liquidate_now(ctx: Any) -> None:
        eng = ctx.futures
        liquidate(eng, RAW, eng.now_ms(), float(eng.mark(RAW)))

    sim.call(liquidate_now, sim.ctx)
    wait_for(
        "the venue-side close adopted", lambda: bool(_events(run_dir, "reconcile.venue_close_adopted")), proc
    )
    wait_for("the symbol ready again", lambda: not _reliability(run_dir).get("symbol_blocks"), proc)
    code, _, err = stop_daemon(proc, signal.SIGTERM)
    assert code == 0, err[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    kpis = summary["reliability"]["kpis"]
    assert kpis["repairs_succeeded"] >= 1
    venue = truth(sim)
    booked = sum(1 for e in _events(run_dir, "position.changed") if e.get("kind") == "flatten")
    assert booked >= 1
    assert "autoclose" in " ".join(venue["sent"])
