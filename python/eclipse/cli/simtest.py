"""``eclipse simtest``: the deterministic simulation of the whole daemon over many seeds (seeded venue and
engine faults, changes made under the daemon, kill points and restarts, all in simulated time), each run
judged by the proof checkers. Exit 0 when every seed holds, 1 when one does not (each failing seed printed
with the command that replays it), 2 on a usage error."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from eclipse.cli.common import Subparsers, int_at_least, knob_arg, positive_int
from eclipse.errors import EclipseError


def register(sub: Subparsers) -> None:
    """Add ``simtest`` to ``sub``."""
    p = sub.add_parser(
        "simtest",
        help="deterministic simulation of the daemon over many seeds (faults, crashes), checked",
        description=(
            "Run the daemon in simulated time once per seed: seeded venue faults (unknown outcomes, lost "
            "requests, 429/418, -1021, 5xx), engine faults (partial fills, cancel races, reduce-only "
            "shrinks), changes made under it (a stop removed, a position closed by hand), kill points and "
            "restarts on the same run directory; then check the journal, the telemetry and the venue's "
            "state. Same seed, same bytes. The environment's knobs are not read (use --knob)."
        ),
    )
    p.add_argument(
        "--seeds", type=positive_int, default=100, metavar="N", help="how many seeds (default 100)"
    )
    p.add_argument("--from", dest="first", type=int_at_least(0), default=0, metavar="S", help="first seed")
    p.add_argument(
        "--bars",
        type=int_at_least(10),
        default=None,
        help="bars with faults per seed (default 180; with --soak 100,000)",
    )
    p.add_argument(
        "--soak",
        action="store_true",
        help="one long run from seed --from over --symbols synthetic symbols, no kill points; RSS reported",
    )
    p.add_argument("--symbols", type=int_at_least(1), default=3, help="symbols of a --soak run (default 3)")
    p.add_argument(
        "--max-growth-mb",
        type=float,
        default=2.0,
        metavar="MB",
        help="a --soak run fails when RSS grows faster than this per 10,000 bars (default 2)",
    )
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=max(1, min(4, os.cpu_count() or 1)),
        help="worker processes (default: the CPU count, at most 4)",
    )
    p.add_argument("--knob", type=knob_arg, action="append", default=[], metavar="NAME=VALUE", help="a knob")
    p.add_argument("--no-faults", action="store_true", help="no venue or engine faults")
    p.add_argument("--no-crashes", action="store_true", help="no kill points")
    p.add_argument("--no-changes", action="store_true", help="nothing changed under the daemon")
    p.add_argument("--twice", action="store_true", help="run every seed again and compare byte for byte")
    p.add_argument("--keep", type=Path, metavar="DIR", help="keep every seed's run directory under DIR")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the summary and failures as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=_cmd_simtest)


def _cmd_simtest(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from eclipse.config.settings import load_param
    from eclipse.proof.batch import SIMTEST_KNOBS, reproduce_command, timed_batch
    from eclipse.proof.simulation import SeedResult, SimtestConfig

    knobs = {**SIMTEST_KNOBS, **dict(args.knob)}
    problems = []
    for name, value in knobs.items():
        try:
            load_param({name: value}, name)
        except KeyError:
            problems.append(f"--knob: no knob named {name} (see `eclipse params`)")
        except EclipseError as exc:
            problems.append(str(exc))
    if args.json is not None and not args.json.parent.is_dir():
        problems.append(
            f"--json {args.json}: no directory {args.json.parent} (create it, or give another path)"
        )
    if problems:
        raise EclipseError("; ".join(problems))
    if args.soak:
        return _soak(args, knobs, out, err)
    config = SimtestConfig(
        bars=args.bars if args.bars is not None else 180,
        faults=not args.no_faults,
        crashes=not args.no_crashes,
        changes=not args.no_changes,
        env=knobs,
    )
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.first, args.first + args.seeds))
    done: list[SeedResult] = []
    tty = err.isatty() and not args.quiet

    def progress(r: SeedResult) -> None:
        done.append(r)
        bad = sum(1 for x in done if not x.ok)
        if not r.ok:
            print(f"\nseed {r.seed}: FAILED ({len(r.report.violations)} violation(s))", file=err)
        if not args.quiet and (tty or len(done) % 25 == 0 or len(done) == len(seeds)):
            end = "\r" if tty and len(done) < len(seeds) else "\n"
            print(f"simtest: {len(done)}/{len(seeds)} seeds, {bad} failed", end=end, file=err, flush=True)

    results, summary = timed_batch(
        seeds, config, jobs=args.jobs, keep_dir=args.keep, twice=args.twice, on_result=progress
    )
    d = summary.to_dict()
    print(
        f"simtest: {summary.seeds} seeds from {args.first} in {summary.seconds:.1f}s "
        f"({summary.seeds_per_minute:.0f} seeds/min, {args.jobs} jobs), {summary.bars} bars, "
        f"{summary.lives} daemon lives",
        file=out,
    )
    crashes = ", ".join(f"{k} {v}" for k, v in sorted(summary.crashes.items())) or "none"
    print(f"  kills survived      {sum(summary.crashes.values())} ({crashes})", file=out)
    print(f"  faults injected     {summary.faults}; changes under the daemon {summary.changes}", file=out)
    print(
        f"  orders / fills      {summary.orders} / {summary.fills}; positions {summary.positions}", file=out
    )
    print(
        f"  protection gap      longest {summary.gap_longest_s:g}s, total {summary.gap_total_s:.1f}s",
        file=out,
    )
    p50 = "n/a" if summary.unknown_p50_ms is None else f"{summary.unknown_p50_ms:g} ms"
    print(
        f"  unknown orders      {summary.unknown_resolved} resolved, p50 {p50}, max "
        f"{summary.unknown_max_ms if summary.unknown_max_ms is not None else 'n/a'} ms",
        file=out,
    )
    print(f"  repairs             {summary.repairs}; debt peak {summary.debt_peak:g}", file=out)
    if args.twice:
        same = summary.seeds - len(summary.nondeterministic)
        print(f"  determinism         {same}/{summary.seeds} seeds replayed byte for byte", file=out)
    total = sum(summary.violations.values())
    print(f"  violations          {total}", file=out)
    failures = []
    for r in results:
        if r.ok:
            continue
        print(f"seed {r.seed}: crashes {list(r.crashes)}, changes {list(r.changes)}", file=out)
        for v in r.report.violations[:10]:
            print(f"  {v}", file=out)
        print(f"  replay: {reproduce_command(r.seed, config)}", file=out)
        failures.append({"seed": r.seed, "violations": [str(v) for v in r.report.violations]})
    for seed in summary.nondeterministic:
        print(
            f"seed {seed}: two runs differ (not deterministic); replay: {reproduce_command(seed, config)}",
            file=out,
        )
    if args.json is not None:
        try:
            args.json.write_text(json.dumps({"summary": d, "failures": failures}, indent=2) + "\n")
        except OSError as exc:
            raise EclipseError(f"--json {args.json}: cannot write ({exc.strerror or exc})") from None
    return 0 if summary.ok else 1


def _soak(args: argparse.Namespace, knobs: dict[str, str], out: TextIO, err: TextIO) -> int:
    from eclipse.proof.simulation import SimtestConfig
    from eclipse.proof.soak import SOAK_SYMBOLS, run_soak

    if args.symbols > len(SOAK_SYMBOLS):
        raise EclipseError(f"--symbols {args.symbols}: a soak has at most {len(SOAK_SYMBOLS)} symbols")
    bars = args.bars if args.bars is not None else 100_000
    if not args.quiet:
        print(f"soak: {bars} bars x {args.symbols} symbols from seed {args.first} ...", file=err, flush=True)
    config = SimtestConfig(faults=not args.no_faults, changes=not args.no_changes, env=knobs)
    run_dir = args.keep / f"soak-{args.first}" if args.keep is not None else None
    soak = run_soak(args.first, bars=bars, symbols=args.symbols, config=config, run_dir=run_dir)
    r, m = soak.result, soak.result.report.measures
    closes = r.bars / max(1, len(soak.symbols))
    print(
        f"soak: seed {r.seed}, {closes:.0f} bars x {len(soak.symbols)} symbols ({', '.join(soak.symbols)}) "
        f"in {r.seconds:.1f}s ({closes / r.seconds if r.seconds else 0:.0f} bar closes/s)",
        file=out,
    )
    growth = soak.growth_mb_per_10k
    print(
        f"  memory              RSS {soak.rss_start_mb:.1f} MiB at start, {soak.rss_end_mb:.1f} MiB at the "
        f"end, {growth:+.2f} MiB per 10,000 bars",
        file=out,
    )
    print(f"  faults injected     {r.faults}; changes under the daemon {len(r.changes)}", file=out)
    print(f"  orders / fills      {m.orders} / {m.fills}; positions {m.positions}", file=out)
    print(f"  protection gap      longest {m.longest_gap_s:g}s, total {m.gap_total_s:.1f}s", file=out)
    print(f"  violations          {len(r.report.violations)}", file=out)
    for v in r.report.violations[:20]:
        print(f"  {v}", file=out)
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(soak.to_dict(), indent=2) + "\n")
        except OSError as exc:
            raise EclipseError(f"--json {args.json}: cannot write ({exc.strerror or exc})") from None
    leak = growth > args.max_growth_mb
    if leak:
        print(
            f"  memory grows {growth:.2f} MiB per 10,000 bars (over --max-growth-mb {args.max_growth_mb:g})",
            file=out,
        )
    return 0 if r.ok and not leak else 1
