"""The ``eclipse`` command, one module per command family: ``signals``, ``audit``, ``config`` (``params``),
``specs``, ``sim-venue``, ``run``; ``main`` dispatches.

This package is the only place that reads ``os.environ``; everything below it receives the mapping.
"""

from __future__ import annotations

import argparse
import os
import sys

from eclipse.cli import audit, config, run, signals, sim_venue, specs
from eclipse.cli.common import EXIT_USAGE, Parser, version_text
from eclipse.errors import EclipseError

__all__ = ["build_parser", "main"]

_FAMILIES = (signals, audit, config, specs, sim_venue, run)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``eclipse`` command."""
    parser = Parser(prog="eclipse", description="Eclipse: safety-first crypto scalping.")
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for family in _FAMILIES:
        family.register(sub)
    return parser


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
