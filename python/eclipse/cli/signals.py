"""``eclipse signals``: replay 1m bars through the strategy and summarize the signals."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import numpy as np
from tqdm import tqdm

from eclipse.cli.common import Subparsers, positive_int
from eclipse.clock import SimClock
from eclipse.config.registry import PROFILES
from eclipse.config.settings import load_strategy_settings
from eclipse.errors import DataError
from eclipse.market.bars import BAR_MS, EMBEDDED_DATASET, OhlcvFrame, embedded_dataset, load_ohlcv_csv
from eclipse.strategy.audit import AuditWriter, utc_text
from eclipse.strategy.decision import Decision
from eclipse.strategy.engine import SignalEngine
from eclipse.strategy.replay import render_replay_summary, replay

PROGRESS_MIN_BARS = 5000


def register(sub: Subparsers) -> None:
    """Add this module's commands to ``sub``."""
    sig = sub.add_parser("signals", help="replay 1m bars through the strategy and summarize the signals")
    sig.add_argument(
        "--data", type=Path, help=f"OHLCV CSV (plain or .gz); default: embedded {EMBEDDED_DATASET}"
    )
    sig.add_argument("--symbol", help="symbol name (default: from the file name)")
    sig.add_argument("--profile", choices=PROFILES, help="signal profile (default: SCALPER_SIGNAL_PROFILE)")
    sig.add_argument("--limit", type=positive_int, help="replay only the first N bars")
    sig.add_argument("--show", choices=("all", "signals", "none"), default="signals", help="bars to print")
    sig.add_argument("--json", action="store_true", help="print only the summary, as JSON")
    sig.set_defaults(func=_cmd_signals)


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
