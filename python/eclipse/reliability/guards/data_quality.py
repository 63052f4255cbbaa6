"""Data quality and staleness of each symbol's 1m bars (per symbol; fail-closed).

* ``data_stale``: entries on a symbol are blocked while ``now - close of its last good bar`` exceeds
  ENTRY_DATA_MAX_STALE_SEC, and before its first bar (0 = off).
* ``data_quality_low``: the score (0..100) of the last ENTRY_DATA_QUALITY_WINDOW expected bars is below
  ENTRY_DATA_QUALITY_MIN (0 = off).
* ``data_quality_roll``: the rolling score (mean of the samples of the last ENTRY_DATA_QUALITY_ROLL_SEC)
  stayed below ENTRY_DATA_QUALITY_ROLL_MIN for ENTRY_DATA_QUALITY_KILL_SEC; lifted when it recovers.

Score: the window is the expected 1m slots from the first bar received (since the start) or W-1 slots before
its end, whichever is later, to the later of the newest bar received and the newest slot that is due (closed
more than 60 s ago). ``penalty = missing + degenerate + 0.5 x (late + duplicate + out_of_order)`` over it and
``score = max(0, 100 x (1 - penalty / expected))``. Late = received more than 60 s after its close;
degenerate = :func:`~eclipse.market.bars.bar_problem` finds something (NaN, price <= 0, high < low ...) or the
open time is not on a minute. A bar closing more than 60 s after it was received is ignored (not fresh, not
scored).

Every bar received is also recorded as it is (``data.bar``: ``symbol``, ``bar_ts_ms`` and the OHLCV), so a run
directory holds the market its daemon saw (``eclipse replay``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from eclipse.contracts import GuardKnobs
from eclipse.market.bars import BAR_MS, Bar, bar_problem
from eclipse.reliability.guards.base import ActiveGuard, Outbox, block, get_float, get_int, get_opt_int

__all__ = ["LATE_MS", "DataQualityGuard", "DataQualitySettings", "QualityScore"]

LATE_MS = 60_000
"""A bar received more than this after its close is late (and a slot not received by then is missing)."""
STALE, LOW, ROLL = "data_stale", "data_quality_low", "data_quality_roll"


@dataclass(frozen=True, slots=True)
class DataQualitySettings:
    """ENTRY_DATA_* knobs (ENTRY_DATA_QUALITY_ROLL_MIN already resolved)."""

    tf: str
    """ENTRY_DATA_QUALITY_TF: ``1m``, the bars :meth:`DataQualityGuard.on_bar` receives."""
    max_stale_sec: float
    quality_min: float
    window: int
    emit_sec: float
    history_max: int
    roll_sec: float
    roll_min: float
    kill_sec: float


@dataclass(frozen=True, slots=True)
class QualityScore:
    """The score of a symbol's window and what it counted."""

    score: float
    expected: int
    bars: int
    missing: int
    late: int
    duplicate: int
    degenerate: int


@dataclass(slots=True)
class _Slot:
    late: bool
    bad: bool
    dups: int = 0
    out_of_order: bool = False


@dataclass(slots=True)
class _Feed:
    first_ts: int | None = None
    latest_ts: int | None = None
    last_close_ms: int | None = None
    slots: dict[int, _Slot] = field(default_factory=dict)
    samples: deque[tuple[int, float]] = field(default_factory=deque)
    quality: QualityScore | None = None
    roll: float | None = None
    below_since_ms: int | None = None
    roll_block_ms: int | None = None
    last_emit_ms: int | None = None
    bars_seen: int = 0
    scored: tuple[int, int] | None = None
    """(bars seen, due slot) the quality was computed for: the same again is not recomputed."""


