"""``eclipse params``: the parameter registry."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TextIO

from eclipse.cli.common import Subparsers
from eclipse.config.describe import describe_params, render_params_table
from eclipse.config.registry import PROFILES


def register(sub: Subparsers) -> None:
    """Add this module's commands to ``sub``."""
    params = sub.add_parser("params", help="list every knob with its defaults, owner and safety impact")
    params.add_argument("--profile", choices=PROFILES, help="show only this profile's defaults")
    params.set_defaults(func=_cmd_params)


def _cmd_params(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    profiles = (args.profile,) if args.profile else PROFILES
    print(render_params_table(describe_params(profiles)), file=out)
    return 0
