"""The evidence a run leaves, gathered for the checkers: the journal's records, the telemetry records and the
venue's own truth (every order it ever held, every trade, the positions), plus what the harness knows about
the run (when the daemon was down, the protection deadline, whether the run ended quiet).

The venue's truth comes from the exchange simulator itself, never through the daemon: from the matching
engine in this process (:meth:`VenueTruth.from_engine`, simulated time) or from the simulator's SQLite store
(:meth:`VenueTruth.from_sim_db`, a simulator in another thread or process). Symbols are compared by their
key (``BTCUSDT`` for ``BTC/USDT:USDT``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from eclipse.errors import EclipseError
from eclipse.execution.journal.store import JournalError, JournalReader, JournalRecord
from eclipse.venues.sim.engine import MatchingEngine
from eclipse.venues.sim.model import OrderView, TradeView
from eclipse.venues.sim.orders import OrderRecord, trade_from_json
from eclipse.venues.types import Side

__all__ = ["RunEvidence", "VenueTruth", "read_telemetry", "symbol_key"]


def symbol_key(symbol: str) -> str:
    """``BTC/USDT:USDT`` -> ``BTCUSDT`` (a venue symbol is kept)."""
    return symbol.split(":")[0].replace("/", "").upper()


@dataclass(frozen=True, slots=True)
class VenueTruth:
    """What the venue holds: every order (both books, terminal ones too), every trade, the positions
    (signed, by symbol key) and the venue's time when read."""

    orders: tuple[OrderView, ...]
    trades: tuple[TradeView, ...]
    positions: Mapping[str, Decimal]
    now_ms: int

    @classmethod
    def from_engine(cls, engine: MatchingEngine) -> VenueTruth:
        """Read a matching engine in this process (simulated time: the paper venue's engine)."""
        engine.sync()
        orders = [o.view() for book in (engine.regular, engine.algo) for o in book.orders.values()]
        trades = [t for rows in engine.trades_mem.values() for t in rows]
        positions = {sym: st.qty for sym, st in engine.pos_state.items()} if engine.futures else {}
        return cls(_sorted_orders(orders), _sorted_trades(trades), positions, engine.now_ms())

    @classmethod
    def from_sim_db(cls, path: Path, namespace: str = "futures") -> VenueTruth:
        """Read a simulator's store (``SimConfig.db_path``), read-only; positions are the trades' sum. A
        running simulator folds its recent writes into the tables only every few hundred writes: stop it,
        or compact its store (``SimStore.compact`` in its thread) first."""
        if not path.is_file():
            raise EclipseError(f"{path}: no simulator store here")
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
        except sqlite3.Error as exc:
            raise EclipseError(f"{path}: cannot open the simulator store ({exc})") from None
        try:
            rows = db.execute("SELECT data FROM orders WHERE ns = ?", (namespace,)).fetchall()
            orders = [OrderRecord.from_json(r[0]).view() for r in rows]
            trades = [
                trade_from_json(r[0])
                for r in db.execute("SELECT data FROM trades WHERE ns = ?", (namespace,))
            ]
        except sqlite3.Error as exc:
            raise EclipseError(f"{path}: cannot read the simulator store ({exc})") from None
        finally:
            db.close()
        positions: dict[str, Decimal] = {}
        for t in trades:
            sign = 1 if t.side is Side.BUY else -1
            positions[t.symbol] = positions.get(t.symbol, Decimal(0)) + sign * t.qty
        now = max([0, *(o.updated_ms for o in orders), *(t.ts_ms for t in trades)])
        return cls(_sorted_orders(orders), _sorted_trades(trades), positions, now)


def _sorted_orders(orders: Iterable[OrderView]) -> tuple[OrderView, ...]:
    return tuple(sorted(orders, key=lambda o: (o.conditional, o.order_id)))


def _sorted_trades(trades: Iterable[TradeView]) -> tuple[TradeView, ...]:
    return tuple(sorted(trades, key=lambda t: t.trade_id))


def read_telemetry(path: Path) -> list[dict[str, object]]:
    """The telemetry records of a JSONL file (a torn last line, as a kill leaves it, is skipped)."""
    out: list[dict[str, object]] = []
    if not path.is_file():
        return out
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
    return out


def _read_journal(path: Path) -> tuple[JournalRecord, ...]:
    if not path.is_file() or path.stat().st_size == 0:
        return ()
    try:
        with JournalReader(path) as reader:
            return tuple(reader.records())
    except JournalError as exc:
        raise EclipseError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class RunEvidence:
    """One run, for the checkers.

    ``t_protect_ms``: the protection deadline (``EXIT_PROTECT_GRACE_SEC``); ``slack_ms``: what the harness
    allows on top for its own clock granularity (a replay at speed S turns a wall-clock delay into S times
    that much market time); ``downtime``: market-time intervals when no daemon ran (nothing can protect
    then: a gap counts from the restart); ``settled``: the run ended with faults off and K reconcile cycles
    of quiet, so the end-state checks (belief equals the venue, no fill lost) apply.
    """

    journal: tuple[JournalRecord, ...]
    telemetry: tuple[Mapping[str, object], ...]
    venue: VenueTruth
    t_protect_ms: int = 15_000
    slack_ms: int = 0
    downtime: tuple[tuple[int, int], ...] = ()
    settled: bool = True
    foreign_symbols: frozenset[str] = field(default_factory=frozenset)
    """Symbol keys where the run's scenario put a position that is not ours (not checked for belief)."""
    excused: tuple[tuple[str, int, int], ...] = ()
    """(symbol key, start, end): market-time stretches one symbol's protection could not be known, e.g. a
    stop removed under the daemon until its next check; like downtime, for that symbol only."""

    @classmethod
    def from_run_dir(
        cls,
        run_dir: Path,
        venue: VenueTruth,
        *,
        telemetry_files: Sequence[Path] = (),
        t_protect_ms: int = 15_000,
        slack_ms: int = 0,
        downtime: Sequence[tuple[int, int]] = (),
        settled: bool = True,
        foreign_symbols: Iterable[str] = (),
        excused: Sequence[tuple[str, int, int]] = (),
    ) -> RunEvidence:
        """Gather a run directory's journal and telemetry (``telemetry.jsonl`` unless files are given)."""
        files = list(telemetry_files) or [run_dir / "telemetry.jsonl"]
        telemetry = tuple(rec for f in files for rec in read_telemetry(f))
        return cls(
            _read_journal(run_dir / "journal.sqlite"),
            telemetry,
            venue,
            t_protect_ms=t_protect_ms,
            slack_ms=slack_ms,
            downtime=tuple(downtime),
            settled=settled,
            foreign_symbols=frozenset(symbol_key(s) for s in foreign_symbols),
            excused=tuple((symbol_key(s), a, b) for s, a, b in excused),
        )
