"""Parsers of env-var strings into typed values; a bad value raises :class:`ConfigError` naming the knob."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from eclipse.errors import ConfigError
from eclipse.strategy.sessions import HOURS_EXPECTED, SessionHours

__all__ = [
    "Parser",
    "bool_parser",
    "choice_parser",
    "float_parser",
    "format_value",
    "hours_parser",
    "int_parser",
    "path_parser",
]

T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class Parser(Generic[T]):
    """Turns a raw string into a ``T``; ``kind`` names the type, ``expected`` describes the format."""

    kind: str
    expected: str
    convert: Callable[[str], T]

    def parse(self, knob: str, raw: str, *, secret: bool = False) -> T:
        """Parse ``raw`` (surrounding whitespace ignored); ConfigError naming ``knob`` when it is invalid."""
        try:
            return self.convert(raw.strip())
        except (ValueError, OverflowError):
            raise ConfigError(knob, raw, self.expected, secret=secret) from None


def _to_bool(text: str) -> bool:
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(text)


def bool_parser() -> Parser[bool]:
    """Booleans written 1/0, true/false, yes/no or on/off (any case)."""
    return Parser("bool", "a boolean: 1/0, true/false, yes/no or on/off", _to_bool)


def _bounds_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" in [{lo:g}, {hi:g}]"
    if lo is not None:
        return f" >= {lo:g}"
    if hi is not None:
        return f" <= {hi:g}"
    return ""


def int_parser(min_value: int | None = None, max_value: int | None = None) -> Parser[int]:
    """Decimal integers, optionally bounded (inclusive)."""

    def convert(text: str) -> int:
        value = int(text, 10)
        if (min_value is not None and value < min_value) or (max_value is not None and value > max_value):
            raise ValueError(text)
        return value

    return Parser("int", "an integer" + _bounds_text(min_value, max_value), convert)


def float_parser(min_value: float | None = None, max_value: float | None = None) -> Parser[float]:
    """Finite decimal numbers (no NaN or inf), optionally bounded (inclusive)."""

    def convert(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        if (min_value is not None and value < min_value) or (max_value is not None and value > max_value):
            raise ValueError(text)
        return value

    return Parser("float", "a finite number" + _bounds_text(min_value, max_value), convert)


def choice_parser(choices: Sequence[str]) -> Parser[str]:
    """One of ``choices`` (case-insensitive; returned in the listed spelling)."""
    by_lower = {c.lower(): c for c in choices}

    def convert(text: str) -> str:
        try:
            return by_lower[text.lower()]
        except KeyError:
            raise ValueError(text) from None

    return Parser("choice", "one of " + "|".join(choices), convert)


def hours_parser() -> Parser[SessionHours]:
    """UTC hour ranges ``"13-17,19-23"`` (inclusive; ``"22-2"`` wraps midnight; empty = off)."""
    return Parser("hours", HOURS_EXPECTED, SessionHours.parse)


def _to_path(text: str) -> Path:
    if not text or "\x00" in text:
        raise ValueError(text)
    return Path(text)


def path_parser() -> Parser[Path]:
    """A non-empty filesystem path (relative paths are relative to the working directory)."""
    return Parser("path", "a file path", _to_path)


def format_value(value: object) -> str:
    """Render a parsed value the way it would be written in the environment (bools as 1/0)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return str(value)
