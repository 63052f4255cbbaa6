"""Strategy audit: which decisions get a row, the per-symbol near-miss cooldown, the file format and the
summary report."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from eclipse.clock import SimClock
from eclipse.errors import DataError
from eclipse.market.bars import OhlcvFrame
from eclipse.strategy.audit import (
    AUDIT_COLUMNS,
    COMPONENT_NAMES,
    AuditWriter,
    read_audit_rows,
    render_audit_rows,
    render_audit_summary,
    summarize_audit,
)
from eclipse.strategy.decision import NEAR_MISS_BLOCKS, Decision
from eclipse.strategy.engine import SignalEngine

from .helpers import SYMBOL, settings

T0 = 1_641_081_600_000


@dataclass
class FakeComponent:
    name: str
    vote: int


class FakeSignal:
    """Just what the audit reads from a Rust Signal."""

    raw_confidence = 0.5
    regime = "NORMAL"
    vol_ratio = 1.2
    vol_multiplier = 1.08

    def components(self) -> list[FakeComponent]:
        return [FakeComponent("mom_fast", 1), FakeComponent("mom_slow", 0), FakeComponent("vwap", -1)]

    def explain(self) -> str:
        return "long conf=0.540; mom_fast up, with a comma"


def decision(direction: int, candidate: int, blocked: str | None, *, symbol: str = "BTC", conf: float = 0.54,
             ts: int = T0) -> Decision:  # fmt: skip
    sig: Any = FakeSignal()
    return Decision(symbol, ts, direction, Decision.side_of(direction), conf, candidate, blocked, False, sig)


def test_rows_for_signals_and_throttled_near_misses(tmp_path: Path) -> None:
    clock = SimClock(T0)
    path = tmp_path / "deep" / "dir" / "audit.csv"
    w = AuditWriter(path, 5.0, clock)
    assert w.record(decision(1, 1, None))
    assert w.record(decision(0, -1, "below_min_confidence"))
    assert not w.record(decision(0, 1, "trend_gate"))  # near-miss inside the 5 s cooldown
    assert not w.record(decision(0, 0, "no_consensus"))  # not a near-miss: never written
    assert not w.record(decision(0, 0, "warmup"))
    for reason in ("warmup", "trend_warmup", "stale_data"):  # a candidate, but no decision was made
        assert not w.record(decision(0, 1, reason, symbol="SOL"))
    assert w.record(decision(0, 1, "session_hours", symbol="ETH"))  # other symbol, own cooldown
    assert w.record(decision(-1, -1, None))  # signals are never throttled
    clock.advance(4.999)
    assert not w.record(decision(0, 1, "trend_gate"))
    clock.advance(0.001)
    assert w.record(decision(0, 1, "trend_gate"))
    assert w.rows_written == 5
    rows = read_audit_rows(path)
    assert [r["kind"] for r in rows] == ["signal", "near_miss", "near_miss", "signal", "near_miss"]
    assert [r["side"] for r in rows] == ["long", "none", "none", "short", "none"]
    assert rows[1]["blocked_by"] == "below_min_confidence"
    assert rows[1]["candidate"] == "-1"
    r = rows[0]
    assert (r["vote_mom_fast"], r["vote_mom_slow"], r["vote_vwap"], r["vote_trend"]) == ("1", "0", "-1", "")
    assert r["regime"] == "NORMAL"
    assert r["raw_confidence"] == "0.500000"
    assert r["confidence"] == "0.540000"
    assert r["explain"] == "long conf=0.540; mom_fast up, with a comma"
    assert r["time_utc"] == "2022-01-02 00:00"
    assert r["ts_ms"] == str(T0)


def test_header_written_once_and_file_appended(tmp_path: Path) -> None:
    path = tmp_path / "audit.csv"
    clock = SimClock(T0)
    AuditWriter(path, 5, clock).record(decision(1, 1, None))
    AuditWriter(path, 5, clock).record(decision(-1, -1, None))
    with path.open() as fh:
        lines = list(csv.reader(fh))
    assert lines[0] == list(AUDIT_COLUMNS)
    assert len(lines) == 3
    assert lines[1][0] == str(T0)
    assert [f"vote_{n}" for n in COMPONENT_NAMES] == [c for c in AUDIT_COLUMNS if c.startswith("vote_")]


def test_refuses_to_append_to_a_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="different columns"):
        AuditWriter(path, 5, SimClock(T0)).record(decision(1, 1, None))
    assert path.read_text() == "a,b\n1,2\n"


def test_disabled_audit_gives_no_writer(tmp_path: Path) -> None:
    assert AuditWriter.from_settings(settings().audit, SimClock()) is None
    on = settings({"SCALPER_AUDIT": "1", "SCALPER_AUDIT_PATH": str(tmp_path / "a.csv")})
    w = AuditWriter.from_settings(on.audit, SimClock())
    assert w is not None
    assert w.path == tmp_path / "a.csv"
    assert w.cooldown_ms == 5_000


def test_summary_counts_sides_near_misses_blocks_and_histogram(tmp_path: Path) -> None:
    path = tmp_path / "audit.csv"
    clock = SimClock(T0)
    w = AuditWriter(path, 0, clock)
    for conf in (0.95, 0.65, 0.61):
        w.record(decision(1, 1, None, conf=conf))
    w.record(decision(-1, -1, None, conf=0.7, symbol="ETH"))
    for _ in range(3):
        w.record(decision(0, 1, "below_min_confidence", conf=0.3))
    w.record(decision(0, -1, "trend_gate", conf=0.05))
    s = summarize_audit(path)
    assert (s.rows, s.signals, s.near_misses, s.forced) == (8, 4, 4, 0)
    assert dict(s.by_side) == {"long": 3, "short": 1}
    assert dict(s.by_symbol) == {"BTC": 7, "ETH": 1}
    assert s.top_blocks == (("below_min_confidence", 3), ("trend_gate", 1))
    assert s.confidence_hist == (1, 0, 0, 3, 0, 0, 2, 1, 0, 1)
    text = render_audit_summary(s)
    assert "8 rows" in text
    assert "long=3, short=1" in text
    assert "near-misses: 4" in text
    assert "below_min_confidence" in text
    table = render_audit_rows(read_audit_rows(path), limit=2)
    assert table.splitlines()[0] == "last 2 of 8 rows:"
    assert len(table.splitlines()) == 3


def test_summary_ignores_near_miss_rows_of_the_older_definition(tmp_path: Path) -> None:
    path = tmp_path / "audit.csv"
    w = AuditWriter(path, 0, SimClock(T0))
    w.record(decision(0, 1, "below_min_confidence", conf=0.3))
    w.record(decision(1, 1, None))
    with path.open(newline="") as fh:
        header, near_row, _ = list(csv.reader(fh))
    legacy = dict(zip(header, near_row, strict=True))
    with path.open("a", newline="") as fh:  # rows an older version wrote for warm-up and stale bars
        out = csv.writer(fh, lineterminator="\n")
        for reason in ("trend_warmup", "trend_warmup", "stale_data"):
            out.writerow([reason if c == "blocked_by" else legacy[c] for c in header])
    s = summarize_audit(path)
    assert (s.rows, s.signals, s.near_misses, s.other_near_misses) == (5, 1, 1, 3)
    assert s.top_blocks == (("below_min_confidence", 1),)
    text = render_audit_summary(s)
    assert "near-misses: 1;" in text
    assert "ignored: 3 near-miss row(s)" in text
    assert "trend_warmup" not in text
    fresh = tmp_path / "fresh.csv"
    AuditWriter(fresh, 0, SimClock(T0)).record(decision(0, -1, "trend_gate"))
    assert "ignored" not in render_audit_summary(summarize_audit(fresh))


def test_summary_of_missing_or_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="audit file not found"):
        summarize_audit(tmp_path / "none.csv")
    other = tmp_path / "other.csv"
    other.write_text("x,y\n1,2\n")
    with pytest.raises(DataError, match="not an audit file"):
        summarize_audit(other)


def test_engine_writes_audit_rows_on_real_data(tmp_path: Path, embedded: OhlcvFrame) -> None:
    path = tmp_path / "audit.csv"
    cfg = settings(
        {"SCALPER_AUDIT": "1", "SCALPER_AUDIT_PATH": str(path), "SCALPER_AUDIT_COOLDOWN_SEC": "600"}
    )
    clock = SimClock()
    audit = AuditWriter.from_settings(cfg.audit, clock)
    engine = SignalEngine(cfg, clock, audit)
    signals = near = 0
    last_near: int | None = None
    # past the 1h trend warm-up (~12,000 bars), whose candidates are not near-misses
    for bar in embedded.head(16_000).bars():
        clock.set_ms(bar.close_ms())
        d = engine.on_bar(SYMBOL, bar)
        signals += d.direction != 0
        if d.near_miss and (last_near is None or clock.now_ms() - last_near >= 600_000):
            near += 1
            last_near = clock.now_ms()
    rows = read_audit_rows(path)
    assert sum(r["kind"] == "signal" for r in rows) == signals
    assert sum(r["kind"] == "near_miss" for r in rows) == near > 0
    assert sum(r["kind"] == "signal" for r in rows) == signals > 0
    assert {r["blocked_by"] for r in rows if r["kind"] == "near_miss"} <= NEAR_MISS_BLOCKS
    assert "trend_gate" in {r["blocked_by"] for r in rows}
    assert all(r["explain"] and r["regime"] for r in rows)
    assert {r["vote_mom_fast"] for r in rows} <= {"-1", "0", "1"}
