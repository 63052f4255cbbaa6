"""``eclipse sim-venue``: the exchange simulator on loopback."""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from eclipse.cli.common import EXIT_USAGE, Subparsers, int_at_least
from eclipse.market.bars import EMBEDDED_DATASET


def _speed(text: str) -> float:
    """An argparse type: a finite number > 0 (argparse names the flag in its error)."""
    try:
        value = float(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0 such as 1 or 10, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0 such as 1 or 10, got {text!r}")
    return value


def register(sub: Subparsers) -> None:
    """Add this module's commands to ``sub``."""
    simv = sub.add_parser(
        "sim-venue", help="run the exchange simulator (Binance / Coinbase REST on loopback)"
    )
    simv.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    simv.add_argument("--port", type=int_at_least(0), default=0, help="port (default 0: a free one)")
    simv.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="SYMBOL=PATH",
        help=f"OHLCV or trades CSV per symbol (repeatable); default: embedded {EMBEDDED_DATASET} as BTCUSDT",
    )
    pace = simv.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=_speed, default=1.0, help="replay speed (1 = real time)")
    pace.add_argument("--stepped", action="store_true", help="market time moves only via POST /_sim/step")
    simv.add_argument("--db", type=Path, help="SQLite state file (default: in memory, lost at exit)")
    simv.add_argument("--seed", type=int, default=0, help="seed of the fault injector (default 0)")
    simv.add_argument("--faults", help="fault plan: a JSON file or inline JSON")
    simv.add_argument(
        "--weight-limit",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="request weight per market minute and client before 429 (default 2400, as Binance USD-M; "
        "x speed per wall minute in a replay)",
    )
    simv.add_argument(
        "--order-limit-10s",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="orders per 10 seconds of market time before 429 (default 300)",
    )
    simv.add_argument(
        "--order-limit-1m",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="orders per market minute before 429 (default 1200)",
    )
    simv.add_argument(
        "--start-offset-bars",
        type=int_at_least(0),
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


def _per_wall(given: int | None, default: int, scale: float) -> int:
    """A request limit per wall window: ``given`` or ``default`` (per market window) times ``scale``."""
    return round((given if given is not None else default) * scale)


def _cmd_sim_venue(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    import asyncio
    import contextlib
    import logging

    from eclipse.venues.sim.config import DEFAULT_KEY, DEFAULT_SECRET, SimConfig, parse_data_sources
    from eclipse.venues.sim.faults import load_fault_plan

    # limits are per market minute, as a real venue's: a replay at x S grants S times as much per wall minute
    scale = 1.0 if args.stepped else max(1.0, args.speed)
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
            weight_limit_1m=_per_wall(args.weight_limit, 2400, scale),
            order_limit_10s=_per_wall(args.order_limit_10s, 300, scale),
            order_limit_1m=_per_wall(args.order_limit_1m, 1200, scale),
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
