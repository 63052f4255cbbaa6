"""Where the router writes its journal events: the :class:`JournalSink` protocol and an in-memory sink.

The SQLite journal implements :class:`JournalSink`; tests and benches use :class:`MemoryJournal`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from eclipse.contracts import JournalEvent

__all__ = ["JournalSink", "MemoryJournal"]


@runtime_checkable
class JournalSink(Protocol):
    """An append-only event log; ``append`` returns the event's sequence number once it is stored."""

    def append(self, event: JournalEvent) -> int:
        """Store ``event`` (durably, for a real journal) and return its sequence number."""
        ...


class MemoryJournal:
    """Events kept in a list (sequence number = position + 1)."""

    def __init__(self) -> None:
        self.events: list[JournalEvent] = []

    def append(self, event: JournalEvent) -> int:
        """Keep ``event``."""
        self.events.append(event)
        return len(self.events)

    def of(self, kind: type) -> list[JournalEvent]:
        """Events of record class ``kind``, oldest first."""
        return [e for e in self.events if isinstance(e, kind)]
