"""``eclipse replay RUN_DIR``: a recorded session pushed back through the daemon (router, reconcile, guards,
strategy) in simulated time against a venue that answers as the recording says, to reproduce an incident
and to test a fix (a changed knob, changed code) against it. Exit 0 when the replayed journal is the recorded
one and every proof checker holds, 1 when it diverges or a checker fails, 2 on a usage or data error.
See ``docs/proof.md`` ("Replay of an incident")."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from eclipse.cli.common import Subparsers, knob_arg
from eclipse.errors import EclipseError
from eclipse.market.bars import OhlcvFrame, load_ohlcv_csv

__all__ = ["register"]


def _time(text: str) -> int:
    from eclipse.proof.replay import parse_time

    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: Subparsers) -> None:
    """Add ``replay`` to ``sub``."""
    p = sub.add_parser(
        "replay",
        help="replay a recorded run (journal, telemetry, bars) through the daemon; compare, check",
        description=(
            "Push the venue interactions a run directory recorded back through the daemon in simulated time "
            "(the recorded bars, the recorded answers of the venue, its read failures at their recorded "
            "times), then compare the replayed journal with the recorded one record by record and run the "
            "proof checkers. Knobs as `eclipse run` reads them (--config, .env, the environment), then "
            "--knob: the fix to test. Deterministic: the same run directory and knobs print the same bytes."
        ),
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the --dir of a recorded `eclipse run`")
    p.add_argument(
        "--from", dest="from_ms", type=_time, metavar="T", help="first bar: Unix ms or ISO-8601 UTC"
    )
    p.add_argument("--to", dest="to_ms", type=_time, metavar="T", help="last bar: Unix ms or ISO-8601 UTC")
    p.add_argument("--out", type=Path, metavar="DIR", help="the replayed run directory (new or empty)")
    p.add_argument("--keep", action="store_true", help="keep the temporary replayed run directory")
    p.add_argument(
        "--knob", type=knob_arg, action="append", default=[], metavar="NAME=VALUE", help="override a knob"
    )
    p.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="SYMBOL=PATH",
        help="1m OHLCV CSV of the bars before the run (warm-up history; the embedded month is found alone)",
    )
    p.add_argument("--seed", type=int, default=0, help="the recorded run's --seed (router jitter; default 0)")
    p.add_argument("--config", type=Path, metavar="FILE", help="TOML file of knobs (lowest precedence)")
    p.add_argument(
        "--env-file", type=Path, metavar="FILE", help="the .env file (default: ./.env when it exists)"
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the result as JSON")
    p.set_defaults(func=_cmd_replay)


def _history(items: list[str]) -> dict[str, OhlcvFrame]:
    from eclipse.errors import ConfigError
    from eclipse.venues.sim.config import parse_data_sources

    try:
        sources = parse_data_sources(items)
    except ValueError as exc:
        raise ConfigError("--data", " ".join(items), str(exc)) from None
    try:
        return {symbol: load_ohlcv_csv(Path(path)) for symbol, path in sources}
    except EclipseError as exc:
        raise EclipseError(f"--data: {exc}") from None


def _cmd_replay(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from eclipse.cli.config import load_from_args
    from eclipse.cli.run import DEMO_ENV
    from eclipse.proof.replay import ReplayConfig, replay_run

    loaded = load_from_args(args, env)
    history = _history(args.data)
    config = ReplayConfig(
        from_ms=args.from_ms,
        to_ms=args.to_ms,
        out=args.out,
        keep=args.keep,
        env=loaded.env,
        knobs=dict(args.knob),
        embedded_defaults=DEMO_ENV,
        history=history,
        seed=args.seed,
    )
    result = replay_run(args.run_dir, config)
    for line in result.lines():
        print(line, file=out)
    if result.out_dir is not None and args.out is None:
        print(f"replayed run directory kept: {result.out_dir}", file=err)
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise EclipseError(f"--json {args.json}: cannot write ({exc.strerror or exc})") from None
    return 0 if result.ok else 1
