"""A recorded session read back for ``eclipse replay`` (:mod:`eclipse.proof.replay`): the bars its daemon
saw (``data.bar`` telemetry), its journal and its telemetry (:class:`Recording`), the read failures the
telemetry names (:class:`Failure`), and each client order id's recorded sends and fate (:func:`orders`).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from eclipse.contracts import (
    CancelRecorded,
    OrderAcked,
    OrderResolved,
    OrderSubmitting,
    OrderUnknown,
)
from eclipse.errors import EclipseError
from eclipse.execution.journal.store import JournalRecord
from eclipse.market.bars import BAR_MS, OhlcvFrame, embedded_dataset
from eclipse.proof.evidence import RunEvidence, VenueTruth, read_telemetry, symbol_key
from eclipse.venues.errors import VenueErrorKind
from eclipse.venues.types import OrderStatus

__all__ = [
    "Attempt",
    "Failure",
    "OrderTrack",
    "Recording",
    "ReplayDataError",
    "format_ms",
    "frames",
    "history",
    "orders",
    "window",
]

_K = VenueErrorKind
_RETRY_KIND: Final = {
    "network": _K.NETWORK,
    "exchange_busy": _K.EXCHANGE_BUSY,
    "rate_limited": _K.RATE_LIMITED,
    "timestamp": _K.TIMESTAMP,
}
_VENUE_ERROR: Final = re.compile(r"\[(?P<kind>[a-z_]+)\] (?:(?P<venue>\S+) )?(?P<op>[a-z_]+): ")
_READS: Final = ("fetch_order", "fetch_open_orders", "fetch_fills", "fetch_positions", "fetch_balance")


def format_ms(ms: int) -> str:
    """``2022-01-10T12:00:00Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ReplayDataError(EclipseError):
    """A run directory cannot be replayed (one line: what is missing and what to do)."""


@dataclass(frozen=True, slots=True)
class Failure:
    """A read the recorded daemon saw fail: at ``ts_ms``, of ``operation`` (None: whichever read comes
    first), on ``symbol`` (a key; None: any)."""

    ts_ms: int
    operation: str | None
    symbol: str | None
    kind: VenueErrorKind
    message: str
    venue: str
    reconcile: bool = False
    """Seen by the reconcile loop (else by the engine)."""
    span: tuple[int, int] = (0, 1 << 62)
    """Telemetry records (indices in the recording) that may come before the failing call: from the first
    one of the failure's own stage at that time, up to the one that reports it."""


