"""Structured knob values of the entry layer and their parsers: correlation groups (``CORR_GROUPS``) and
``KEY=number`` lists (``CORR_GROUP_LIMITS``, ``LEVERAGE_BY_SYMBOL``, ...), plus symbol-key helpers.

This module imports nothing from :mod:`eclipse.config` at import time (the registry imports it while it is
being built); :class:`~eclipse.config.parsers.Parser` is imported when a parser is made.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eclipse.config.parsers import Parser

__all__ = [
    "CORR_GROUPS_EXPECTED",
    "CorrGroups",
    "NamedNumbers",
    "base_asset",
    "corr_groups_parser",
    "named_numbers_parser",
    "symbol_key",
]

_NAME = re.compile(r"^[A-Z0-9_]+$")
_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "USD")
_SYMBOL_CACHE = 4096
"""Bound of the memo of :func:`symbol_key` and :func:`base_asset` (pure string functions called several
times per order on the entry path; a module-level LRU keyed by the symbol string)."""
CORR_GROUPS_EXPECTED = (
    'groups like "MEME:DOGEUSDT,SHIBUSDT;MAJOR:BTCUSDT,ETHUSDT" '
    '(NAME:SYMBOL,... separated by ";"; empty = none)'
)


@functools.lru_cache(maxsize=_SYMBOL_CACHE)
def symbol_key(symbol: str) -> str:
    """The env-var form of a symbol: ``BTC/USDT:USDT`` and ``btcusdt`` both give ``BTCUSDT``."""
    return symbol.split(":")[0].replace("/", "").replace("-", "").strip().upper()


@functools.lru_cache(maxsize=_SYMBOL_CACHE)
def base_asset(symbol: str) -> str:
    """The base asset: ``DOGE`` for ``DOGE/USDT:USDT`` or ``DOGEUSDT`` (the key itself when no quote
    suffix is recognised)."""
    head = symbol.split(":")[0]
    if "/" in head:
        return head.split("/")[0].strip().upper()
    key = symbol_key(symbol)
    for quote in _QUOTES:
        if key.endswith(quote) and len(key) > len(quote):
            return key[: -len(quote)]
    return key


@dataclass(frozen=True, slots=True)
class CorrGroups:
    """Named groups of correlated symbols, in the order written; symbols are stored as :func:`symbol_key`.

    A symbol may belong to several groups. ``str()`` renders the env form back.
    """

    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Group names in order."""
        return tuple(name for name, _ in self.groups)

    def members(self, group: str) -> tuple[str, ...]:
        """Symbol keys of ``group`` (empty for an unknown group)."""
        return next((syms for name, syms in self.groups if name == group), ())

    def groups_of(self, symbol: str) -> tuple[str, ...]:
        """Names of the groups ``symbol`` belongs to."""
        if not self.groups:
            return ()
        key = symbol_key(symbol)
        return tuple(name for name, syms in self.groups if key in syms)

    def __bool__(self) -> bool:
        return bool(self.groups)

    def __str__(self) -> str:
        return ";".join(f"{name}:{','.join(syms)}" for name, syms in self.groups)


def _to_groups(text: str) -> CorrGroups:
    if not text:
        return CorrGroups()
    out: list[tuple[str, tuple[str, ...]]] = []
    for block in text.split(";"):
        block = block.strip()
        if not block:
            continue
        name, sep, rest = block.partition(":")
        name = name.strip().upper()
        syms = tuple(symbol_key(s) for s in rest.split(",") if s.strip())
        if not sep or not _NAME.match(name) or not syms or name in {n for n, _ in out}:
            raise ValueError(block)
        if any(not _NAME.match(s) for s in syms) or len(set(syms)) != len(syms):
            raise ValueError(block)
        out.append((name, syms))
    return CorrGroups(tuple(out))


def corr_groups_parser() -> Parser[CorrGroups]:
    """``NAME:SYM,SYM;NAME:SYM`` (names and symbols upper-cased; a repeated group or symbol is an error)."""
    from eclipse.config.parsers import Parser

    return Parser("groups", CORR_GROUPS_EXPECTED, _to_groups)


@dataclass(frozen=True, slots=True)
class NamedNumbers:
    """``KEY=number`` pairs in the order written (keys upper-cased). ``str()`` renders the env form back."""

    items: tuple[tuple[str, float], ...] = ()

    def get(self, key: str) -> float | None:
        """The value for ``key`` (case-insensitive), None when absent."""
        up = key.upper()
        return next((v for k, v in self.items if k == up), None)

    @property
    def keys(self) -> tuple[str, ...]:
        """Keys in order."""
        return tuple(k for k, _ in self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __str__(self) -> str:
        return ",".join(f"{k}={_fmt(v)}" for k, v in self.items)


def _fmt(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def named_numbers_parser(
    what: str, *, min_value: float = 0.0, max_value: float | None = None, integer: bool = False
) -> Parser[NamedNumbers]:
    """``KEY=v,KEY=v`` where each key is ``what`` (e.g. "group", "symbol") and each value a finite number
    ``>= min_value`` (and ``<= max_value``), an integer when ``integer``; empty = none."""
    from eclipse.config.parsers import Parser

    kind = "integer" if integer else "number"
    bound = f" >= {min_value:g}" + (f" and <= {max_value:g}" if max_value is not None else "")
    example = "MEME=1,MAJOR=2" if what == "group" else "BTCUSDT=10,ETHUSDT=5"
    expected = f'{what}={kind} pairs like "{example}" (each {kind}{bound}; empty = none)'

    def convert(text: str) -> NamedNumbers:
        if not text:
            return NamedNumbers()
        out: list[tuple[str, float]] = []
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, raw = item.partition("=")
            key = symbol_key(key) if what == "symbol" else key.strip().upper()
            value = float(raw)
            bad = not math.isfinite(value) or value < min_value
            bad = bad or (max_value is not None and value > max_value) or (integer and not value.is_integer())
            if not sep or not _NAME.match(key) or bad or key in {k for k, _ in out}:
                raise ValueError(item)
            out.append((key, value))
        return NamedNumbers(tuple(out))

    return Parser("map", expected, convert)
