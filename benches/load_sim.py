#!/usr/bin/env python
"""Load test of the exchange simulator: order requests per second and p50/p95/p99 latency over loopback.

    python benches/load_sim.py                 # 10 s per phase
    python benches/load_sim.py --quick         # CI: 2 s per phase
    python benches/load_sim.py --seconds 30 --connections 32
    python benches/load_sim.py --quick --out benches/results/ci/load_sim.json

The simulator runs in its own process (a ``SimServerThread`` with stepped market time and request-weight
limits lifted, so the limiter measures its cost without refusing); the client runs in this process. Phases:

1. ``raw market``: signed ``POST /fapi/v1/order`` market orders (alternating BUY/SELL) from the raw
   keep-alive client in ``loadclient.py`` (pre-built request bytes on asyncio streams; it uses a fraction of
   a core, reported as client CPU, so the server is what is measured);
2. ``raw limit+cancel``: a resting limit order, then its cancel by client id (both count as order requests);
3. ``ccxt market``: the same market orders through real ``ccxt.async_support.binanceusdm`` clients
   (``create_order``), several concurrent tasks; here the client's own CPU is usually the limit, which the
   report shows.

Results go to stdout and to the JSON artefact ``benches/results/load_sim.json`` (``--out`` to change: the
common header of ``benchutil.artefact`` with mode and machine facts, the flat ``metrics`` read by ``gate.py``,
such as ``load_sim.raw_market_rps``, and the table's rows). Nothing is asserted: the target (>= 2,000 order
requests/s on loopback) is reported as met or not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchutil import artefact, utc_now, write_json  # noqa: E402
from loadclient import LoadResult, OrderFlow, run_raw_load  # noqa: E402

TARGET_RPS = 2000.0
OUT = HERE / "results" / "load_sim.json"


def serve() -> None:
    """Child process: run the simulator until stdin closes; print its URL first."""
    from eclipse.clock import LiveClock
    from eclipse.venues.sim.config import SimConfig
    from eclipse.venues.sim.runner import SimServerThread

    big = 10**9
    config = SimConfig(stepped=True, weight_limit_1m=big, order_limit_10s=big, order_limit_1m=big)
    with SimServerThread(config, LiveClock()) as sim:
        print(sim.url, flush=True)
        sys.stdin.read()


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _row(name: str, r: LoadResult, server_cpu: float) -> dict[str, Any]:
    return {
        "phase": name,
        "requests": r.requests,
        "seconds": round(r.wall_s, 3),
        "rps": round(r.rate, 1),
        "p50_us": round(r.percentile_us(50), 1),
        "p95_us": round(r.percentile_us(95), 1),
        "p99_us": round(r.percentile_us(99), 1),
        "client_cpu_pct": round(100 * r.client_cpu_s / r.wall_s, 1) if r.wall_s else None,
        "server_cpu_pct": round(100 * server_cpu / r.wall_s, 1) if r.wall_s else None,
        "statuses": {str(k): v for k, v in sorted(r.statuses.items())},
        "codes": {str(k): v for k, v in sorted(r.codes.items())},
        "errors": dict(sorted(r.errors.items())),
    }


def _metrics(name: str, r: LoadResult) -> dict[str, float | None]:
    """The gate's flat view of one phase (exact, where the table rounds): rate and latency percentiles."""
    key = "load_sim." + name.replace(" ", "_").replace("+", "_")
    out: dict[str, float | None] = {f"{key}_rps": r.rate if r.requests else None}
    for q in (50, 95, 99):
        out[f"{key}_p{q}_us"] = r.percentile_us(q)
    return out


