"""Shared pieces of the entry guards: the events a guard asks the caller to emit (:class:`GuardEvent`), what
the status page shows (:class:`ActiveGuard`), an outbox, and tolerant readers of telemetry values and of
persisted state (odd telemetry is skipped, never raised on; bad persisted state raises ``ValueError``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from eclipse.contracts import GuardKnobs
from eclipse.execution.entries.values import symbol_key

__all__ = [
    "ALL",
    "ActiveGuard",
    "GuardEvent",
    "Outbox",
    "block",
    "get_float",
    "get_int",
    "get_opt_int",
    "get_str",
    "number",
    "record_symbol",
    "record_ts",
    "sym",
]

ALL = "*"
"""The scope of a restriction that holds for every symbol."""


@dataclass(frozen=True, slots=True)
class GuardEvent:
    """Telemetry a guard asks for; the caller emits it: ``telemetry.emit(ev.name, **ev.fields)``."""

    name: str
    fields: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class ActiveGuard:
    """One restriction in force, for the status page and the terminal."""

    guard: str
    """``kill_switch``, ``data_quality``, ``adaptive``, ``anomaly`` or ``breach_cooldown``."""
    code: str
    """The ``entry.blocked`` reason (``kill_daily_loss`` ...)."""
    symbol: str | None
    """None = every symbol."""
    reason: str
    until_ms: int | None
    """None = until lifted or until the condition clears."""


class Outbox:
    """Events a guard produced since the last :meth:`drain` (a guard never emits itself)."""

    __slots__ = ("_events",)

    def __init__(self) -> None:
        self._events: list[GuardEvent] = []

    def put(self, name: str, **fields: object) -> None:
        """Queue the event ``name`` with ``fields``."""
        self._events.append(GuardEvent(name, MappingProxyType(fields)))

    def drain(self) -> list[GuardEvent]:
        """The queued events, oldest first; the outbox is empty afterwards."""
        out, self._events = self._events, []
        return out


def block(code: str, reason: str) -> GuardKnobs:
    """Knobs that block entries with the ``entry.blocked`` reason ``code``."""
    return GuardKnobs(entry_block=True, reason=reason, code=code)


def sym(symbol: str | None) -> str | None:
    """The symbol key (``BTC/USDT:USDT`` -> ``BTCUSDT``); None and ``*`` stay as they are."""
    if symbol is None or symbol == ALL:
        return symbol
    return symbol_key(symbol)


# --- telemetry values (never raise) -------------------------------------------------------------------------
def number(value: object) -> float | None:
    """A finite float from an int, float, Decimal or numeric string (Decimals are emitted as strings);
    None for anything else (bools, NaN, text)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value)
        except ValueError:
            return None
    else:
        return None
    return out if math.isfinite(out) else None


def record_symbol(record: Mapping[str, object]) -> str | None:
    """The record's ``symbol`` as a key, or None when it has none (a restriction then holds for all)."""
    value = record.get("symbol")
    if not isinstance(value, str) or not value.strip() or value.strip() == ALL:
        return None
    return symbol_key(value)


def record_ts(record: Mapping[str, object], now_ms: int) -> int:
    """The record's ``ts_ms`` when it is an int not after ``now_ms`` (a later or missing one reads as now)."""
    ts = record.get("ts_ms")
    if isinstance(ts, int) and not isinstance(ts, bool) and 0 <= ts <= now_ms:
        return ts
    return now_ms


# --- persisted state (raise ValueError naming the field) ----------------------------------------------------
def get_int(data: Mapping[str, object], key: str) -> int:
    """``data[key]`` as an int (ValueError otherwise)."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer, got {value!r}")
    return value


def get_opt_int(data: Mapping[str, object], key: str) -> int | None:
    """``data[key]`` as an int, or None when it is null or absent."""
    return None if data.get(key) is None else get_int(data, key)


def get_float(data: Mapping[str, object], key: str) -> float:
    """``data[key]`` as a finite float (ValueError otherwise)."""
    value = number(data.get(key))
    if value is None or isinstance(data.get(key), str):
        raise ValueError(f"{key} must be a number, got {data.get(key)!r}")
    return value


def get_str(data: Mapping[str, object], key: str, default: str | None = None) -> str:
    """``data[key]`` as a str (``default`` when absent and a default is given; ValueError otherwise)."""
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {value!r}")
    return value
