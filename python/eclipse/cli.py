"""The ``eclipse`` command: ``signals`` (replay 1m bars through the strategy), ``audit report``, ``params``,
``sim-venue`` (the exchange simulator), ``run`` and ``--version``.

This is the only module that reads ``os.environ``; everything below it receives the mapping.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn, TextIO

import numpy as np
from tqdm import tqdm

from eclipse import __version__
from eclipse.clock import SimClock
from eclipse.config.describe import describe_params, render_params_table
from eclipse.config.registry import PROFILES
from eclipse.config.settings import load_param, load_strategy_settings
from eclipse.errors import DataError, EclipseError
from eclipse.market.bars import BAR_MS, EMBEDDED_DATASET, OhlcvFrame, embedded_dataset, load_ohlcv_csv
from eclipse.strategy.audit import (
    AuditWriter,
    read_audit_rows,
    render_audit_rows,
    render_audit_summary,
    summarize_audit,
    utc_text,
)
from eclipse.strategy.decision import Decision
from eclipse.strategy.engine import SignalEngine
from eclipse.strategy.replay import render_replay_summary, replay

__all__ = ["main"]

PROGRESS_MIN_BARS = 5000
EXIT_USAGE = 2


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a plain integer >= ``minimum`` (argparse names the flag in its error)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    return parse


def _version_text() -> str:
    try:
        from eclipse import _core

        core = _core.__version__
    except ImportError:  # pragma: no cover - only without a built extension
        core = "not built"
    return f"eclipse {__version__} (core {core})"


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (what is wrong, where the help is) and exit code 2; the
    subcommands' parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``eclipse`` command."""
    parser = _Parser(prog="eclipse", description="Eclipse: safety-first crypto scalping.")
    parser.add_argument("--version", action="version", version=_version_text())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sig = sub.add_parser("signals", help="replay 1m bars through the strategy and summarize the signals")
    sig.add_argument(
        "--data", type=Path, help=f"OHLCV CSV (plain or .gz); default: embedded {EMBEDDED_DATASET}"
    )
    sig.add_argument("--symbol", help="symbol name (default: from the file name)")
    sig.add_argument("--profile", choices=PROFILES, help="signal profile (default: SCALPER_SIGNAL_PROFILE)")
    sig.add_argument("--limit", type=_positive_int, help="replay only the first N bars")
    sig.add_argument("--show", choices=("all", "signals", "none"), default="signals", help="bars to print")
    sig.add_argument("--json", action="store_true", help="print only the summary, as JSON")
    sig.set_defaults(func=_cmd_signals)

    audit = sub.add_parser("audit", help="strategy audit tools")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    report = audit_sub.add_parser("report", help="summarize the strategy audit CSV")
    report.add_argument("--path", type=Path, help="audit CSV (default: SCALPER_AUDIT_PATH)")
    report.add_argument("--summary-only", action="store_true", help="skip the recent rows")
    report.add_argument("--rows", type=int, default=20, help="recent rows to show (default 20)")
    report.set_defaults(func=_cmd_audit_report)

    params = sub.add_parser("params", help="list every knob with its defaults, owner and safety impact")
    params.add_argument("--profile", choices=PROFILES, help="show only this profile's defaults")
    params.set_defaults(func=_cmd_params)

    specs = sub.add_parser("specs", help="state-machine specs: verify, and show as table or diagram")
    specs.add_argument("--specs", type=Path, help="specs directory (default: specs/ of this checkout)")
    specs_sub = specs.add_subparsers(dest="specs_command", metavar="COMMAND", required=True)
    check = specs_sub.add_parser("check", help="conformance of every machine and the bounded model check")
    check.add_argument("--depth", type=_positive_int, help="model-check depth (default: the checker's)")
    check.set_defaults(func=_cmd_specs_check)
    for name, what in (("table", "transition table (Markdown)"), ("diagram", "Mermaid state diagram")):
        p = specs_sub.add_parser(name, help=f"print a machine's {what}")
        p.add_argument("machine", help="machine name (file name in specs/ without .toml)")
        p.set_defaults(func=_cmd_specs_show, view=name)
    readme = specs_sub.add_parser("readme", help="print (or --write) the generated specs/README.md")
    readme.add_argument("--write", action="store_true", help="rewrite specs/README.md in place")
    readme.set_defaults(func=_cmd_specs_readme)

    simv = sub.add_parser(
        "sim-venue", help="run the exchange simulator (Binance / Coinbase REST on loopback)"
    )
    simv.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    simv.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    simv.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="SYMBOL=PATH",
        help=f"OHLCV or trades CSV per symbol (repeatable); default: embedded {EMBEDDED_DATASET} as BTCUSDT",
    )
    pace = simv.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0, help="replay speed (1 = real time)")
    pace.add_argument("--stepped", action="store_true", help="market time moves only via POST /_sim/step")
    simv.add_argument("--db", type=Path, help="SQLite state file (default: in memory, lost at exit)")
    simv.add_argument("--seed", type=int, default=0, help="seed of the fault injector (default 0)")
    simv.add_argument("--faults", help="fault plan: a JSON file or inline JSON")
    simv.add_argument(
        "--weight-limit",
        type=_int_at_least(1),
        default=2400,
        metavar="N",
        help="request weight per minute and client before 429 (default 2400, as Binance USD-M)",
    )
    simv.add_argument(
        "--order-limit-10s",
        type=_int_at_least(1),
        default=300,
        metavar="N",
        help="orders per 10 seconds before 429 (default 300)",
    )
    simv.add_argument(
        "--order-limit-1m",
        type=_int_at_least(1),
        default=1200,
        metavar="N",
        help="orders per minute before 429 (default 1200)",
    )
    simv.add_argument(
        "--start-offset-bars",
        type=_int_at_least(0),
        default=1440,
        metavar="N",
        help="bars of history before the replay's start (kline history; at most half the data; default 1440)",
    )
    simv.add_argument(
        "--algo-ids",
        choices=("apart", "coincide"),
        default="apart",
        help="algo (conditional) order ids: apart = from 1000000001, far from the order ids that start at "
        "1 (default); coincide = from 1 too, so one number names an order in each book",
    )
    simv.add_argument("--log-requests", action="store_true", help="log every request to stderr")
    simv.set_defaults(func=_cmd_sim_venue)

    run = sub.add_parser("run", help="the trading daemon (not in this release)")
    run.set_defaults(func=_cmd_run)
    return parser


