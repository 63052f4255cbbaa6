"""``eclipse run``: the trading daemon (see ``docs/daemon.md``).

With no configuration it starts the built-in exchange simulator on the embedded BTC month and trades it
through the real ccxt client at an accelerated replay, showing a live status; it stops by itself after
:data:`DEMO_MAX_BARS` bars (``--max-bars 0``: the whole month) or on Ctrl-C, and prints the run summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import re
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from eclipse.cli.common import EXIT_USAGE, Subparsers, int_at_least
from eclipse.cli.config import load_from_args
from eclipse.errors import ConfigError

DEMO_MAX_BARS = 240
"""Bars the embedded default runs (four hours of market time: two minutes at its default speed)."""
DEMO_SPEED = 120.0
"""Replay speed of the built-in simulator by default (two bars a second)."""
EXIT_INTERRUPTED = 130
DEMO_ENV: Mapping[str, str] = {"FIXED_NOTIONAL_USDT": "200"}
"""Defaults of the embedded default (the environment and --config still win): the micro profile's 6 USDT
entries are below the simulated BTC market's minimum order (0.001 BTC, 100 USDT notional)."""


def _speed(text: str) -> float:
    if text.strip().lower() == "max":
        return math.inf
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0 or 'max', got {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= 100_000:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 100000] or 'max', got {text!r}")
    return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def _duration(text: str) -> float:
    m = _DURATION.match(text.lower())
    if m is None or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration like 90, 90s, 10m, 2h, got {text!r}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def register(sub: Subparsers) -> None:
    """Add ``eclipse run``."""
    run = sub.add_parser(
        "run",
        help="the trading daemon (default: the built-in simulator on the embedded BTC month, dry)",
        description="Run the trading daemon. Dry-run unless SCALPER_DRY_RUN=0 and --live and keys.",
    )
    run.add_argument("--dir", type=Path, default=Path("eclipse-run"), help="run directory (./eclipse-run)")
    run.add_argument("--config", type=Path, metavar="FILE", help="TOML file of knobs (lowest precedence)")
    run.add_argument(
        "--env-file", type=Path, metavar="FILE", help="the .env file (default: ./.env when it exists)"
    )
    run.add_argument("--live", action="store_true", help="trade real money (also needs SCALPER_DRY_RUN=0)")
    run.add_argument(
        "--clock",
        choices=("wall", "sim"),
        default="wall",
        help="wall (default) or sim: simulated time, in-process, as fast as the CPU allows",
    )
    run.add_argument(
        "--speed",
        type=_speed,
        help=f"replay speed of the built-in simulator (1 = real time, 60 = a bar a second; default "
        f"{DEMO_SPEED:g}); 'max' with --clock sim",
    )
    run.add_argument("--seed", type=int, default=0, help="seed (router jitter, simulator faults)")
    run.add_argument(
        "--max-bars",
        type=int_at_least(0),
        metavar="N",
        help=f"stop after N closed bars (0 = no limit; default {DEMO_MAX_BARS} on the embedded default)",
    )
    run.add_argument("--duration", type=_duration, help="stop after this wall time (90s, 10m, 2h)")
    run.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="SYMBOL=PATH",
        help="1m OHLCV CSV per symbol for the built-in simulator or simulated time (repeatable)",
    )
    run.add_argument("--plain", action="store_true", help="plain log lines, no redrawn status")
    run.set_defaults(func=_cmd_run)


