"""What every command module of the CLI shares: the parser class, argument types, the handler signature."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TextIO

__all__ = [
    "EXIT_USAGE",
    "Handler",
    "Parser",
    "Subparsers",
    "int_at_least",
    "knob_arg",
    "positive_int",
    "version_text",
]

EXIT_USAGE = 2
"""Exit code of a usage, configuration or data error."""

Handler = Callable[[argparse.Namespace, Mapping[str, str], TextIO, TextIO], int]
"""A command: ``(args, env, out, err) -> exit code``; ``env`` is the process environment."""

Subparsers = Any
"""argparse's subparsers action (``add_subparsers()``): its class is private."""


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    return int_at_least(1)(text)


def int_at_least(minimum: int) -> Callable[[str], int]:
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


def version_text() -> str:
    """``eclipse X (core Y)``."""
    from eclipse import __version__

    try:
        from eclipse import _core

        core = _core.__version__
    except ImportError:  # pragma: no cover - only without a built extension
        core = "not built"
    return f"eclipse {__version__} (core {core})"


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (what is wrong, where the help is) and exit code 2; the
    subcommands' parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def knob_arg(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` (a registry knob given on the command line, e.g. ``--knob``)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE (a registry knob)")
    return name.strip(), value.strip()
