"""Telemetry: schema-versioned events stamped by the injected clock; JSONL sink round trip."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from eclipse.clock import SimClock
from eclipse.telemetry import SCHEMA_VERSION, JsonlSink, MemorySink, Telemetry
from eclipse.venues.errors import VenueErrorKind


def test_events_carry_name_schema_and_clock_time_with_scalar_fields() -> None:
    sink = MemorySink()
    tel = Telemetry(sink, SimClock(1_700_000_000_000))
    tel.emit(
        "order.blocked", why="router_notional_cap", notional=Decimal("250.5"), kind=VenueErrorKind.NETWORK
    )
    (event,) = sink.named("order.blocked")
    assert event == {
        "event": "order.blocked",
        "schema": SCHEMA_VERSION,
        "ts_ms": 1_700_000_000_000,
        "why": "router_notional_cap",
        "notional": "250.5",
        "kind": "network",
    }


def test_a_machine_refusal_record_is_forwarded_with_schema_and_time() -> None:
    sink = MemorySink()
    tel = Telemetry(sink, SimClock(5))
    tel.sink({"event": "order.transition_refused", "state": "filled", "trigger": "ack"})
    assert sink.events == [
        {
            "event": "order.transition_refused",
            "schema": SCHEMA_VERSION,
            "ts_ms": 5,
            "state": "filled",
            "trigger": "ack",
        }
    ]


def test_jsonl_sink_writes_one_object_per_line(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "telemetry.jsonl"
    sink = JsonlSink(path)
    tel = Telemetry(sink, SimClock(0))
    tel.emit("entry.blocked", reason="corr_group", symbol="BTCUSDT")
    tel.emit("exit.atr_scaled", multiplier=1.25)
    sink.close()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["event"] for r in rows] == ["entry.blocked", "exit.atr_scaled"]
    assert rows[1]["multiplier"] == 1.25
