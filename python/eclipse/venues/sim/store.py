"""SQLite persistence of the simulator: both engines (namespace ``futures`` / ``spot``) and the feed's time.

Write-through: each mutating engine call ends with **one transaction** that appends one journal row
holding everything the call changed (the orders it touched, the trades it made, its account row with
balances, positions, leverage/margin settings, id counters and cursors, and the feed's market time).
Appending to the journal touches one B-tree page, so a call costs tens of microseconds; every
``compact_every`` writes (and before any read, and at :meth:`SimStore.close`) the journal is folded into
the indexed ``orders`` / ``trades`` / ``state`` tables in one transaction. A restarted simulator reads the
folded tables and continues mid-session.

The database runs in WAL mode with ``synchronous=NORMAL``: a commit appends to the write-ahead log without
an fsync (only checkpoints sync). A crash of the process loses nothing (the log is in the OS cache); a
power loss may lose the last transactions but never corrupts the file - the right trade for a simulator
that must keep up with thousands of order requests per second.

A file that is not this simulator's database (not SQLite, another application's, another schema version)
raises :class:`StoreError` and is never written to.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from eclipse.errors import StateError
from eclipse.venues.sim.market import FeedState

__all__ = ["APP_ID", "SCHEMA_VERSION", "OrderRow", "SimStore", "StoreError", "TradeRow"]

APP_ID = "eclipse-sim"
SCHEMA_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"
_FEED_NS = "feed"
_OPEN = ("NEW", "PARTIALLY_FILLED")
_I64 = 2**63  # SQLite INTEGER is signed 64-bit: -_I64 <= x < _I64


def _clamp64(x: int) -> int:
    """``x`` clamped into SQLite's INTEGER range (as a bound it selects the same rows)."""
    return min(max(x, -_I64), _I64 - 1)


# (book "o"/"a", id, client id, symbol, status, JSON text); ids and symbols never hold tabs or newlines
OrderRow = tuple[str, int, str, str, str, str]
# (id, symbol, ts_ms, JSON text)
TradeRow = tuple[int, str, int, str]

_SCHEMA = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE journal(seq INTEGER PRIMARY KEY, data TEXT NOT NULL)",
    "CREATE TABLE orders(ns TEXT NOT NULL, book TEXT NOT NULL, id INTEGER NOT NULL,"
    " client_id TEXT NOT NULL, symbol TEXT NOT NULL, status TEXT NOT NULL, data TEXT NOT NULL,"
    " PRIMARY KEY(ns, book, id)) WITHOUT ROWID",
    "CREATE INDEX orders_cid ON orders(ns, book, client_id, id)",
    "CREATE TABLE trades(ns TEXT NOT NULL, id INTEGER NOT NULL, symbol TEXT NOT NULL, ts_ms INTEGER NOT NULL,"
    " data TEXT NOT NULL, PRIMARY KEY(ns, id)) WITHOUT ROWID",
    "CREATE INDEX trades_symbol ON trades(ns, symbol, id)",
    "CREATE TABLE state(ns TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY(ns, key))"
    " WITHOUT ROWID",
)


class StoreError(StateError):
    """The store file cannot be used (corrupt, foreign, or another schema version); it was not modified."""


def _feed_json(state: FeedState) -> str:
    shifts = ",".join(f"[{json.dumps(k)},{v}]" for k, v in state.shifts)
    return f"[{state.market_ms},{'true' if state.stalled else 'false'},[{shifts}]]"