@dataclass(frozen=True, slots=True)
class Recording:
    """What a run directory holds: its mode, symbols, bars, journal and telemetry."""

    run_dir: Path
    mode: str
    venue_id: str
    symbols: tuple[str, ...]
    """Unified symbols the recorded daemon traded (``runtime.started``)."""
    bars: Mapping[str, OhlcvFrame]
    """The bars it handled, by unified symbol (``data.bar``)."""
    journal: tuple[JournalRecord, ...]
    telemetry: tuple[Mapping[str, object], ...]
    started_ms: int
    setup_name: str
    """How the recorded daemon named its venue (``runtime.started``)."""
    equity: Decimal
    lives: tuple[int, ...]
    """Market time of each ``runtime.started`` (more than one: the daemon restarted on the directory)."""
    stopped: bool
    """The last life stopped gracefully (``runtime.stopped``)."""

    @classmethod
    def load(cls, run_dir: Path) -> Recording:
        """Read ``run_dir``; :class:`ReplayDataError` naming what is missing."""
        if not run_dir.is_dir():
            raise ReplayDataError(f"{run_dir}: no such run directory (give the --dir of an `eclipse run`)")
        journal_path, telemetry_path = run_dir / "journal.sqlite", run_dir / "telemetry.jsonl"
        for path in (journal_path, telemetry_path):
            if not path.is_file():
                raise ReplayDataError(f"{run_dir}: no {path.name}; is it the --dir of an `eclipse run`?")
        identity = _read_identity(run_dir)
        telemetry = tuple(read_telemetry(telemetry_path))
        starts = [r for r in telemetry if r.get("event") == "runtime.started"]
        if not starts:
            raise ReplayDataError(
                f"{telemetry_path}: no runtime.started event; the daemon never started here"
            )
        first = starts[0]
        symbols = tuple(s for s in str(first.get("symbols", "")).split(",") if s)
        spot = [s for s in symbols if ":" not in s]
        if spot:
            raise ReplayDataError(f"{run_dir}: spot symbols ({', '.join(spot)}) cannot be replayed yet")
        bars = _bars(telemetry, symbols)
        if not bars:
            raise ReplayDataError(
                f"{telemetry_path}: no bars recorded (data.bar events); this run predates them: record it "
                "again with this version of eclipse"
            )
        evidence = RunEvidence.from_run_dir(run_dir, VenueTruth((), (), {}, 0))
        return cls(
            run_dir,
            identity.get("mode", ""),
            identity.get("venue", ""),
            symbols,
            bars,
            evidence.journal,
            telemetry,
            _int(first.get("ts_ms")),
            str(first.get("venue", "")),
            Decimal(str(first.get("equity", "0"))),
            tuple(_int(r.get("ts_ms")) for r in starts),
            bool(telemetry) and telemetry[-1].get("event") == "runtime.stopped",
        )

    @property
    def simulated(self) -> bool:
        """Recorded in simulated time: market time in every record is deterministic."""
        return self.mode == "simulated-time"

    @property
    def telemetry_base(self) -> int:
        """Index of the first telemetry record of the first life (where a replayed daemon's first one is)."""
        i = next(i for i, r in enumerate(self.telemetry) if r.get("event") == "runtime.started")
        while i > 0 and _int(self.telemetry[i - 1].get("ts_ms")) == self.started_ms:
            i -= 1
        return i

    def _loop_fills(self, i: int) -> bool:
        """Whether the fill fetch that failed at telemetry record ``i`` was the reconcile loop's: the cycle
        that follows at that time is incomplete without a read error of its own (the engine's fetch on the
        bar before it was followed by a successful one of the loop)."""
        ts, j = self.telemetry[i].get("ts_ms"), i + 1
        while j < len(self.telemetry) and self.telemetry[j].get("ts_ms") == ts:
            r = self.telemetry[j]
            if r.get("event") == "reconcile.summary":
                return r.get("complete") is False and not r.get("error")
            if not str(r.get("event")).startswith(("reconcile.", "posture.")):
                return False
            j += 1
        return False

    def failures(self) -> list[Failure]:
        """The read failures the telemetry names, oldest first (router retries come from the journal)."""
        out: list[Failure] = []
        for i, r in enumerate(self.telemetry):
            name, ts = str(r.get("event")), _int(r.get("ts_ms"))
            sym = r.get("symbol")
            key = symbol_key(sym) if isinstance(sym, str) else None
            if name == "fills.fetch_failed":
                found = _parsed(ts, str(r.get("detail", "")), key, _kind(r.get("error_kind")))
                found = [replace(f, operation="fetch_fills") for f in found]
            elif name == "protection.check_failed":
                found = _parsed(ts, str(r.get("detail", "")), key, _kind(r.get("error_kind")))
            else:  # any other record naming a failed read (reconcile.summary's error, a trigger lookup ...)
                texts = [v for k, v in r.items() if k in ("detail", "error") and isinstance(v, str) and v]
                found = [f for t in texts for f in _parsed(ts, t, key, _K.NETWORK) if f.operation is not None]
                if name == "reconcile.summary":
                    found = [replace(f, symbol=None) for f in found]
            stage = {"reconcile.summary": ("reconcile.", "posture."), "fills.fetch_failed": ("fills.",)}.get(
                name, ("protection.",) if name == "protection.check_failed" else ()
            )
            lo = i
            while stage and lo > 0 and str(self.telemetry[lo - 1].get("event")).startswith(stage):
                lo -= 1
            loop = name == "reconcile.summary" or (name == "fills.fetch_failed" and self._loop_fills(i))
            out.extend(replace(f, span=(lo, i), reconcile=loop) for f in found)
        return out


