"""Closed round trips reach the strategy's loss cooldown (``SCALPER_COOLDOWN_LOSSES`` / ``_MINUTES``):
after a losing trade the symbol takes no new entry until the cooldown ends; without the knob entries resume
at once."""

from __future__ import annotations

from eclipse.contracts import IntentKind, OrderSubmitting
from eclipse.execution.router import MemoryJournal
from eclipse.telemetry import MemorySink

from .test_engine_kit import MINUTE, drive, engine, run, world

TIGHT = {"EXIT_STOP_LOSS_PCT": "0.001", "EXIT_TAKE_PROFIT_PCT": "0.02", "EXIT_MAX_HOLD_SEC": "600"}
BARS = 240


def _trade(env: dict[str, str]) -> tuple[MemoryJournal, MemorySink]:
    async def go() -> tuple[MemoryJournal, MemorySink]:
        w = world()
        eng, j, sink = engine(w, {**TIGHT, **env})
        await drive(eng, w, 0, BARS)
        assert isinstance(j, MemoryJournal)
        return j, sink

    return run(go())


def _first_loss_and_next_entry(j: MemoryJournal, sink: MemorySink) -> tuple[int, int | None]:
    losses = [e for e in sink.named("position.closed") if float(str(e["pnl"])) < 0]
    assert losses, "the tight stop produces a losing round trip"
    at = int(str(losses[0]["ts_ms"]))
    later = [e.ts_ms for e in j.of(OrderSubmitting) if e.kind is IntentKind.ENTRY and e.ts_ms > at]
    return at, (later[0] if later else None)


def test_a_losing_trade_starts_the_loss_cooldown() -> None:
    j, sink = _trade({"SCALPER_COOLDOWN_LOSSES": "1", "SCALPER_COOLDOWN_MINUTES": "30"})
    at, next_entry = _first_loss_and_next_entry(j, sink)
    assert next_entry is not None  # trading resumes once the cooldown is over
    assert next_entry - at >= 30 * MINUTE


def test_without_the_knob_entries_resume_right_after_a_loss() -> None:
    j, sink = _trade({})
    at, next_entry = _first_loss_and_next_entry(j, sink)
    assert next_entry is not None
    assert next_entry - at < 30 * MINUTE
