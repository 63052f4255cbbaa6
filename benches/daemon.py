#!/usr/bin/env python
"""The daemon in simulated time: cost per closed bar as symbols grow, throughput, peak memory.

    python benches/daemon.py            # 1, 10 and 100 symbols; the whole embedded month for throughput
    python benches/daemon.py --quick    # CI: 1, 10 and 100 symbols (fewer bars), 5,000 bars for throughput
    python benches/daemon.py --quick --out benches/results/ci/daemon.json

Everything runs through ``eclipse run``'s own code (:class:`~eclipse.runtime.daemon.Daemon` and the
simulated-time driver): warm-up, the engine (features, scorer, gates, sizing, router, journal, protection,
exits), reconcile, telemetry, with the in-process venue (the simulator's matching engine over a replay).
Symbols beyond the first are the embedded BTC month rolled by 37 bars each (same prices, other moments),
so they signal at different bars.

Reported (never asserted), each scenario in its own process so peak memory is its own:

* (a) ``close_ms``: per bar close, the wall time from the first symbol's bar handed to the engine to the last
  symbol handled (p50/p95/p99; target p95 < 5 ms for 100 symbols, excluding venue round trips: the venue
  here is in-process);
* (b) ``bars_per_s``: one symbol, bars handled per wall second by the simulated-time driver (startup and
  warm-up excluded; target >= 50,000);
* (c) ``peak_rss_mb``: the process's peak resident memory (target: reported for 100 symbols).

The JSON artefact (``benches/results/daemon.json``, ``--out`` to change) has the common header of
``benchutil.artefact`` (mode, machine facts, commit), the flat ``metrics`` read by ``gate.py``
(``daemon.symN.close_p95_ms`` for N symbols, ``daemon.sim_bars_per_s``, ...) and every scenario's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchutil import artefact, utc_now, write_json

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "daemon.json"
TARGET_CLOSE_P95_MS = 5.0
TARGET_BARS_PER_S = 50_000
ENV = {"FIXED_NOTIONAL_USDT": "150", "LEVERAGE": "5", "STATUS_HTTP": "0"}


def _frames(n: int) -> dict[str, Any]:
    from eclipse.market.bars import OhlcvFrame, embedded_dataset

    base = embedded_dataset()
    out: dict[str, Any] = {"BTCUSDT": base}
    for i in range(1, n):
        k = 37 * i
        out[f"S{i:03d}USDT"] = OhlcvFrame(
            base.ts_ms,
            np.roll(base.open, k),
            np.roll(base.high, k),
            np.roll(base.low, k),
            np.roll(base.close, k),
            np.roll(base.volume, k),
        )
    return out


async def _scenario(symbols: int, bars: int, tmp: Path) -> dict[str, Any]:
    from eclipse.clock import perf_ns
    from eclipse.runtime.daemon import Daemon, RunOptions
    from eclipse.runtime.loops import run_simulated
    from eclipse.runtime.setup import RunMode

    frames = _frames(symbols)
    env = {**ENV, "ACTIVE_SYMBOLS": ",".join(frames)}
    daemon = Daemon(
        env, RunOptions(run_dir=tmp / "run", sim_clock=True, max_bars=bars * symbols, frames=frames)
    )
    await daemon.start(RunMode.SIMULATED)
    handle = daemon.handle_bar
    close_cost: dict[int, list[int]] = {}

    async def timed(symbol: str, bar: Any, speed: float | None = 1.0) -> None:
        t0 = perf_ns()
        await handle(symbol, bar, speed)
        span = close_cost.setdefault(bar.ts_ms, [t0, t0])
        span[1] = perf_ns()

    daemon.handle_bar = timed  # type: ignore[method-assign]
    t0 = time.perf_counter()
    await run_simulated(daemon)
    wall = time.perf_counter() - t0
    summary = await daemon.shutdown()
    costs = np.array([(b - a) / 1e6 for a, b in close_cost.values()])
    return {
        "symbols": symbols,
        "bars_per_symbol": bars,
        "closes": len(costs),
        "close_ms": {q: float(np.percentile(costs, int(q[1:]))) for q in ("p50", "p95", "p99")},
        "bars_per_s": summary["bars"] / wall,
        "wall_s": wall,
        "orders": summary["orders"],
        "trades": summary["trades"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(symbols: int, bars: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(_scenario(symbols, bars, Path(tmp)))
    print(json.dumps(result))


def metrics(scenarios: list[dict[str, Any]], throughput: dict[str, Any]) -> dict[str, float | None]:
    """The gate's flat view: per symbol count the close cost, rate and memory; the one-symbol run's rate."""
    out: dict[str, float | None] = {}
    for r in scenarios:
        key = f"daemon.sym{r['symbols']}"
        for q, v in r["close_ms"].items():
            out[f"{key}.close_{q}_ms"] = v
        out[f"{key}.bars_per_s"] = r["bars_per_s"]
        out[f"{key}.peak_rss_mb"] = r["peak_rss_mb"]
    out["daemon.sim_bars_per_s"] = throughput["bars_per_s"]
    out["daemon.sim.close_p95_ms"] = throughput["close_ms"]["p95"]
    out["daemon.sim.peak_rss_mb"] = throughput["peak_rss_mb"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI: 100 symbols for 30 bars, 5,000 for throughput")
    ap.add_argument("--out", type=Path, default=OUT, help=f"the JSON artefact ({OUT})")
    ap.add_argument("--child", nargs=2, type=int, metavar=("SYMBOLS", "BARS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    started_at, started = utc_now(), time.perf_counter()
    plan = [(1, 1000), (10, 300), (100, 30 if args.quick else 100)]
    throughput = (1, 5000 if args.quick else 0)  # 0: to the end of the month
    results = []
    for symbols, bars in [*plan, throughput]:
        n = bars or 10**9
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(symbols), str(n)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    head = ("symbols", "bars/sym", "close ms p50", "p95", "p99", "bars/s", "orders", "peak MB")
    print("{:>7} {:>8} {:>12} {:>7} {:>7} {:>8} {:>7} {:>8}".format(*head))
    for r in results:
        c = r["close_ms"]
        print(
            f"{r['symbols']:>7} {r['bars_per_symbol']:>8} {c['p50']:>12.2f} {c['p95']:>7.2f} "
            f"{c['p99']:>7.2f} "
            f"{r['bars_per_s']:>8.0f} {r['orders']:>7} {r['peak_rss_mb']:>8.0f}"
        )
    big = max(results[:-1], key=lambda r: r["symbols"])
    p95, rate = big["close_ms"]["p95"], results[-1]["bars_per_s"]
    print(
        f"targets (reported, not asserted): close p95 < {TARGET_CLOSE_P95_MS} ms at {big['symbols']} "
        "symbols: "
        f"{p95:.2f} ms; throughput >= {TARGET_BARS_PER_S:,} bars/s: {rate:,.0f}"
    )
    mode = "quick" if args.quick else "full"
    write_json(
        args.out,
        artefact(
            "daemon",
            mode,
            started_at,
            started,
            metrics(results[:-1], results[-1]),
            targets={"close_p95_ms": TARGET_CLOSE_P95_MS, "bars_per_s": TARGET_BARS_PER_S},
            scenarios=results[:-1],
            throughput=results[-1],
        ),
    )
    print(f"JSON written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
