"""The protection machine runs whole in the engine: entries and exits submitted and ended drive it (enter,
entry_failed, exit, exit_filled, exit_failed) besides fills and protective legs, so ``entering`` and
``exiting`` are real states of a trade; every row taken is recorded here from the runner itself."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from eclipse.contracts import TransitionRefused
from eclipse.execution.router import MemoryJournal
from eclipse.machines.table import Outcome, Runner
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.paper import PaperVenue
from eclipse.venues.types import OrderReport, OrderRequest

from .test_engine_kit import SYM, drive, engine, run, world

Row = tuple[str, str, str]


@pytest.fixture
def rows(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[Row]]:
    """Every row the protection machine takes, from the runner (source, event, target)."""
    taken: set[Row] = set()
    fire = Runner.fire

    def recording(self: Runner, event: str, ctx: Any = None) -> Outcome:
        out = fire(self, event, ctx)
        if self.machine.name == "protection" and out.accepted:
            taken.add((out.source, event, out.target))
        return out

    monkeypatch.setattr(Runner, "fire", recording)
    return taken


class RefusingVenue(PaperVenue):
    """Refuses (definitively) every order whose client id starts with one of ``refuse``."""

    refuse: tuple[str, ...] = ()

    async def create_order(self, request: OrderRequest) -> OrderReport:
        if request.client_order_id.startswith(self.refuse):
            raise VenueError(VenueErrorKind.INVALID_ORDER, "refused by the test", operation="create")
        return await super().create_order(request)


def refusals(j: MemoryJournal, machine: str) -> list[TransitionRefused]:
    return [e for e in j.events if isinstance(e, TransitionRefused) and e.machine == machine]


def test_a_trade_goes_through_entering_and_exiting(rows: set[Row]) -> None:
    async def go() -> None:
        w = world()
        eng, j, _ = engine(w)
        await drive(eng, w, 0, 300)
        assert isinstance(j, MemoryJournal)
        assert refusals(j, "protection") == []
        assert refusals(j, "order") == []

    run(go())
    assert {
        ("flat", "enter", "entering"),
        ("entering", "entry_filled", "open_unprotected"),
        ("open_unprotected", "protection_placed", "protected"),
        ("protected", "exit", "exiting"),
        ("exiting", "exit_filled", "flat"),
    } <= rows, sorted(rows)
    assert rows & {("protected", "stop_hit", "flat"), ("protected", "take_profit_hit", "flat")}
    assert ("flat", "entry_filled", "open_unprotected") not in rows  # the late-fill edge case, not the norm


def test_a_refused_entry_ends_entering(rows: set[Row]) -> None:
    async def go() -> None:
        w = world()
        venue = RefusingVenue(w.source, w.clock, refresh_ms=0)
        venue.refuse = ("E-",)
        eng, j, sink = engine(w, venue=venue)
        await drive(eng, w, 0, 3)
        assert sink.named("order.rejected")
        assert eng.protection.tracker(SYM).state == "flat"
        assert isinstance(j, MemoryJournal)
        assert refusals(j, "protection") == []

    run(go())
    assert {("flat", "enter", "entering"), ("entering", "entry_failed", "flat")} <= rows


def test_a_refused_exit_returns_to_the_position_with_its_stop(rows: set[Row]) -> None:
    async def go() -> None:
        w = world()
        venue = RefusingVenue(w.source, w.clock, refresh_ms=0)
        venue.refuse = ("X-",)  # rule exits and flattens are refused; the stop stays on the venue
        eng, j, _ = engine(w, {"EXIT_MAX_HOLD_SEC": "120"}, venue=venue)
        await drive(eng, w, 0, 6)
        assert eng.book.snapshot(SYM).qty != Decimal(0)
        assert eng.protection.tracker(SYM).state == "protected"
        assert isinstance(j, MemoryJournal)
        assert refusals(j, "protection") == []

    run(go())
    assert {("protected", "exit", "exiting"), ("exiting", "exit_failed", "protected")} <= rows