class SimStore:
    """The simulator's SQLite file (created when missing or empty)."""

    def __init__(self, path: str | Path, *, compact_every: int = 512) -> None:
        self.path = Path(path)
        self.compact_every = compact_every
        self._pending = 0
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        if not fresh:
            with self.path.open("rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
            if head != _SQLITE_MAGIC:
                raise StoreError(f"{self.path}: not an SQLite database; refusing to use or overwrite it")
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open ({exc})") from None
        try:
            if fresh:
                self._create()
            else:
                self._check()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        except StoreError:
            self._db.close()
            raise
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"{self.path}: unreadable simulator store ({exc}); not modified") from None
        self._pending = self._db.execute("SELECT count(*) FROM journal").fetchone()[0]

    def _create(self) -> None:
        db = self._db
        db.execute("BEGIN")
        for stmt in _SCHEMA:
            db.execute(stmt)
        db.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?)",
            [("app", APP_ID), ("schema_version", str(SCHEMA_VERSION))],
        )
        db.execute("COMMIT")

    def _check(self) -> None:
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            raise StoreError(
                f"{self.path}: an SQLite file of another application (no meta table); not modified"
            )
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("app") != APP_ID:
            raise StoreError(f"{self.path}: not an {APP_ID} store (app={meta.get('app')!r}); not modified")
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise StoreError(
                f"{self.path}: schema version {meta.get('schema_version')!r}, this build reads"
                f" {SCHEMA_VERSION}; not modified"
            )

    def close(self) -> None:
        """Fold the journal and close the database."""
        self.compact()
        self._db.close()

    # -- writing -----------------------------------------------------------------------------------------

    def write(
        self,
        ns: str,
        orders: Iterable[OrderRow],
        trades: Iterable[TradeRow],
        state: Mapping[str, str],
        feed: FeedState | None = None,
    ) -> None:
        """Record one call's changes in one transaction (a journal row). Data items are JSON text."""
        lines = [ns]
        lines.extend(f"O\t{b}\t{i}\t{c}\t{s}\t{st}\t{d}" for b, i, c, s, st, d in orders)
        lines.extend(f"T\t{i}\t{s}\t{ts}\t{d}" for i, s, ts, d in trades)
        lines.extend(f"S\t{k}\t{v}" for k, v in state.items())
        if feed is not None:
            lines.append(f"F\t{_feed_json(feed)}")
        self._db.execute("INSERT INTO journal(data) VALUES (?)", ("\n".join(lines),))
        self._pending += 1
        if self._pending >= self.compact_every:
            self.compact()

    def save_feed(self, state: FeedState) -> None:
        """Record the feed's market time (e.g. at shutdown)."""
        self.write(_FEED_NS, (), (), {}, state)

    def compact(self) -> None:
        """Fold the journal into the indexed tables (one transaction)."""
        db = self._db
        rows = db.execute("SELECT seq, data FROM journal ORDER BY seq").fetchall()
        if not rows:
            self._pending = 0
            return
        orders: dict[tuple[str, str, str], tuple[str, ...]] = {}  # the last version of each order
        trades: list[tuple[str, ...]] = []
        state: dict[tuple[str, str], str] = {}
        for _, text in rows:
            ns, *items = text.split("\n")
            for item in items:
                kind, rest = item[0], item[2:]
                if kind == "O":
                    row = (ns, *rest.split("\t", 5))
                    orders[row[:3]] = row
                elif kind == "T":
                    trades.append((ns, *rest.split("\t", 3)))
                elif kind == "S":
                    k, v = rest.split("\t", 1)
                    state[(ns, k)] = v
                else:
                    state[(_FEED_NS, "state")] = rest
        db.execute("BEGIN")
        try:
            db.executemany(
                "INSERT OR REPLACE INTO orders(ns, book, id, client_id, symbol, status, data)"
                " VALUES (?, ?, CAST(? AS INTEGER), ?, ?, ?, ?)",
                list(orders.values()),
            )
            db.executemany(
                "INSERT OR REPLACE INTO trades(ns, id, symbol, ts_ms, data)"
                " VALUES (?, CAST(? AS INTEGER), ?, CAST(? AS INTEGER), ?)",
                trades,
            )
            db.executemany(
                "INSERT OR REPLACE INTO state(ns, key, data) VALUES (?, ?, ?)",
                [(ns, k, v) for (ns, k), v in state.items()],
            )
            db.execute("DELETE FROM journal WHERE seq <= ?", (rows[-1][0],))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self._pending = 0

    # -- reading (each read folds the journal first) --------------------------------------------------------

    def load_state(self, ns: str) -> dict[str, str]:
        """Every state row of a namespace (JSON text)."""
        self.compact()
        return dict(self._db.execute("SELECT key, data FROM state WHERE ns = ?", (ns,)).fetchall())

    def load_feed(self) -> FeedState | None:
        """The saved feed state, if any."""
        self.compact()
        row = self._db.execute(
            "SELECT data FROM state WHERE ns = ? AND key = 'state'", (_FEED_NS,)
        ).fetchone()
        if row is None:
            return None
        market_ms, stalled, shifts = json.loads(row[0])
        return FeedState(int(market_ms), bool(stalled), tuple((str(k), int(s)) for k, s in shifts))

    def load_orders(self, ns: str, recent_terminal: int) -> list[str]:
        """Open orders of both books plus the ``recent_terminal`` newest terminal ones per book."""
        self.compact()
        db = self._db
        out = [
            r[0]
            for r in db.execute("SELECT data FROM orders WHERE ns = ? AND status IN (?, ?)", (ns, *_OPEN))
        ]
        for book in ("o", "a"):
            out.extend(
                r[0]
                for r in db.execute(
                    "SELECT data FROM orders WHERE ns = ? AND book = ? AND status NOT IN (?, ?)"
                    " ORDER BY id DESC LIMIT ?",
                    (ns, book, *_OPEN, recent_terminal),
                )
            )
        return out

    def find_order(self, ns: str, book: str, order_id: int | None, client_id: str | None) -> str | None:
        """One order by id, or the newest with a client id (None for an id beyond SQLite's 64-bit range)."""
        if order_id is not None and not -_I64 <= order_id < _I64:
            return None
        self.compact()
        args: tuple[object, ...]
        if order_id is not None:
            sql, args = "SELECT data FROM orders WHERE ns = ? AND book = ? AND id = ?", (ns, book, order_id)
        else:
            sql = (
                "SELECT data FROM orders WHERE ns = ? AND book = ? AND client_id = ? ORDER BY id DESC LIMIT 1"
            )
            args = (ns, book, client_id)
        row = self._db.execute(sql, args).fetchone()
        return None if row is None else str(row[0])

    def load_trades(self, ns: str, limit: int) -> list[str]:
        """The ``limit`` newest trades, oldest first."""
        self.compact()
        rows = self._db.execute(
            "SELECT data FROM (SELECT id, data FROM trades WHERE ns = ? ORDER BY id DESC LIMIT ?)"
            " ORDER BY id",
            (ns, limit),
        ).fetchall()
        return [r[0] for r in rows]

    def query_trades(
        self, ns: str, symbol: str, start_ms: int | None, end_ms: int | None, from_id: int | None, limit: int
    ) -> list[str]:
        """Trades of a symbol, oldest first: from ``from_id`` / ``start_ms`` the first ``limit``, else the
        newest ``limit``."""
        self.compact()
        where = ["ns = ?", "symbol = ?"]
        args: list[object] = [ns, symbol]
        if from_id is not None:
            where.append("id >= ?")
            args.append(_clamp64(from_id))
        if start_ms is not None:
            where.append("ts_ms >= ?")
            args.append(_clamp64(start_ms))
        if end_ms is not None:
            where.append("ts_ms <= ?")
            args.append(_clamp64(end_ms))
        newest = from_id is None and start_ms is None
        order = "DESC" if newest else "ASC"
        sql = f"SELECT id, data FROM trades WHERE {' AND '.join(where)} ORDER BY id {order} LIMIT ?"
        rows = self._db.execute(sql, (*args, limit)).fetchall()
        if newest:
            rows.reverse()
        return [r[1] for r in rows]