def _options(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[object, bool]:
    from eclipse.runtime.daemon import RunOptions
    from eclipse.venues.sim.config import parse_data_sources

    sim_clock = args.clock == "sim"
    if args.speed is not None and math.isinf(args.speed) and not sim_clock:
        raise ConfigError("--speed", "max", "a number (max is for --clock sim)")
    if sim_clock and args.speed is not None and not math.isinf(args.speed):
        raise ConfigError("--speed", args.speed, "max or nothing with --clock sim (it never waits)")
    try:
        data = parse_data_sources(args.data)
    except ValueError as exc:
        raise ConfigError("--data", " ".join(args.data), str(exc)) from None
    demo = not env.get("EXCHANGE_ADAPTER") and not env.get("VENUE_API_URL") and not args.data
    max_bars = args.max_bars if args.max_bars is not None else (DEMO_MAX_BARS if demo else 0)
    speed = None if sim_clock else (args.speed if args.speed is not None else DEMO_SPEED)
    options = RunOptions(
        run_dir=args.dir,
        live=args.live,
        sim_clock=sim_clock,
        speed=speed,
        seed=args.seed,
        max_bars=max_bars or None,
        duration_sec=args.duration,
        data=data,
    )
    return options, demo


def _log_to(path: Path) -> tuple[logging.Handler, int]:
    """The daemon's log file (INFO and up of the ``eclipse`` loggers); the logger's previous level."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("eclipse")
    previous = logger.level
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    # the built-in simulator's per-request lines belong to `eclipse sim-venue --log-requests`, not here
    handler.addFilter(lambda record: record.name != "eclipse.sim" or record.levelno >= logging.WARNING)
    return handler, previous


def _cmd_run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from eclipse.runtime.daemon import Daemon, RunOptions
    from eclipse.runtime.display import make_display
    from eclipse.runtime.setup import RunMode, resolve_mode
    from eclipse.runtime.summary_text import render_summary
    from eclipse.venues.sim.runner import new_event_loop

    loaded = load_from_args(args, env)
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=err)
    env = loaded.env
    options, demo = _options(args, env)
    assert isinstance(options, RunOptions)
    # live asked for twice, or not at all: said first, before the list of what a live start lacks
    mode = resolve_mode(env, live_flag=options.live, sim_clock=options.sim_clock)
    loaded.require_valid()
    if demo:
        env = {**DEMO_ENV, **env}
    if mode is RunMode.LIVE:
        _live_checklist(env, out)
    display = make_display(out, force_plain=args.plain)
    daemon = Daemon(env, options, on_event=display.event_line)
    if demo and mode is RunMode.SIM:
        print(
            "eclipse run: no exchange configured, so the built-in simulator replays the embedded BTC month "
            f"(no keys, no real money) at x{options.speed:g}; stops after {options.max_bars} bars or Ctrl-C",
            file=err,
        )
    logged = _log_to(options.run_dir / "logs" / "daemon.log") if _writable_parent(options.run_dir) else None
    interrupted = False

    async def main() -> dict[str, object]:
        nonlocal interrupted
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        signals = 0

        def on_signal() -> None:
            nonlocal signals, interrupted
            signals += 1
            if signals == 1:
                daemon.request_stop("signal: stopping gracefully (again to stop at once)")
                daemon.event("stopping: entries off, stops stay on the venue (Ctrl-C again to stop at once)")
            elif task is not None:
                interrupted = True
                task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, on_signal)
        try:
            await daemon.start(mode)
            from eclipse.runtime.loops import run_simulated, run_wall

            with display:
                if mode is RunMode.SIMULATED:
                    await run_simulated(daemon, display)
                else:
                    await run_wall(daemon, display)
            return await daemon.shutdown()
        finally:
            await daemon.close()

    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            summary = runner.run(main())
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("eclipse run: stopped at once (the journal is consistent; run again to resume)", file=err)
        return EXIT_INTERRUPTED
    finally:
        if logged is not None:
            logger = logging.getLogger("eclipse")
            logger.removeHandler(logged[0])
            logger.setLevel(logged[1])
            logged[0].close()
    print(render_summary(summary), file=out)
    print(f"run directory: {options.run_dir} (summary.json, summary.md, journal, telemetry)", file=err)
    return 0


def _live_checklist(env: Mapping[str, str], out: TextIO) -> None:
    """A live start prints the risk checklist and refuses while a required limit is unset."""
    from eclipse.config.checklist import missing_live_limits, risk_checklist

    print("risk checklist (live):", file=out)
    for item in risk_checklist(env, str(env.get("SCALPER_MODE", "micro") or "micro"), live=True):
        mark = "ok  " if item.ok else "FAIL"
        print(f"  {mark} {item.name:<28} {item.value:<24} {item.note}"[:100], file=out)
    missing = missing_live_limits(env)
    if missing:
        raise ConfigError(
            ", ".join(missing),
            "(unset)",
            "every risk limit set before a live start (see the checklist above)",
        )


def _writable_parent(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return True


__all__ = ["DEMO_MAX_BARS", "DEMO_SPEED", "EXIT_USAGE", "register", "sys"]
