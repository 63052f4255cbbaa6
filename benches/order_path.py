#!/usr/bin/env python
"""Latency of the order path: from a closed bar to the order request handed to the venue, stage by stage.

    python benches/order_path.py            # the embedded BTC month (45,031 bars), both journal modes
    python benches/order_path.py --quick    # CI: the same month, the process-safe journal mode only
    python benches/order_path.py --quick --out benches/results/ci/order_path.json

The whole month is needed either way: the 1h trend EMA needs about 8 days of bars before any signal.

The path is the real one, in-process: ``EntryScanner.on_bar`` (FeatureState update + Rust scorer + strategy
gates -> EntryIntent), ``EntryPipeline.plan`` (entry gate, sizing, leverage -> RouterRequest),
``Router.submit`` (validation, journal ``OrderSubmitting`` to a real SQLite journal and, as the engine's
journal sink does, fold it into the order's machine (``OrderLedger.apply``: a new order machine, ``submit``),
the venue call). The
clock stops when ``create_order`` is entered on the venue (a probe wraps the in-process simulator: a
``PaperVenue`` over a ``ReplaySource``), so the venue's own matching is not counted. No position is kept
between bars so that every signal becomes an order (the path is what is measured, not the strategy).

Stages reported (p50/p95/p99 in microseconds over the bars that produced an order):
``scan`` (bar -> intent), ``plan`` (gate + size + leverage), ``router`` (validation and bookkeeping before
the journal), ``journal`` (the OrderSubmitting append), ``machine`` (the record folded into a new order
machine), ``handoff`` (after that until the venue is called), and ``total``. Journal modes: ``durable``
(fsync of every submit record: the live default) and ``process-safe`` (``durable_submits=False``: survives
a process crash, not a power loss).

Targets (from the issue): total p95 <= 250 us, p99 <= 1 ms. Reported, never asserted.

The JSON artefact (``benches/results/order_path.json``, ``--out`` to change) has the common header of
``benchutil.artefact`` (mode, machine facts, commit), the flat ``metrics`` read by ``gate.py``
(``order_path.process_safe.total_p95_us``: journal mode, stage, percentile; exact, where the tables round
to 0.1 us) and the tables.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchutil import artefact, utc_now, write_json
from eclipse.clock import SimClock
from eclipse.config.settings import load_strategy_settings
from eclipse.contracts import JournalEvent, PositionSnapshot
from eclipse.execution.entries.gate import EntryGate, StaticGuardProvider
from eclipse.execution.entries.pipeline import EntryPipeline
from eclipse.execution.entries.scanner import EntryScanner
from eclipse.execution.entries.settings import load_entry_settings
from eclipse.execution.entries.sizing import Sizer
from eclipse.execution.journal import Journal
from eclipse.execution.router.executor import Router
from eclipse.execution.router.policy import sim_sleep
from eclipse.execution.router.settings import load_router_settings
from eclipse.execution.tracking import OrderLedger
from eclipse.market.bars import OhlcvFrame, embedded_dataset
from eclipse.strategy.engine import SignalEngine
from eclipse.telemetry import MemorySink, Telemetry
from eclipse.venues.paper import PaperVenue
from eclipse.venues.replay_source import ReplaySource
from eclipse.venues.sim.engine import EngineConfig
from eclipse.venues.types import OrderReport, OrderRequest

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "order_path.json"
SYM = "BTC/USDT:USDT"
TARGET_P95_US = 250.0
TARGET_P99_US = 1000.0
STAGES = ("scan", "plan", "router", "journal", "machine", "handoff", "total")


class NoPositions:
    """Every bar may enter (the bench measures the path, not the one-position rule)."""

    def has_position(self, symbol: str) -> bool:
        return False

    def has_live_entry(self, symbol: str) -> bool:
        return False


class Probe:
    """Wraps the venue and the journal (store, then the order machines, as the engine's journal sink does)
    to timestamp the journal append, the fold into the order machine and the venue handoff."""

    def __init__(self, venue: PaperVenue, journal: Journal) -> None:
        self.venue = venue
        self.journal = journal
        self.ledger = OrderLedger()
        self.handoff_ns = 0
        self.journal_ns = (0, 0, 0)

    def append(self, event: JournalEvent) -> int:
        t0 = time.perf_counter_ns()
        seq = self.journal.append(event)
        t1 = time.perf_counter_ns()
        self.ledger.apply(event)
        if not self.handoff_ns:  # the append before the venue call (OrderSubmitting), not the ack after it
            self.journal_ns = (t0, t1, time.perf_counter_ns())
        return seq

    async def create_order(self, request: OrderRequest) -> OrderReport:
        self.handoff_ns = time.perf_counter_ns()
        return await self.venue.create_order(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.venue, name)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]


async def _run(frame: OhlcvFrame, durable: bool, tmp: Path) -> dict[str, list[float]]:
    clock = SimClock(int(frame.ts_ms[0]))
    tel = Telemetry(MemorySink(), clock)
    big = EngineConfig.futures(initial_balances=(("USDT", Decimal(10**12)),))
    venue = PaperVenue(ReplaySource(clock, {SYM: frame}), clock, refresh_ms=60_000, config=big)
    journal = Journal.open(
        tmp / f"journal-{'durable' if durable else 'fast'}.sqlite", durable_submits=durable
    )
    probe = Probe(venue, journal)
    settings = load_entry_settings({"FIXED_NOTIONAL_USDT": "200"})
    router_settings = load_router_settings({})
    router = Router(
        probe,  # type: ignore[arg-type]  # the probe forwards every Venue call
        probe,
        tel,
        clock,
        router_settings.policy,
        sim_sleep(clock),
        random.Random(7),
    )
    pipeline = EntryPipeline(
        EntryScanner(SignalEngine(load_strategy_settings({}), clock), NoPositions(), tel),
        EntryGate(settings.gate, StaticGuardProvider(), tel, clock),
        Sizer(settings.sizing, tel),
        settings.leverage,
    )
    await router.market(SYM)  # warm the market cache (the live daemon loads markets at start)
    market = await venue.market(SYM)
    positions: list[PositionSnapshot] = []
    times: dict[str, list[float]] = {s: [] for s in STAGES}
    times["bar_no_order"] = []
    equity = Decimal(10_000)
    gc.collect()
    for bar in frame.bars():
        clock.set_ms(bar.close_ms())
        t0 = time.perf_counter_ns()
        scan = pipeline.scanner.on_bar(SYM, bar)
        t1 = time.perf_counter_ns()
        if scan.intent is None:
            times["bar_no_order"].append((t1 - t0) / 1000)
            continue
        step = pipeline.plan(scan, market, positions, equity)
        t2 = time.perf_counter_ns()
        if step.plan is None:
            continue
        probe.handoff_ns = 0
        await router.submit(step.plan.request)
        if not probe.handoff_ns:
            continue  # blocked before the venue (not an order request)
        j0, j1, m1 = probe.journal_ns
        times["scan"].append((t1 - t0) / 1000)
        times["plan"].append((t2 - t1) / 1000)
        times["router"].append((j0 - t2) / 1000)
        times["journal"].append((j1 - j0) / 1000)
        times["machine"].append((m1 - j1) / 1000)
        times["handoff"].append((probe.handoff_ns - m1) / 1000)
        times["total"].append((probe.handoff_ns - t0) / 1000)
    journal.close()
    await venue.close()
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one journal mode only (CI)")
    ap.add_argument("--out", type=Path, default=OUT, help=f"the JSON artefact ({OUT})")
    args = ap.parse_args(argv)
    started_at, started = utc_now(), time.perf_counter()
    frame = embedded_dataset()
    modes = (("process-safe", False),) if args.quick else (("durable", True), ("process-safe", False))
    summary: dict[str, Any] = {"bars": len(frame), "targets_us": {"p95": TARGET_P95_US, "p99": TARGET_P99_US}}
    metrics: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode, durable in modes:
            times = asyncio.run(_run(frame, durable, Path(tmp)))
            n = len(times["total"])
            key = mode.replace("-", "_")
            for s in (*STAGES, "bar_no_order"):
                for q in (50, 95, 99):
                    metrics[f"order_path.{key}.{s}_p{q}_us"] = _pct(times[s], q)
            metrics[f"order_path.{key}.orders"] = n
            rows = {
                s: {q: round(_pct(times[s], q), 1) for q in (50, 95, 99)} for s in (*STAGES, "bar_no_order")
            }
            tot = rows["total"]
            verdict = "met" if tot[95] <= TARGET_P95_US and tot[99] <= TARGET_P99_US else "not met"
            summary[mode] = {"orders": n, "stages_us": rows, "verdict": verdict}
            print(f"\norder path, journal {mode}: {n} orders from {len(frame):,} bars (microseconds)")
            print(f"{'stage':<14} {'p50':>9} {'p95':>9} {'p99':>9}")
            for s in (*STAGES, "bar_no_order"):
                r = rows[s]
                label = "bar, no order" if s == "bar_no_order" else s
                print(f"{label:<14} {r[50]:>9.1f} {r[95]:>9.1f} {r[99]:>9.1f}")
            print(f"target total p95 <= {TARGET_P95_US:.0f} us, p99 <= {TARGET_P99_US:.0f} us: {verdict}")
    mode = "quick" if args.quick else "full"
    write_json(args.out, artefact("order_path", mode, started_at, started, metrics, **summary))
    print(f"JSON written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
