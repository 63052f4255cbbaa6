#!/usr/bin/env python
"""Run the benchmarks in ``benches/`` and print a table against the speed targets.

    python benches/report.py            # full: 1,000,000 values, 200,000 timed steps (a few minutes at most)
    python benches/report.py --quick    # CI: 200,000 values, 50,000 timed steps, short rounds (< 1 minute)
    python benches/report.py --json benches/results/latest.json   # only print the table of an earlier run

The pytest-benchmark JSON, with an added ``eclipse_summary`` section (the table's numbers and the verdict of
every target), is written to ``benches/results/latest.json`` (``--out`` to change). It is this run's JSON
artefact: the common header of ``benchutil.artefact`` (mode, machine facts, commit) and the flat ``metrics``
read by ``gate.py`` (``core.step_latency_p95_ns``, ``core.replay_step_bars_per_s``, ``sim_engine.*``, ...)
come first. Targets:

* sma, ema, rsi, atr, bollinger: eclipse time / TA-Lib time <= 1.0;
* vwap, volume_zscore, momentum: best numpy/pandas time / eclipse time >= 3.0;
* ``Scorer.step`` from Python: p95 <= 1 us (measured with perf_counter_ns, timer overhead included).

Missing a target does not fail the run unless ``--fail-on-miss`` is given; a benchmark that errors does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchutil import artefact, clean_metrics, utc_now, write_json  # noqa: E402

DEFAULT_OUT = HERE / "results" / "latest.json"
TALIB_TARGETS = ("sma", "ema", "rsi", "atr", "bollinger")  # eclipse / talib <= 1.0
NUMPY_TARGETS = ("vwap", "volume_zscore", "momentum")  # best numpy-or-pandas / eclipse >= 3.0
TALIB_MAX_RATIO = 1.0
NUMPY_MIN_SPEEDUP = 3.0
STEP_P95_MAX_NS = 1000.0


def run_benchmarks(out: Path, quick: bool, pytest_args: list[str]) -> int:
    env = dict(os.environ)
    if quick:
        env.setdefault("ECLIPSE_BENCH_N", "200000")
        env.setdefault("ECLIPSE_BENCH_STEP_CALLS", "50000")
        env.setdefault("ECLIPSE_BENCH_REPLAY_ROUNDS", "1")
        timing = ["--benchmark-min-rounds=3", "--benchmark-max-time=0.1", "--benchmark-warmup=off"]
    else:
        timing = ["--benchmark-min-rounds=5", "--benchmark-max-time=1.0", "--benchmark-warmup=on"]
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pytest", str(HERE), "-q", "-p", "no:cacheprovider", "--benchmark-sort=name",
        f"--benchmark-json={out}", *timing, *pytest_args,
    ]  # fmt: skip
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=HERE.parent, env=env, check=False).returncode


def summarize(data: dict[str, Any]) -> dict[str, Any]:
    batch: dict[str, dict[str, float]] = {}
    n_values = 0
    calls: dict[str, float] = {}
    latency: dict[str, float] = {}
    replay: dict[str, dict[str, float]] = {}
    machines: list[dict[str, Any]] = []
    for b in data.get("benchmarks", []):
        info, median = b.get("extra_info", {}), b["stats"]["median"]
        kind = info.get("kind")
        if "transitions_per_call" in info:  # benches/test_bench_machines.py
            per = median * 1e6 / int(info["transitions_per_call"])
            machines.append({"name": b["name"], "us_per_call": median * 1e6, "us_per_transition": per})
        if kind == "batch":
            n_values = int(info["n"])
            batch.setdefault(info["indicator"], {})[info["impl"]] = median * 1e9 / n_values
        elif kind == "call":
            calls[info["call"]] = median * 1e9
        elif kind == "latency":
            latency = {k: v for k, v in info.items() if k.endswith("_ns") or k == "calls"}
        elif kind == "replay":
            replay[info["call"]] = {"bars_per_s": info["bars_per_s"], "ns_per_bar": info["ns_per_bar"],
                                    "bars": info["bars"]}  # fmt: skip

    rows = []
    for ind, impls in batch.items():
        ecl, ta = impls.get("eclipse"), impls.get("talib")
        others = {k: v for k, v in impls.items() if k in ("numpy", "pandas")}
        best_name = min(others, key=others.__getitem__) if others else None
        best = others.get(best_name) if best_name else None
        row: dict[str, Any] = {
            "indicator": ind, "eclipse_ns_per_value": ecl, "talib_ns_per_value": ta,
            "best_numpy_pandas": best_name, "best_numpy_pandas_ns_per_value": best,
            "ratio_vs_talib": ecl / ta if ecl and ta else None,
            "speedup_vs_numpy_pandas": best / ecl if ecl and best else None,
        }  # fmt: skip
        if ind in TALIB_TARGETS:
            row["target"] = f"eclipse/TA-Lib <= {TALIB_MAX_RATIO:g}"
            row["met"] = None if row["ratio_vs_talib"] is None else row["ratio_vs_talib"] <= TALIB_MAX_RATIO
        elif ind in NUMPY_TARGETS:
            row["target"] = f">= {NUMPY_MIN_SPEEDUP:g}x numpy/pandas"
            sp = row["speedup_vs_numpy_pandas"]
            row["met"] = None if sp is None else sp >= NUMPY_MIN_SPEEDUP
        rows.append(row)

    noop = calls.get("python-noop")
    # step and update are timed through the same closure shape as python-noop (next ts, pick a bar, call)
    call_rows = [
        {"call": c, "ns_per_call": v,
         "ns_net_of_python_closure": (v - noop) if noop is not None and c in ("step", "update") else None}
        for c, v in calls.items() if c != "python-noop"
    ]  # fmt: skip
    step_target = {
        "target": f"Scorer.step p95 <= {STEP_P95_MAX_NS:g} ns",
        "p95_ns": latency.get("p95_ns"),
        "met": None if "p95_ns" not in latency else latency["p95_ns"] <= STEP_P95_MAX_NS,
    }
    return {"n_values": n_values, "batch": rows, "calls": call_rows, "noop_closure_ns": noop,
            "step_latency": latency, "step_target": step_target, "replay": replay,
            "machines": machines}  # fmt: skip


def metrics(data: dict[str, Any], s: dict[str, Any]) -> dict[str, float | None]:
    """The gate's flat view of a run: per-bar calls, step latency, replay rates, batch ns/value (eclipse),
    the simulator engine's order placement, state-machine transitions."""
    out: dict[str, float | None] = {}
    for r in s["calls"]:
        out[f"core.{r['call']}_ns"] = r["ns_per_call"]
        if r["ns_net_of_python_closure"] is not None:
            out[f"core.{r['call']}_net_ns"] = r["ns_net_of_python_closure"]
    out["core.noop_closure_ns"] = s["noop_closure_ns"]
    for k in ("p50", "p95", "p99", "p999"):
        if f"{k}_ns" in s["step_latency"]:
            out[f"core.step_latency_{k}_ns"] = s["step_latency"][f"{k}_ns"]
    for call, r in s["replay"].items():
        out[f"core.replay_{call}_bars_per_s"] = r["bars_per_s"]
    for r in s["batch"]:
        out[f"core.batch.{r['indicator']}_ns_per_value"] = r["eclipse_ns_per_value"]
    for m in s.get("machines", []):
        name = m["name"].removeprefix("test_").replace("[", ".").rstrip("]")
        out[f"machines.{name}_us_per_transition"] = m["us_per_transition"]
    for b in data.get("benchmarks", []):
        if b["name"].startswith("test_place_market_order["):  # test_bench_sim_engine.py
            store = b["name"].split("[", 1)[1].rstrip("]").replace("-", "_")
            out[f"sim_engine.place_{store}_us"] = b["stats"]["median"] * 1e6
    return out


def fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT MET", None: "n/a"}[met]


def print_table(s: dict[str, Any]) -> None:
    print(f"\nBatch indicators, {s['n_values']:,} float64 values, median ns per value")
    head = (f"{'indicator':<14}{'eclipse':>9}{'TA-Lib':>9}{'np/pd best':>18}{'ecl/TA':>9}{'np/pd / ecl':>13}"
            f"  {'target':<26}{'verdict'}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for r in s["batch"]:
        best = f"{fmt(r['best_numpy_pandas_ns_per_value'])} ({r['best_numpy_pandas'] or '-'})"
        print(
            f"{r['indicator']:<14}{fmt(r['eclipse_ns_per_value']):>9}{fmt(r['talib_ns_per_value']):>9}"
            f"{best:>18}{fmt(r['ratio_vs_talib']):>9}{fmt(r['speedup_vs_numpy_pandas']):>12}x"
            f"  {r.get('target', ''):<26}{verdict(r.get('met')) if 'target' in r else ''}"
        )
    print("\nPer-bar calls from Python (pytest-benchmark median; 'net' less the closure handing out the bar)")
    for r in s["calls"]:
        net = fmt(r["ns_net_of_python_closure"], ".0f")
        print(f"  {r['call']:<8} {fmt(r['ns_per_call'], '.0f'):>7} ns/call   net {net:>6} ns")
    if s["noop_closure_ns"] is not None:
        print(f"  (closure with a no-op instead of the call: {s['noop_closure_ns']:.0f} ns)")
    lat = s["step_latency"]
    if lat:
        print(
            f"\nScorer.step latency over {int(lat['calls']):,} calls (perf_counter_ns, timer overhead "
            f"{lat['timer_overhead_ns']:.0f} ns included): p50 {lat['p50_ns']:.0f} ns, "
            f"p95 {lat['p95_ns']:.0f} ns, "
            f"p99 {lat['p99_ns']:.0f} ns, p99.9 {lat['p999_ns']:.0f} ns, max {lat['max_ns']:.0f} ns"
        )
    t = s["step_target"]
    print(f"  target {t['target']}: {verdict(t['met'])}")
    for call, r in s["replay"].items():
        print(
            f"\nReplay of the {r['bars']:,}-bar BTC file via {call}: {r['bars_per_s']:,.0f} bars/s "
            f"({r['ns_per_bar']:.0f} ns/bar)"
        )
    if s.get("machines"):
        print("\nState machines (pytest-benchmark median)")
        for m in s["machines"]:
            call, per = m["us_per_call"], m["us_per_transition"]
            print(f"  {m['name']:<40} {call:8.2f} us/call  {per:7.2f} us/transition")
    print()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short mode for CI: 200k values, short rounds")
    ap.add_argument("--json", type=Path, help="read this pytest-benchmark JSON instead of running")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write the JSON ({DEFAULT_OUT})")
    ap.add_argument("--fail-on-miss", action="store_true", help="exit 1 when a target is not met")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args(argv)

    rc = 0
    started_at, started = utc_now(), time.perf_counter()
    if args.json is None:
        rc = run_benchmarks(args.out, args.quick, args.pytest_args)
        src = args.out
    else:
        src = args.json
    if not src.is_file():
        print(f"no benchmark JSON at {src}", file=sys.stderr)
        return rc or 2
    data = json.loads(src.read_text())
    summary = summarize(data)
    if args.json is not None and "schema" in data:  # a reprint keeps the run's own header, mode and machine
        mode = data["mode"]
        data["metrics"] = clean_metrics(metrics(data, summary))
    else:
        mode = "quick" if args.quick else "full"
        data = {**artefact("report", mode, started_at, started, metrics(data, summary)), **data}
    summary["mode"] = mode
    data["eclipse_summary"] = summary
    write_json(args.out, data)
    print_table(summary)
    print(f"JSON written to {args.out}")
    missed = [r["indicator"] for r in summary["batch"] if r.get("met") is False]
    if summary["step_target"]["met"] is False:
        missed.append("step p95")
    if missed:
        print("targets not met: " + ", ".join(missed))
    if rc not in (0,):
        print(f"pytest exited with {rc}", file=sys.stderr)
        return rc
    return 1 if (missed and args.fail_on_miss) else 0


if __name__ == "__main__":
    sys.exit(main())
