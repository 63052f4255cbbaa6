"""Telemetry: structured events under the original observability contract's names (``entry.blocked``,
``order.create.retry_alert``, ``exit.atr_scaled``, ...), with a versioned schema.

Every event is a flat mapping: ``event`` (the name), ``schema`` (:data:`SCHEMA_VERSION`), ``ts_ms`` (from the
injected Clock) and the event's own fields (str / int / float / bool / None; Decimals are written as
strings). Sinks receive the finished mapping: :class:`MemorySink` for tests, :class:`JsonlSink` for
``logs/telemetry.jsonl`` (one JSON object per line, the format the original tools read).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import TextIO

from eclipse.clock import Clock

__all__ = ["SCHEMA_VERSION", "JsonlSink", "MemorySink", "Sink", "Telemetry"]

SCHEMA_VERSION = 1
Scalar = str | int | float | bool | None
Sink = Callable[[Mapping[str, Scalar]], None]


_PLAIN = frozenset({str, int, float, bool, type(None)})
"""Exact types :func:`_scalar` returns unchanged (checked by identity first: the common case)."""


def _scalar(value: object) -> Scalar:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


class Telemetry:
    """Emits events to a sink, stamping name, schema version and clock time."""

    def __init__(self, sink: Sink, clock: Clock) -> None:
        self._sink = sink
        self._clock = clock

    def emit(self, event: str, **fields: object) -> None:
        """Emit ``event`` with ``fields`` (values made JSON scalars)."""
        record: dict[str, Scalar] = {"event": event, "schema": SCHEMA_VERSION, "ts_ms": self._clock.now_ms()}
        for k, v in fields.items():
            record[k] = v if type(v) in _PLAIN else _scalar(v)  # type: ignore[assignment]
        self._sink(record)

    def sink(self, record: Mapping[str, object]) -> None:
        """Forward an already-built event (e.g. a state machine's refusal), adding schema and time."""
        name = str(record.get("event", "unknown"))
        self.emit(name, **{k: v for k, v in record.items() if k != "event"})


class MemorySink:
    """Keeps events in a list (tests, benches)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Scalar]] = []

    def __call__(self, record: Mapping[str, Scalar]) -> None:
        self.events.append(dict(record))

    def named(self, event: str) -> list[dict[str, Scalar]]:
        """Events called ``event``, oldest first."""
        return [e for e in self.events if e.get("event") == event]


class JsonlSink:
    """Appends one JSON object per line to a file (parent directories created). Flushed per event, or with
    ``flush_each=False`` by :meth:`flush` (the daemon's telemetry loop), every ``buffer_lines`` records and
    at close: whole lines only, so a kill loses the unflushed records and never leaves a torn line."""

    def __init__(self, path: str | Path, *, flush_each: bool = True, buffer_lines: int = 512) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: TextIO = self.path.open("a", encoding="utf-8")
        self._flush_each = flush_each
        self._buffer_lines = max(1, buffer_lines)
        self._pending: list[str] = []

    def __call__(self, record: Mapping[str, Scalar]) -> None:
        self._pending.append(json.dumps(record, separators=(",", ":")) + "\n")
        if self._flush_each or len(self._pending) >= self._buffer_lines:
            self.flush()

    def flush(self) -> None:
        """Hand buffered lines to the OS."""
        if self._fh.closed:
            return
        if self._pending:
            self._fh.write("".join(self._pending))
            self._pending.clear()
        self._fh.flush()

    def close(self) -> None:
        """Flush and close the file."""
        try:
            self.flush()
        finally:
            self._fh.close()

    def abandon(self) -> None:
        """Close without writing what is buffered (a process killed here loses exactly that)."""
        self._pending.clear()
        self._fh.close()
