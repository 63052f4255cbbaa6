"""What the daemon puts between the engine and the journal and the venue: the observer's view of each
journal record, the order-path timing, and the crash points of the proof suites
(:mod:`eclipse.runtime.crashpoints`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eclipse.clock import perf_ns
from eclipse.contracts import FillRecorded, JournalEvent, OrderSubmitting
from eclipse.execution.journal import Journal
from eclipse.runtime.crashpoints import CrashPlan
from eclipse.runtime.observer import RunObserver
from eclipse.venues.types import OrderReport, OrderRequest

if TYPE_CHECKING:
    from eclipse.runtime.daemon import Daemon

__all__ = ["JournalTap", "VenueProbe"]


class JournalTap:
    """The journal as the engine writes it, seen by the observer after each store (and the crash points
    ``submit.journaled`` / ``fill.journaled``)."""

    def __init__(self, journal: Journal, observer: RunObserver, crash: CrashPlan | None) -> None:
        self._journal = journal
        self._observer = observer
        self._crash = crash

    def append(self, event: JournalEvent) -> int:
        seq = self._journal.append(event)
        self._observer.on_journal(event)
        if self._crash is not None:
            if isinstance(event, OrderSubmitting):
                self._crash.hit("submit.journaled")
            elif isinstance(event, FillRecorded):
                self._crash.hit("fill.journaled")
        return seq


class VenueProbe:
    """The venue, timing how long after its bar an entry order is handed over (the order path), and the
    crash points after a venue call (``submit.sent``, ``protect.sent``, ``cancel.sent``,
    ``reconcile.fetched``)."""

    def __init__(self, venue: Any, daemon: Daemon) -> None:
        self._venue = venue
        self._daemon = daemon

    async def create_order(self, request: OrderRequest) -> OrderReport:
        start = self._daemon.bar_started_ns
        if start is not None and not request.reduce_only:  # an entry: the order path the bench times
            self._daemon.observer.order_path((perf_ns() - start) / 1000.0)
            self._daemon.bar_started_ns = None
        report: OrderReport = await self._venue.create_order(request)
        if self._daemon.crash is not None:
            self._daemon.crash.hit("protect.sent" if request.type.conditional else "submit.sent")
        return report

    async def cancel_order(self, *args: Any, **kwargs: Any) -> OrderReport:
        report: OrderReport = await self._venue.cancel_order(*args, **kwargs)
        if self._daemon.crash is not None:
            self._daemon.crash.hit("cancel.sent")
        return report

    async def fetch_positions(self, *args: Any, **kwargs: Any) -> Any:
        out = await self._venue.fetch_positions(*args, **kwargs)
        if self._daemon.crash is not None:
            self._daemon.crash.hit("reconcile.fetched")
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._venue, name)
