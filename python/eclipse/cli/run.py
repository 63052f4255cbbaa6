"""``eclipse run``: the trading daemon."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TextIO

from eclipse.cli.common import EXIT_USAGE, Subparsers


def register(sub: Subparsers) -> None:
    """Add this module's commands to ``sub``."""
    run = sub.add_parser("run", help="the trading daemon (not in this release)")
    run.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    print("eclipse run: the trading daemon arrives in a later release; nothing was started.", file=err)
    return EXIT_USAGE