class DataQualityGuard:
    """Per-symbol staleness, quality score and rolling score."""

    def __init__(self, settings: DataQualitySettings) -> None:
        self.settings = settings
        self.out = Outbox()
        self.changed = False
        self._feeds: dict[str, _Feed] = {}

    def on_bar(self, symbol: str, bar: Bar, now: int) -> None:
        """A closed bar of ``symbol`` received at ``now`` (recorded as ``data.bar``: a replay needs it)."""
        self.out.put(
            "data.bar", symbol=symbol, bar_ts_ms=bar.ts_ms, open=bar.open, high=bar.high, low=bar.low,
            close=bar.close, volume=bar.volume,
        )  # fmt: skip
        f = self._feeds.get(symbol)
        if f is None:
            f = self._feeds[symbol] = _Feed(samples=deque(maxlen=self.settings.history_max))
        ts = bar.ts_ms - bar.ts_ms % BAR_MS
        if ts + BAR_MS > now + LATE_MS:
            return  # closes more than 60 s after it was received: not a closed bar, ignored
        f.bars_seen += 1
        bad = ts != bar.ts_ms or bar_problem(bar.open, bar.high, bar.low, bar.close, bar.volume) is not None
        late = now - (ts + BAR_MS) > LATE_MS
        slot = f.slots.get(ts)
        if slot is not None:
            slot.dups += 1
        elif f.latest_ts is None or ts > f.latest_ts - self.settings.window * BAR_MS:
            f.slots[ts] = _Slot(late, bad, 0, f.latest_ts is not None and ts < f.latest_ts)
            f.first_ts = ts if f.first_ts is None else min(f.first_ts, ts)
        f.latest_ts = ts if f.latest_ts is None else max(f.latest_ts, ts)
        if not bad and (f.last_close_ms is None or ts + BAR_MS > f.last_close_ms):
            f.last_close_ms = ts + BAR_MS
        self.changed = True
        self._tick(symbol, f, now)

    def evaluate(self, now: int) -> None:
        """Rescore every symbol; sample, emit ``data.quality`` and judge the rolling score when due."""
        for symbol, f in self._feeds.items():
            self._tick(symbol, f, now)

    def score(self, symbol: str, now: int) -> QualityScore | None:
        """The score of ``symbol``'s window at ``now`` (None before its first bar)."""
        f = self._feeds.get(symbol)
        return None if f is None else self._score(f, now)

    def knobs(self, symbol: str | None, now: int) -> GuardKnobs:
        """Blocks of ``symbol`` (none for ``symbol`` None: these guards are per symbol)."""
        out = GuardKnobs()
        if symbol is not None:
            for code, reason in self._blocks(symbol, self._feeds.get(symbol), now):
                out = out.tighten(block(code, reason))
        return out

    def active(self, now: int) -> list[ActiveGuard]:
        """The blocks in force on the symbols seen so far (an unseen one is blocked too: ``data_stale``)."""
        return [
            ActiveGuard("data_quality", code, symbol, reason, None)
            for symbol, f in self._feeds.items()
            for code, reason in self._blocks(symbol, f, now)
        ]

    def lift(self, code: str, symbol: str | None) -> bool:
        """The operator lifts ``data_quality_roll`` (it blocks again if the rolling score stays low);
        staleness and the score are conditions, not lifted."""
        if code != ROLL:
            return False
        lifted = False
        for name, f in self._feeds.items():
            if f.roll_block_ms is not None and symbol in (None, name):
                f.roll_block_ms, f.below_since_ms, lifted = None, None, True
                self.out.put("data.quality.roll_cleared", symbol=name, roll_score=f.roll, how="operator")
        self.changed |= lifted
        return lifted

    # --- persistence ----------------------------------------------------------------------------------------
    def dump(self) -> dict[str, object]:
        """Per symbol: the last good bar's close, the score samples and the rolling-score state."""
        return {
            s: {
                "last_close_ms": f.last_close_ms,
                "samples": [[t, v] for t, v in f.samples],
                "below_since_ms": f.below_since_ms,
                "roll_block_ms": f.roll_block_ms,
                "last_emit_ms": f.last_emit_ms,
            }
            for s, f in self._feeds.items()
        }

    def restore(self, data: Mapping[str, object], now: int) -> None:
        """Load :meth:`dump`'s output (samples older than the rolling window are dropped). The score window
        starts again at the first bar after the restart; the last bar's close keeps the staleness."""
        cut = now - round(self.settings.roll_sec * 1000)
        self._feeds = {}
        for symbol, raw in data.items():
            if not isinstance(raw, Mapping) or not isinstance(raw.get("samples", []), list):
                raise ValueError(f"data quality of {symbol!r} must be an object with a samples list")
            f = _Feed(samples=deque(maxlen=self.settings.history_max))
            f.last_close_ms = get_opt_int(raw, "last_close_ms")
            for pair in raw.get("samples", []):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ValueError(f"a sample must be [ts_ms, score], got {pair!r}")
                t, v = get_int({"t": pair[0]}, "t"), get_float({"v": pair[1]}, "v")
                if t > cut:
                    f.samples.append((t, v))
            f.below_since_ms = get_opt_int(raw, "below_since_ms")
            f.roll_block_ms = get_opt_int(raw, "roll_block_ms")
            f.last_emit_ms = get_opt_int(raw, "last_emit_ms")
            f.roll = self._roll(f, now)
            self._feeds[str(symbol)] = f

    # --- internals ------------------------------------------------------------------------------------------
    def _blocks(self, symbol: str, f: _Feed | None, now: int) -> Iterator[tuple[str, str]]:
        s = self.settings
        if s.max_stale_sec > 0:
            if f is None or f.last_close_ms is None:
                yield STALE, f"data: no good 1m bar of {symbol} received yet"
            elif now - f.last_close_ms > s.max_stale_sec * 1000:
                age = (now - f.last_close_ms) / 1000
                yield STALE, f"data: last 1m bar of {symbol} closed {age:.0f}s ago > {s.max_stale_sec:g}s"
        if f is None:
            return
        if f.roll_block_ms is not None:
            roll = "n/a" if f.roll is None else f"{f.roll:.1f}"
            yield ROLL, f"data: rolling quality score of {symbol} {roll} < {s.roll_min:g}"
        q = f.quality
        if s.quality_min > 0 and q is not None and q.score < s.quality_min:
            yield LOW, f"data: quality score of {symbol} {q.score:.1f} < {s.quality_min:g}"

    def _score(self, f: _Feed, now: int) -> QualityScore | None:
        if f.first_ts is None or f.latest_ts is None:
            return None
        due = (now - BAR_MS - LATE_MS) // BAR_MS * BAR_MS
        if f.scored == (f.bars_seen, due):
            return f.quality  # no bar and no new slot due since the last score
        f.scored = (f.bars_seen, due)
        end = max(f.latest_ts, due)
        start = max(f.first_ts, end - (self.settings.window - 1) * BAR_MS)
        for ts in [t for t in f.slots if t < start]:
            del f.slots[ts]
        expected = (end - start) // BAR_MS + 1
        inside = [s for t, s in f.slots.items() if t <= end]
        late = sum(s.late for s in inside)
        dup = sum(s.dups + s.out_of_order for s in inside)
        bad = sum(s.bad for s in inside)
        missing = expected - len(inside)
        penalty = missing + bad + 0.5 * (late + dup)
        score = round(max(0.0, 100.0 * (1.0 - penalty / expected)), 1)
        return QualityScore(score, expected, len(inside), missing, late, dup, bad)

    def _roll(self, f: _Feed, now: int) -> float | None:
        cut = now - round(self.settings.roll_sec * 1000)
        values = [v for t, v in f.samples if t > cut]
        return round(sum(values) / len(values), 1) if values else None

    def _tick(self, symbol: str, f: _Feed, now: int) -> None:
        s = self.settings
        f.quality = self._score(f, now)
        if f.last_emit_ms is None or now - f.last_emit_ms >= s.emit_sec * 1000:
            f.last_emit_ms = now
            if f.quality is not None:
                f.samples.append((now, f.quality.score))
            f.roll = self._roll(f, now)
            self.changed = True
            self._emit(symbol, f, now)
        else:
            f.roll = self._roll(f, now)
        self._judge_roll(symbol, f, now)

    def _judge_roll(self, symbol: str, f: _Feed, now: int) -> None:
        s = self.settings
        if f.roll is None:
            return  # no sample in the window: the state stays as it is
        if s.roll_min > 0 and f.roll < s.roll_min:
            if f.below_since_ms is None:
                f.below_since_ms, self.changed = now, True
            if f.roll_block_ms is None and now - f.below_since_ms >= s.kill_sec * 1000:
                f.roll_block_ms, self.changed = now, True
                self.out.put(
                    "data.quality.roll_alert",
                    symbol=symbol,
                    roll_score=f.roll,
                    roll_min=s.roll_min,
                    below_since_ms=f.below_since_ms,
                    severity="high",
                )
        elif f.below_since_ms is not None or f.roll_block_ms is not None:
            if f.roll_block_ms is not None:
                self.out.put("data.quality.roll_cleared", symbol=symbol, roll_score=f.roll, how="recovered")
            f.below_since_ms, f.roll_block_ms, self.changed = None, None, True

    def _emit(self, symbol: str, f: _Feed, now: int) -> None:
        q = f.quality
        stale = None if f.last_close_ms is None else round((now - f.last_close_ms) / 1000, 1)
        self.out.put(
            "data.quality",
            symbol=symbol,
            score=None if q is None else q.score,
            roll_score=f.roll,
            stale_sec=stale,
            bars=0 if q is None else q.bars,
            expected=0 if q is None else q.expected,
            missing=0 if q is None else q.missing,
            late=0 if q is None else q.late,
            duplicate=0 if q is None else q.duplicate,
            degenerate=0 if q is None else q.degenerate,
        )