def _spec_dir(args: argparse.Namespace) -> Path:
    from eclipse.machines.spec import find_spec_dir

    return args.specs if args.specs is not None else find_spec_dir()


def _cmd_specs_check(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from eclipse.machines.check import render_check, run_check

    report = run_check(_spec_dir(args), args.depth)
    print(render_check(report), file=out)
    return 0 if report.ok else 1


def _cmd_specs_show(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from eclipse.machines import render
    from eclipse.machines.spec import SpecError, load_specs

    specs = load_specs(_spec_dir(args))
    if args.machine not in specs:
        raise SpecError(f"no machine {args.machine!r}; known: {', '.join(sorted(specs))}")
    spec = specs[args.machine]
    print(render.table(spec) if args.view == "table" else render.mermaid(spec), file=out)
    return 0


def _cmd_specs_readme(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from eclipse.machines.check import readme_text

    spec_dir = _spec_dir(args)
    text = readme_text(spec_dir)
    if args.write:
        (spec_dir / "README.md").write_text(text, encoding="utf-8")
        print(f"wrote {spec_dir / 'README.md'}", file=err)
    else:
        print(text, file=out, end="")
    return 0


def _symbol_from(source: str) -> str:
    return Path(source).name.split("_", 1)[0].split(".", 1)[0].upper() or "SYMBOL"


def _load_frame(data: Path | None, err: TextIO) -> OhlcvFrame:
    if data is None:
        frame = embedded_dataset()
        print(
            f"using the embedded dataset {EMBEDDED_DATASET} ({len(frame)} bars); --data FILE for another",
            file=err,
        )
        return frame
    frame = load_ohlcv_csv(data)
    if len(frame) > 1:
        step = int(np.median(np.diff(frame.ts_ms)))
        if step != BAR_MS:
            raise DataError(f"{data}: expected 1m bars ({BAR_MS} ms apart), the typical spacing is {step} ms")
    return frame


def _format_decision(d: Decision) -> str:
    """One line per decision, stamped with the decision time: the close of the bar (its open time + 1 min)."""
    side = d.side if d.direction else "-"
    tag = " forced" if d.forced else ""
    block = f"[{d.blocked_by}] " if d.blocked_by else ""
    when = utc_text(d.ts_ms + BAR_MS)
    return f"{when} UTC  {side:<5}  {d.confidence:.3f}{tag}  {block}{d.signal.explain()}"


def _cmd_signals(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    settings = load_strategy_settings(env, args.profile)
    frame = _load_frame(args.data, err)
    if args.limit is not None:
        frame = frame.head(args.limit)
    source = str(args.data) if args.data is not None else EMBEDDED_DATASET
    symbol = args.symbol or _symbol_from(source)
    clock = SimClock()
    audit = AuditWriter.from_settings(settings.audit, clock)
    if audit is not None:
        print(f"audit: appending to {audit.path}", file=err)
    engine = SignalEngine(settings, clock, audit)
    show = "none" if args.json else args.show
    disable = len(frame) < PROGRESS_MIN_BARS or not err.isatty()

    if show != "none":
        print("decision time (bar close, UTC)  side   confidence  explanation", file=out)

    def on_decision(d: Decision) -> None:
        if show == "all" or (show == "signals" and d.direction != 0):
            if disable:
                print(_format_decision(d), file=out)
            else:  # keep the progress bar intact
                tqdm.write(_format_decision(d), file=out)

    bars = tqdm(frame.bars(), total=len(frame), file=err, disable=disable, unit="bar", desc=symbol)
    summary = replay(bars, engine, clock, symbol, source=source, on_decision=on_decision)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2), file=out)
    else:
        print(render_replay_summary(summary), file=out)
    return 0


def _cmd_audit_report(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    path = args.path if args.path is not None else Path(str(load_param(env, "SCALPER_AUDIT_PATH")))
    summary = summarize_audit(path)
    if not args.summary_only:
        rows_text = render_audit_rows(read_audit_rows(path), args.rows)
        if rows_text:
            print(rows_text, file=out)
    print(render_audit_summary(summary), file=out)
    return 0


def _cmd_params(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    profiles = (args.profile,) if args.profile else PROFILES
    print(render_params_table(describe_params(profiles)), file=out)
    return 0


def _cmd_sim_venue(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    import asyncio
    import contextlib
    import logging

    from eclipse.venues.sim.config import DEFAULT_KEY, DEFAULT_SECRET, SimConfig, parse_data_sources
    from eclipse.venues.sim.faults import load_fault_plan

    try:
        config = SimConfig(
            host=args.host,
            port=args.port,
            data=parse_data_sources(args.data),
            speed=args.speed,
            stepped=args.stepped,
            db_path=str(args.db) if args.db is not None else None,
            seed=args.seed,
            faults=load_fault_plan(args.faults) if args.faults else None,
            weight_limit_1m=args.weight_limit,
            order_limit_10s=args.order_limit_10s,
            order_limit_1m=args.order_limit_1m,
            start_offset_bars=args.start_offset_bars,
            algo_ids=args.algo_ids,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    if args.log_requests:
        handler = logging.StreamHandler(err)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        sim_log = logging.getLogger("eclipse.sim")
        sim_log.addHandler(handler)
        sim_log.setLevel(logging.INFO)
    if not config.data:
        print(
            f"using the embedded dataset {EMBEDDED_DATASET} as BTCUSDT; --data SYMBOL=PATH for another",
            file=err,
        )

    async def serve() -> None:
        import signal

        from eclipse.venues.sim.runner import start_server

        server = await start_server(config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # platforms without signals
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        mode = "stepped (POST /_sim/step)" if config.stepped else f"replay x{config.speed:g}"
        print(f"eclipse sim-venue serving on {server.url}  [{mode}]", file=out)
        print(
            f"  api key: {DEFAULT_KEY}   secret: {DEFAULT_SECRET}   (the fixed, public test pair)", file=out
        )
        print(
            "  Binance USD-M /fapi, spot /api/v3, Coinbase /api/v3/brokerage, control /_sim; Ctrl-C stops",
            file=out,
        )
        print(
            f"  limits: weight {config.weight_limit_1m}/min, orders {config.order_limit_10s}/10s and "
            f"{config.order_limit_1m}/min; replay starts {config.start_offset_bars} bars into the data",
            file=out,
        )
        fut = server.ctx.futures
        print(
            f"  ids: algo ids {config.algo_ids.value}; next futures order id {fut.next_order_id}, "
            f"next algo id {fut.next_algo_id}",
            file=out,
        )
        out.flush()
        try:
            await stop.wait()
        finally:
            await server.stop()
            print("eclipse sim-venue stopped", file=err)

    from eclipse.venues.sim.runner import new_event_loop

    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(serve())
    return 0


def _cmd_run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    print("eclipse run: the trading daemon arrives in a later release; nothing was started.", file=err)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """The ``eclipse`` console script; returns the exit code (2: usage, config or data error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    out, err = sys.stdout, sys.stderr
    try:
        return int(args.func(args, os.environ, out, err))
    except EclipseError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