def _read_identity(run_dir: Path) -> dict[str, str]:
    try:
        raw = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _int(v: object) -> int:
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return v
    try:
        return int(str(v))
    except ValueError:
        return 0


def _kind(v: object) -> VenueErrorKind:
    try:
        return VenueErrorKind(str(v))
    except ValueError:
        return _K.NETWORK


def _parsed(ts: int, text: str, key: str | None, fallback: VenueErrorKind) -> list[Failure]:
    """Failures named in a telemetry text (each VenueError reads ``[kind] venue operation: message``)."""
    found = list(_VENUE_ERROR.finditer(text))
    if not found:
        return [Failure(ts, None, key, fallback, text, "")]
    out = []
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        message = text[m.end() : end].rstrip("; ").split("; ")[0]
        op = m.group("op") if m.group("op") in _READS else None
        out.append(Failure(ts, op, key, _kind(m.group("kind")), message, m.group("venue") or ""))
    return out


def _bars(telemetry: Sequence[Mapping[str, object]], symbols: Sequence[str]) -> dict[str, OhlcvFrame]:
    """The ``data.bar`` records as frames by unified symbol (each bar once, in time order)."""
    unified = {symbol_key(s): s for s in symbols}
    rows: dict[str, dict[int, tuple[float, ...]]] = defaultdict(dict)
    for r in telemetry:
        if r.get("event") != "data.bar":
            continue
        sym = unified.get(symbol_key(str(r.get("symbol", ""))))
        if sym is None:
            continue
        values = [r.get(k) for k in ("open", "high", "low", "close", "volume")]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            continue
        rows[sym].setdefault(_int(r.get("bar_ts_ms")), tuple(float(str(v)) for v in values))
    out = {}
    for sym, by_ts in rows.items():
        ts = sorted(by_ts)
        cols = np.array([by_ts[t] for t in ts], dtype=np.float64).reshape(len(ts), 5).T.copy()
        out[sym] = OhlcvFrame(
            np.array(ts, dtype=np.int64), cols[0], cols[1], cols[2], cols[3], cols[4], "data.bar"
        )
    return out


# --- the orders of the recording --------------------------------------------------------------------------


@dataclass(slots=True)
class Attempt:
    """One recorded send of an order; its ``outcome``: ack, unknown, rejected, retry or none."""

    n: int
    ts_ms: int
    outcome: str = "none"
    kind: VenueErrorKind | None = None
    message: str = ""
    code: int | str | None = None
    ack: OrderAcked | None = None
    """The venue's report when this attempt landed (the answer, or the lookup's after an unknown)."""
    settled_ms: int = 0
    """An unknown outcome: when the recorded lookups settled it (until then they failed)."""
    next_ms: int = 0
    """A retried send: when the next one went out."""
    absent_ms: int = 0
    """An unknown outcome proven absent by the lookups: when."""


@dataclass(slots=True)
class OrderTrack:
    """One client order id of the recording and, while replaying, what the replay did with it."""

    sub: OrderSubmitting
    attempts: dict[int, Attempt] = field(default_factory=dict)
    seen: list[tuple[int, int, OrderAcked | OrderResolved]] = field(default_factory=list)
    """What the market did, at its recorded time and seq (later acks and resolutions)."""
    seqs: list[int] = field(default_factory=list)
    """Every journal seq of this client id."""
    cancels: list[OrderResolved] = field(default_factory=list)
    """Results of the recorded daemon's cancels that the venue carried out."""
    adopted: bool = False
    """Found on the venue by recovery (``recovered``), never sent by a recorded daemon life."""
    landed_ms: int | None = None
    """When it exists on the replayed venue (None: not yet)."""
    landing: OrderAcked | None = None
    sends: int = 0
    """Sends the replay made (the n-th answers the recorded attempt n)."""
    canceled_ms: int | None = None
    canceled: OrderResolved | None = None
    done_cancels: int = 0
    lookup_until: int = 0
    ended: bool = False
    """Seen terminal by the replay (open-order listings skip it)."""
    cancelling: list[list[int]] = field(default_factory=list)
    """[asked, confirmed] market times of each recorded cancel (its tries failed in between)."""

    @property
    def conditional(self) -> bool:
        """A stop or take-profit (the venue's trigger-order book)."""
        return self.sub.type.conditional