async def _ccxt_load(url: str, key: str, secret: str, tasks: int, seconds: float) -> LoadResult:
    import ccxt.async_support as ccxt

    from eclipse.venues.sim.runner import binance_urls

    ex = ccxt.binanceusdm(
        {
            "apiKey": key,
            "secret": secret,
            "enableRateLimit": False,
            "urls": {"api": binance_urls(url)},
            "options": {"fetchCurrencies": False, "warnWithoutSymbol": False},
        }
    )
    result = LoadResult()
    try:
        await ex.load_markets()
        counter = [0]
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                counter[0] += 1
                n = counter[0]
                side = "buy" if n % 2 else "sell"
                t0 = time.perf_counter_ns()
                try:
                    await ex.create_order(
                        "BTC/USDT:USDT", "market", side, 0.003, params={"newClientOrderId": f"cx-{n}"}
                    )
                    status = 200
                except Exception as exc:  # the report counts failures by class
                    status = 0
                    name = type(exc).__name__
                    result.errors[name] = result.errors.get(name, 0) + 1
                result.latencies_ns.append(time.perf_counter_ns() - t0)
                result.statuses[status] = result.statuses.get(status, 0) + 1

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(tasks)))
        result.wall_s = time.perf_counter() - t0
        result.client_cpu_s = time.process_time() - cpu0
    finally:
        await ex.close()
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 s per phase (CI)")
    ap.add_argument("--seconds", type=float, default=None, help="seconds per phase (default 10; quick 2)")
    ap.add_argument("--connections", type=int, default=4, help="raw client keep-alive connections")
    ap.add_argument("--ccxt-tasks", type=int, default=8, help="concurrent create_order tasks through ccxt")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=OUT, help=f"the JSON artefact ({OUT})")
    args = ap.parse_args(argv)
    if args.serve:
        serve()
        return 0
    started_at, started = utc_now(), time.perf_counter()
    metrics: dict[str, float | None] = {}
    seconds = args.seconds or (2.0 if args.quick else 10.0)

    from eclipse.venues.sim.config import DEFAULT_KEY, DEFAULT_SECRET

    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http://"):
            print(f"the simulator did not start (got {url!r})", file=sys.stderr)
            return 1
        host, port = url.removeprefix("http://").rsplit(":", 1)
        rows = []
        for name, mode in (("raw market", "market"), ("raw limit+cancel", "limit-cancel")):

            def flows(i: int, mode: str = mode) -> OrderFlow:
                return OrderFlow(
                    DEFAULT_KEY,
                    DEFAULT_SECRET,
                    symbol="BTCUSDT",
                    qty="0.006",
                    mode=mode,
                    far_price="20000",
                    tag=f"w{i}",
                )

            cpu0 = _cpu_seconds(child.pid)
            r = asyncio.run(
                run_raw_load(
                    host, int(port), flows, connections=args.connections, seconds=seconds, max_requests=10**9
                )
            )
            rows.append(_row(name, r, _cpu_seconds(child.pid) - cpu0))
            metrics.update(_metrics(name, r))
        cpu0 = _cpu_seconds(child.pid)
        r = asyncio.run(_ccxt_load(url, DEFAULT_KEY, DEFAULT_SECRET, args.ccxt_tasks, seconds))
        rows.append(_row("ccxt market", r, _cpu_seconds(child.pid) - cpu0))
        metrics.update(_metrics("ccxt market", r))
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=30)

    head = f"simulator load, {seconds:g} s per phase, loopback, server in its own process"
    print(f"\n{head} (target >= {TARGET_RPS:,.0f} req/s)")
    cols = ("req/s", "p50 us", "p95 us", "p99 us", "client cpu", "server cpu")
    print(f"{'phase':<18} " + " ".join(f"{c:>10}" for c in cols) + "  statuses")
    for row in rows:
        nums = (row["rps"], row["p50_us"], row["p95_us"], row["p99_us"])
        cpu = (row["client_cpu_pct"], row["server_cpu_pct"])
        extra = " ".join(str(x) for x in (row["statuses"], row["codes"], row["errors"]) if x)
        print(
            f"{row['phase']:<18} "
            + " ".join(f"{x:>10,.0f}" for x in nums)
            + " "
            + " ".join(f"{x:>9.0f}%" for x in cpu)
            + f"  {extra}"
        )
    raw_best = max(row["rps"] for row in rows if row["phase"].startswith("raw"))
    verdict = "met" if raw_best >= TARGET_RPS else "not met"
    print(f"target >= {TARGET_RPS:,.0f} order req/s (raw client): {verdict} ({raw_best:,.0f})")
    mode = "quick" if args.quick else "full"
    details = {"seconds": seconds, "connections": args.connections, "ccxt_tasks": args.ccxt_tasks}
    write_json(
        args.out,
        artefact(
            "load_sim", mode, started_at, started, metrics,
            **details, target_rps=TARGET_RPS, verdict=verdict, phases=rows,
        ),
    )  # fmt: skip
    print(f"JSON written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
