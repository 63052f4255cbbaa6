"""The ``eclipse`` command, one module per command family: ``signals``, ``audit``, ``config`` (``params``),
``specs``, ``sim-venue``, ``run``, ``status``, ``doctor``, ``simtest``; ``main`` dispatches.

This package is the only place that reads ``os.environ``; everything below it receives the mapping. ``main``
also sets up logging: records at ``--log-level`` (default WARNING) and up go to stderr, and the strategy's
confidence diagnostics too when SCALPER_CONFIDENCE_DIAG is on.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

from eclipse.cli import audit, config, doctor, replay, run, signals, sim_venue, simtest, specs, status
from eclipse.cli.common import EXIT_USAGE, Parser, version_text
from eclipse.config.settings import load_param
from eclipse.errors import EclipseError
from eclipse.strategy import engine as _engine

__all__ = ["DIAG_LOGGER", "LOG_LEVELS", "build_parser", "main"]

_FAMILIES = (signals, audit, config, specs, sim_venue, run, status, doctor, simtest, replay)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DIAG_LOGGER = _engine.__name__
"""The logger of the strategy's confidence diagnostics (SCALPER_CONFIDENCE_DIAG, INFO records)."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``eclipse`` command."""
    parser = Parser(prog="eclipse", description="Eclipse: safety-first crypto scalping.")
    parser.add_argument("--version", action="version", version=version_text())
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default="WARNING",
        metavar="LEVEL",
        help=f"log records from this level up on stderr: {', '.join(LOG_LEVELS)} (default WARNING)",
    )
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
        with _logging_to(err, args.log_level, os.environ):
            return int(args.func(args, os.environ, out, err))
    except EclipseError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _diag_on(env: Mapping[str, str]) -> bool:
    """SCALPER_CONFIDENCE_DIAG; a bad value counts as off here (the command reading the knob reports it)."""
    try:
        return bool(load_param(env, "SCALPER_CONFIDENCE_DIAG"))
    except EclipseError:
        return False


@contextmanager
def _logging_to(err: TextIO, level: str, env: Mapping[str, str]) -> Iterator[None]:
    """While the command runs: log records of ``level`` and up to ``err``, and the confidence diagnostics
    (INFO) when SCALPER_CONFIDENCE_DIAG is on; the logging setup is restored afterwards."""
    threshold = logging.getLevelNamesMapping()[level]
    diag = _diag_on(env)
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(lambda r: r.levelno >= threshold or (diag and r.name == DIAG_LOGGER))
    root, diag_logger = logging.getLogger(), logging.getLogger(DIAG_LOGGER)
    saved = root.level, diag_logger.level
    root.addHandler(handler)
    root.setLevel(threshold)
    if diag:
        diag_logger.setLevel(min(logging.INFO, threshold))
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        diag_logger.setLevel(saved[1])