def orders(
    journal: Sequence[JournalRecord], telemetry: Sequence[Mapping[str, object]]
) -> dict[str, OrderTrack]:
    """Each client order id of the journal: its recorded sends, what the market did to it, its cancels."""
    retries = {
        (str(r.get("client_order_id")), _int(r.get("attempt"))): r
        for r in telemetry
        if r.get("event") == "order.create.retry"
    }
    orders: dict[str, OrderTrack] = {}
    current: dict[str, Attempt] = {}
    cancelling: set[str] = set()
    for rec in journal:
        e = rec.event
        cid = getattr(e, "client_order_id", None)
        if not isinstance(cid, str):
            continue
        o = orders.get(cid)
        if isinstance(e, OrderSubmitting):
            if o is None:
                o = orders[cid] = OrderTrack(e, adopted=e.recovered)
            o.seqs.append(rec.seq)
            if e.recovered:
                continue
            prev = current.get(cid)
            if prev is not None and prev.outcome == "none":
                retry = retries.get((cid, prev.n), {})
                prev.outcome, prev.kind = "retry", _RETRY_KIND.get(str(retry.get("reason")), _K.NETWORK)
                prev.next_ms = e.ts_ms
                code = retry.get("code")
                prev.code = code if isinstance(code, int | str) else None
            elif prev is not None and prev.outcome == "unknown" and prev.absent_ms:
                prev.next_ms = e.ts_ms
            current[cid] = o.attempts[e.attempt] = Attempt(e.attempt, e.ts_ms)
            continue
        if o is None:
            continue
        o.seqs.append(rec.seq)
        att = current.get(cid)
        if isinstance(e, OrderUnknown) and att is not None:
            att.outcome, att.kind, att.message = "unknown", e.error_kind, e.detail
            continue
        if att is not None and att.outcome == "unknown" and not att.settled_ms and isinstance(e, OrderAcked):
            att.settled_ms = (
                e.ts_ms
            )  # found then: the lookups before it failed ("not found" is answered as is)
        if isinstance(e, OrderAcked):
            if att is not None and att.ack is None and att.outcome in ("none", "unknown"):
                att.ack = e
                att.outcome = "ack" if att.outcome == "none" else att.outcome
            else:
                o.seen.append((e.ts_ms, rec.seq, e))
        elif isinstance(e, CancelRecorded):
            (cancelling.add if e.requested else cancelling.discard)(cid)
            if e.requested:
                o.cancelling.append([e.ts_ms, e.ts_ms])
            elif o.cancelling:
                o.cancelling[-1][1] = e.ts_ms
        elif isinstance(e, OrderResolved):
            _resolved(o, att, e, rec.seq, cid in cancelling)
    return orders


def _resolved(o: OrderTrack, att: Attempt | None, e: OrderResolved, seq: int, cancelling: bool) -> None:
    absent = e.error_kind is _K.ORDER_NOT_FOUND
    if absent and e.detail.startswith("lookup:"):
        if att is not None:
            att.absent_ms = e.ts_ms  # the unknown send never landed (the attempt stays unknown, not landed)
        return
    if cancelling:
        if e.detail == "cancel: canceled":
            o.cancels.append(e)
        elif not absent:
            o.seen.append((e.ts_ms, seq, e))
        return
    if (
        att is not None
        and att.ack is None
        and att.outcome in ("none", "retry")
        and e.status is OrderStatus.REJECTED
    ):
        kind = e.error_kind or _K.INVALID_ORDER
        why, sep, rest = e.detail.partition(": ")
        att.outcome, att.kind, att.code = "rejected", kind, e.error_code
        att.message = rest if sep and why in (kind.value, "retries_exhausted", "retry_budget") else e.detail
        return
    o.seen.append((e.ts_ms, seq, e))


# --- the market of a replay ------------------------------------------------------------------------------


def window(rec: Recording, from_ms: int | None, to_ms: int | None) -> tuple[int, int, int, int]:
    """(first bar, last bar) asked for and (first, last) recorded; ReplayDataError for a window outside."""
    ts = np.unique(np.concatenate([f.ts_ms for f in rec.bars.values()]))
    first, last = int(ts[0]), int(ts[-1])
    span = f"the recording's bars run from {format_ms(first)} to {format_ms(last)}"
    a = first if from_ms is None else from_ms
    b = last if to_ms is None else to_ms
    if a < first - BAR_MS + 1 or a > last:
        raise ReplayDataError(f"--from {format_ms(a)} is outside the recording: {span}")
    if b < first or b > last + BAR_MS - 1:
        raise ReplayDataError(f"--to {format_ms(b)} is outside the recording: {span}")
    if a > b:
        raise ReplayDataError(f"--from {format_ms(a)} is after --to {format_ms(b)}; swap them")
    inside = ts[(ts >= a) & (ts <= b)]
    if len(inside) == 0:
        raise ReplayDataError(f"no recorded bar opens between --from and --to; {span}")
    return int(inside[0]), int(inside[-1]), first, last


def history(rec: Recording, given: Mapping[str, OhlcvFrame]) -> tuple[dict[str, OhlcvFrame], str, bool]:
    """History frames by unified symbol, how it was found, and whether it is the embedded month."""
    if given:
        found = {s: given[symbol_key(s)] for s in rec.symbols if symbol_key(s) in given}
        missing = [s for s in rec.symbols if s not in found]
        how = "--data " + ", ".join(f"{symbol_key(s)} ({len(f)} bars)" for s, f in found.items())
        return found, how + (f"; none for {', '.join(missing)}" if missing else ""), False
    month = embedded_dataset()
    if len(rec.symbols) == 1 and symbol_key(rec.symbols[0]) == "BTCUSDT":
        bars = rec.bars[rec.symbols[0]]
        idx = np.searchsorted(month.ts_ms, bars.ts_ms)
        same = bool((idx < len(month)).all()) and all(
            np.array_equal(getattr(month, c)[idx], getattr(bars, c))
            for c in ("ts_ms", "open", "high", "low", "close")
        )
        # a simulator serving the month prints the volume with a few decimals: the history is as it saw it
        volume = next(
            (
                v
                for d in (None, *range(9))
                if np.array_equal((v := _decimals(month.volume, d))[idx], bars.volume)
            ),
            None,
        )
        if same and volume is not None:
            frame = OhlcvFrame(
                month.ts_ms, month.open, month.high, month.low, month.close, volume, month.source
            )
            return {rec.symbols[0]: frame}, "the embedded BTC month (the recorded bars are its bars)", True
    return {}, "none (the features start cold: give --data SYMBOL=FILE with the bars before the run)", False


def _decimals(values: NDArray[np.float64], digits: int | None) -> NDArray[np.float64]:
    """``values`` as printed with ``digits`` decimals (None: as they are)."""
    if digits is None:
        return values
    return np.array([float(f"{v:.{digits}f}") for v in values.tolist()], dtype=np.float64)


def frames(rec: Recording, history: Mapping[str, OhlcvFrame], last: int) -> dict[str, OhlcvFrame]:
    """History before the first recorded bar, then the recorded bars up to ``last`` (inclusive)."""
    out = {}
    for sym, bars in rec.bars.items():
        h = history.get(sym)
        parts = [bars.slice(0, int(np.searchsorted(bars.ts_ms, last, side="right")))]
        if h is not None:
            parts.insert(0, h.slice(0, int(np.searchsorted(h.ts_ms, int(bars.ts_ms[0])))))
        ts, o, hi, lo, c, v = (
            np.concatenate([getattr(p, col) for p in parts])
            for col in ("ts_ms", "open", "high", "low", "close", "volume")
        )
        out[sym] = OhlcvFrame(ts, o, hi, lo, c, v, source="replay")
    return out
