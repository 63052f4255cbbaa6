"""Price series of the simulator's market: points ``(ts, price, seg, volume)`` and the CSV loaders.

``seg`` says how the price reached a point from the previous one (:class:`Seg`). See :mod:`market` for
how OHLCV bars, trades and pushed data become points.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from enum import IntEnum
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from eclipse.errors import DataError
from eclipse.market.bars import OhlcvFrame
from eclipse.venues.types import Candle

__all__ = [
    "GAP",
    "HOLD",
    "LINEAR",
    "Seg",
    "Series",
    "load_quotes_csv",
    "load_trades_csv",
    "ohlcv_points",
    "segment_reduce",
]


class Seg(IntEnum):
    """How the price reached a point from the previous one."""

    LINEAR = 0
    HOLD = 1
    GAP = 2


# plain ints for hot paths (IntEnum member access is slow)
LINEAR, HOLD, GAP = 0, 1, 2


def _decimals_of(values: NDArray[np.float64]) -> int:
    sample = values[:: max(1, len(values) // 2000)]
    for d in range(9):
        if np.all(np.abs(np.round(sample, d) - sample) <= 1e-9 * np.maximum(np.abs(sample), 1e-12)):
            return d
    return 8


def _default_tick(values: NDArray[np.float64]) -> float:
    ref = float(np.median(values))
    k = math.floor(math.log10(ref)) if ref > 0 else 0
    return min(max(10.0 ** (k - 5), 1e-8), 10.0 ** -_decimals_of(values))


LIVE_RETAIN_MS = 24 * 3_600_000
"""How much of its path a pushed (live) series keeps: a day of data time; the matching engine walks only
from its last sync, which the paper venue's every call moves to now."""
LIVE_MIN_POINTS = 16_384
"""A pushed series forgets nothing until it holds this many points."""


class Series:
    """One symbol's price points (data time) in growable numpy arrays; ``shift`` maps data time to market
    time (market = data + shift)."""

    def __init__(self, bar_ms: int, tick: float | None, live: bool) -> None:
        self.bar_ms = bar_ms
        self.tick = tick or 0.0
        self.decimals = 8
        self.live = live
        self.shift = 0
        self.n = 0
        self.ts = np.zeros(0, np.int64)
        self.price = np.zeros(0, np.float64)
        self.seg = np.zeros(0, np.int8)
        self.vol = np.zeros(0, np.float64)
        self.q_ts: NDArray[np.int64] | None = None
        self.q_bid: NDArray[np.float64] | None = None
        self.q_ask: NDArray[np.float64] | None = None
        # forming bar of a pushed series: open time, high, low, volume so far
        self.bar_ts: int | None = None
        self.bar_high = 0.0
        self.bar_low = 0.0
        self.bar_vol = 0.0
        self._memo_t, self._memo_n, self._memo_p = -1, -1, 0.0
        if tick:
            self._set_tick(tick)

    def _set_tick(self, tick: float) -> None:
        self.tick = tick
        self.decimals = max(0, min(12, -math.floor(math.log10(tick) + 1e-9)))

    def rnd(self, x: float) -> float:
        """Round to the series tick."""
        return round(round(x / self.tick) * self.tick, self.decimals)

    def set_points(
        self,
        ts: NDArray[np.int64],
        price: NDArray[np.float64],
        seg: NDArray[np.int8],
        vol: NDArray[np.float64],
    ) -> None:
        """Replace all points (a file series): prices rounded to the tick."""
        if not self.tick:
            self._set_tick(_default_tick(price))
        self.ts = np.ascontiguousarray(ts, np.int64)
        self.price = np.round(np.round(price / self.tick) * self.tick, self.decimals)
        self.seg = np.ascontiguousarray(seg, np.int8)
        self.vol = np.ascontiguousarray(vol, np.float64)
        self.n = len(ts)

    def append(self, ts: int, price: float, seg: int, vol: float) -> None:
        """Append one point (growing the arrays by doubling; a pushed series first forgets what is older
        than :data:`LIVE_RETAIN_MS`, so a paper venue running for months holds a bounded path)."""
        if not self.tick:
            self._set_tick(_default_tick(np.array([price])))
        if self.n == len(self.ts) and self.live and self.n >= LIVE_MIN_POINTS:
            self.forget_before(ts - LIVE_RETAIN_MS)
        if self.n == len(self.ts):
            cap = max(64, 2 * self.n)
            for name in ("ts", "price", "seg", "vol"):
                old = getattr(self, name)
                new = np.zeros(cap, old.dtype)
                new[: self.n] = old[: self.n]
                setattr(self, name, new)
        i = self.n
        p = self.rnd(price)
        self.ts[i] = ts
        self.price[i] = p
        self.seg[i] = int(seg)
        self.vol[i] = vol
        self.n += 1

    def forget_before(self, t: int) -> int:
        """Drop the points before data time ``t``, keeping the last one before it (the price at ``t`` stays
        what it was); the number dropped. Only what happened before ``t`` is forgotten."""
        n = self.n
        keep_from = int(self.ts[:n].searchsorted(t, "left")) - 1
        if keep_from <= 0:
            return 0
        for name in ("ts", "price", "seg", "vol"):
            arr = getattr(self, name)
            arr[: n - keep_from] = arr[keep_from:n]
        self.n = n - keep_from
        self._memo_t, self._memo_n = -1, -1
        return keep_from

    def last_ts(self) -> int:
        """Data time of the last point."""
        return int(self.ts[self.n - 1])

    def settled_ts(self) -> int:
        """Data time up to which no point can be added any more: the last point's, except when it is at the
        forming pushed bar's last millisecond, which a later update of that bar may still add points at."""
        last = self.last_ts()
        if self.bar_ts is not None and last == self.bar_ts + self.bar_ms - 1:
            return last - 1
        return last

    # -- queries in data time --------------------------------------------------------------------------

    def price_at(self, t: int) -> float:
        """Price at data time ``t`` on the tick (linear inside a continuous move; the first price before
        the data)."""
        if t == self._memo_t and self.n == self._memo_n:
            return self._memo_p
        p = self.exact_price_at(t)
        p = self.rnd(p)
        self._memo_t, self._memo_n, self._memo_p = t, self.n, p
        return p

    def exact_price_at(self, t: int) -> float:
        """Price at data time ``t`` without rounding to the tick (the geometry of the path)."""
        n = self.n
        i = int(self.ts[:n].searchsorted(t, "right")) - 1
        if i < 0:
            return float(self.price[0])
        if i + 1 < n and self.seg[i + 1] == LINEAR:
            t0, t1 = int(self.ts[i]), int(self.ts[i + 1])
            p0, p1 = float(self.price[i]), float(self.price[i + 1])
            return p0 + (p1 - p0) * (t - t0) / (t1 - t0)
        return float(self.price[i])

    def prices_at(self, t: NDArray[np.int64]) -> NDArray[np.float64]:
        """Vectorised :meth:`price_at` (rounded to the tick)."""
        n = self.n
        ts, price = self.ts[:n], self.price[:n]
        i = np.clip(np.searchsorted(ts, t, "right") - 1, 0, n - 1)
        j = np.minimum(i + 1, n - 1)
        lin = (j > i) & (self.seg[j] == LINEAR) & (t >= ts[i])
        span = np.where(lin, ts[j] - ts[i], 1)
        frac = np.where(lin, (t - ts[i]) / span, 0.0)
        raw = price[i] + (price[j] - price[i]) * frac
        return np.round(np.round(raw / self.tick) * self.tick, self.decimals)

    def _partial(self, t: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Volume (and quote volume) accrued on the continuous move that contains ``t``, up to ``t``."""
        n = self.n
        ts = self.ts[:n]
        i = np.searchsorted(ts, t, "right") - 1
        ic = np.clip(i, 0, n - 1)
        j = np.minimum(ic + 1, n - 1)
        lin = (i >= 0) & (j > ic) & (self.seg[j] == LINEAR)
        span = np.where(lin, ts[j] - ts[ic], 1)
        v = np.where(lin, self.vol[j] * (t - ts[ic]) / span, 0.0)
        return v, v * self.price[j]

    def volumes(
        self, da: NDArray[np.int64], de: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(volume, quote volume) traded in each ``[da, de]`` (accruing linearly along continuous moves)."""
        n = self.n
        ts = self.ts[:n]
        lo = np.searchsorted(ts, da, "left")
        hi = np.searchsorted(ts, de, "right")
        vol = self.vol[:n]
        v = segment_reduce(np.add, vol, lo, hi, 0.0)
        q = segment_reduce(np.add, vol * self.price[:n], lo, hi, 0.0)
        pv1, pq1 = self._partial(de)
        pv0, pq0 = self._partial(da - 1)
        vols = np.asarray(np.round(np.maximum(v + pv1 - pv0, 0.0), 8), np.float64)
        quotes = np.asarray(np.round(np.maximum(q + pq1 - pq0, 0.0), 8), np.float64)
        return vols, quotes

    def covered(self, da: NDArray[np.int64], step: int, dnow: int) -> NDArray[np.bool_]:
        """Which buckets ``[da, da + step)`` have data up to ``dnow``: a point inside, or a continuous or
        held stretch across (not a data gap)."""
        n = self.n
        ts = self.ts[:n]
        lo = np.searchsorted(ts, da, "left")
        hi = np.searchsorted(ts, np.minimum(da + step, dnow + 1), "left")
        nxt = np.searchsorted(ts, da, "right")
        inside = (nxt > 0) & (nxt < n) & (self.seg[np.minimum(nxt, n - 1)] != GAP)
        return np.asarray((hi > lo) | inside, np.bool_)

    def buckets(self, da: NDArray[np.int64], step: int, dnow: int) -> tuple[NDArray[np.generic], ...]:
        """(open, high, low, close, volume, quote volume, point count) of the buckets ``[da, da + step)`` cut
        at ``dnow``: open = the price at the bucket's start on a continuous move, else its first point;
        close = the price at its end (or now); high/low over both and every point inside."""
        n = self.n
        ts, price, seg = self.ts[:n], self.price[:n], self.seg[:n]
        de = np.minimum(da + step - 1, dnow)
        lo = np.searchsorted(ts, da, "left")
        hi = np.searchsorted(ts, de, "right")
        nxt = np.searchsorted(ts, da, "right")
        linear_open = (nxt > 0) & (nxt < n) & (seg[np.minimum(nxt, n - 1)] == LINEAR)
        held = price[np.maximum(nxt - 1, 0)]
        first_in = np.where(hi > lo, price[np.minimum(lo, n - 1)], held)
        opens = np.where(linear_open, self.prices_at(da), first_in)
        closes = self.prices_at(de)
        highs = np.maximum(np.maximum(opens, closes), segment_reduce(np.maximum, price, lo, hi, -np.inf))
        lows = np.minimum(np.minimum(opens, closes), segment_reduce(np.minimum, price, lo, hi, np.inf))
        vol, qvol = self.volumes(da, de)
        return opens, highs, lows, closes, vol, qvol, hi - lo

    # -- pushing -------------------------------------------------------------------------------------------

    def push_candle(self, candle: Candle, obs: int) -> bool:
        """Add or update a bar observed at data time ``obs`` (see ``MarketFeed.push_candle``)."""
        bar = self.bar_ms
        end = candle.ts_ms + bar - 1
        if self.bar_ts is not None and candle.ts_ms < self.bar_ts:
            return False
        if self.bar_ts is not None and candle.ts_ms == self.bar_ts:
            last_t, last_p = self.last_ts(), float(self.price[self.n - 1])
            # at the observation time, after the last point, clamped to the bar's last millisecond: once that
            # is taken (an update observed at or after the bar's end), later updates share it (equal
            # timestamps, in push order), so the bar's final extremes and close are never dropped; the
            # feed's horizon holds that millisecond back until the next bar arrives (``settled_ts``)
            t = min(max(obs, candle.ts_ms, last_t + 1), end)
            ext: list[float] = []
            if candle.high > self.bar_high:
                ext.append(candle.high)
            if candle.low < self.bar_low:
                ext.append(candle.low)
            ext.sort(key=lambda p: abs(p - last_p))
            for k, p in enumerate(ext, start=1):
                self.append(min(t, last_t + max(1, (t - last_t) * k // (len(ext) + 1))), p, LINEAR, 0.0)
            self.append(t, candle.close, LINEAR, max(0.0, candle.volume - self.bar_vol))
        else:
            seg = HOLD if self.bar_ts is not None and candle.ts_ms == self.bar_ts + bar else GAP
            o, h, lo, c, v = candle.open, candle.high, candle.low, candle.close, candle.volume
            high_first = (h - o) < (o - lo) or ((h - o) == (o - lo) and c < o)
            e1, e2 = (h, lo) if high_first else (lo, h)
            if obs >= end + 1:
                offs = (0, bar // 4, (3 * bar) // 4, bar - 1)
            else:
                el = max(0, obs - candle.ts_ms)
                offs = (0, el // 3, (2 * el) // 3, el)
            span = max(offs[3], 1)
            self.append(candle.ts_ms, o, seg, 0.0)
            self.append(candle.ts_ms + offs[1], e1, LINEAR, v * offs[1] / span)
            self.append(candle.ts_ms + offs[2], e2, LINEAR, v * (offs[2] - offs[1]) / span)
            self.append(candle.ts_ms + offs[3], c, LINEAR, v * (offs[3] - offs[2]) / span)
            self.bar_ts = candle.ts_ms
        self.bar_high, self.bar_low, self.bar_vol = candle.high, candle.low, candle.volume
        return True

    def push_trade(self, ts_ms: int, price: float, qty: float) -> bool:
        """Add a trade (see ``MarketFeed.push_trade``)."""
        if self.n:
            last = self.last_ts()
            if ts_ms < last:
                return False
            ts_ms = max(ts_ms, last + 1)
        self.append(ts_ms, price, HOLD if self.n else GAP, qty)
        return True


def segment_reduce(
    ufunc: np.ufunc, arr: NDArray[np.float64], lo: NDArray[np.intp], hi: NDArray[np.intp], empty: float
) -> NDArray[np.float64]:
    """``ufunc.reduce(arr[lo[k]:hi[k]])`` for each k (``empty`` where the range is empty); the ranges are
    sorted and do not overlap."""
    out = np.full(len(lo), empty, np.float64)
    ne = hi > lo
    if not np.any(ne):
        return out
    base, top = int(lo[ne][0]), int(hi[ne][-1])
    ext = arr[base : top + 1] if top < len(arr) else np.append(arr[base:top], arr[top - 1])
    idx = np.empty(2 * int(np.count_nonzero(ne)), np.intp)
    idx[0::2] = lo[ne] - base
    idx[1::2] = hi[ne] - base
    out[ne] = ufunc.reduceat(ext, idx)[0::2]
    return out


def ohlcv_points(
    frame: OhlcvFrame, bar_ms: int
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int8], NDArray[np.float64]]:
    """Four points per bar: open, nearer extreme at 1/4, other extreme at 3/4, close at the last ms."""
    o, h, lo, c, v = frame.open, frame.high, frame.low, frame.close, frame.volume
    up, down = h - o, o - lo
    high_first = (up < down) | ((up == down) & (c < o))
    e1 = np.where(high_first, h, lo)
    e2 = np.where(high_first, lo, h)
    offsets = np.array([0, bar_ms // 4, (3 * bar_ms) // 4, bar_ms - 1], np.int64)
    ts = (frame.ts_ms[:, None] + offsets[None, :]).ravel()
    price = np.stack([o, e1, e2, c], axis=1).ravel()
    fr = np.diff(offsets) / float(bar_ms - 1)
    vol = np.stack([np.zeros_like(v), v * fr[0], v * fr[1], v * fr[2]], axis=1).ravel()
    n = len(frame)
    seg = np.zeros((n, 4), np.int8)
    adjacent = np.concatenate([[False], np.diff(frame.ts_ms) == bar_ms])
    seg[:, 0] = np.where(adjacent, HOLD, GAP)
    return ts, price, seg.ravel(), vol


def _read_text(path: str | Path) -> str:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{p}: cannot read: no such file") from None
    except OSError as exc:
        raise DataError(f"{p}: cannot read ({exc.strerror or exc})") from None
    try:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return data.decode("utf-8-sig")  # an Excel export starts with a byte order mark
    except UnicodeDecodeError as exc:
        raise DataError(f"{p}: cannot read: not UTF-8 text (byte {exc.start}); expected a CSV file") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{p}: cannot read ({exc})") from None


def _read_columns(path: str | Path, columns: tuple[str, ...]) -> tuple[list[int], list[list[str]]]:
    """(line numbers, rows of the ``columns`` fields) of a CSV file; DataError naming file and line."""
    reader = csv.reader(io.StringIO(_read_text(path)))
    try:
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in columns if c not in header]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)} (header: {','.join(header)})")
        idx = [header.index(c) for c in columns]
        lines: list[int] = []
        rows: list[list[str]] = []
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{path}: line {reader.line_num}: expected {len(header)} fields, got {len(row)}"
                )
            lines.append(reader.line_num)
            rows.append([row[i] for i in idx])
    except csv.Error as exc:
        raise DataError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None
    if not rows:
        raise DataError(f"{path}: no data rows")
    return lines, rows


def _numbers(
    path: str | Path, lines: list[int], rows: list[list[str]], columns: tuple[str, ...]
) -> tuple[NDArray[np.int64], list[NDArray[np.float64]]]:
    """``ts_ms`` (first column, integers) and the float columns of ``rows``; DataError naming the line and
    column of a field that is not a number or not finite."""
    try:
        ts = np.array([int(r[0]) for r in rows], np.int64)
        cols = [np.array([float(r[j]) for r in rows], np.float64) for j in range(1, len(columns))]
    except (ValueError, OverflowError):
        for line, row in zip(lines, rows, strict=True):  # find the field, to name it
            for j, (name, text) in enumerate(zip(columns, row, strict=True)):
                if not _is_number(text, integer=j == 0):
                    kind = "an integer" if j == 0 else "a number"
                    raise DataError(f"{path}: line {line}: {name} is not {kind}, got {text!r}") from None
        raise
    for name, col in zip(columns[1:], cols, strict=True):
        _refuse(path, lines, ~np.isfinite(col), f"{name} is not a finite number", col)
    return ts, cols


def _is_number(text: str, *, integer: bool) -> bool:
    """True when ``text`` parses as an int64 (``integer``) or a float."""
    try:
        if integer:
            return -(2**63) <= int(text) < 2**63
        float(text)
    except ValueError:
        return False
    return True


def _refuse(
    path: str | Path, lines: list[int], bad: NDArray[np.bool_], what: str, col: NDArray[np.generic]
) -> None:
    """DataError naming the first row where ``bad`` holds (``what`` it is, with its value)."""
    if np.any(bad):
        k = int(np.argmax(bad))
        raise DataError(f"{path}: line {lines[k]}: {what}, got {col[k].item()!r}")


def load_trades_csv(path: str | Path) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """(ts_ms, price, quantity) of a trades CSV ``ts_ms,trade_id,price,quantity,buyer_maker``; DataError
    naming the file and line of a row that is not numbers, a price <= 0, a quantity < 0, or time going
    backwards."""
    columns = ("ts_ms", "price", "quantity")
    lines, rows = _read_columns(path, columns)
    ts, (price, qty) = _numbers(path, lines, rows, columns)
    _refuse(path, lines, price <= 0, "price must be > 0", price)
    _refuse(path, lines, qty < 0, "quantity must be >= 0", qty)
    back = np.concatenate([[False], np.diff(ts) < 0])
    _refuse(path, lines, back, "ts_ms goes backwards", ts)
    return ts, price, qty


def load_quotes_csv(path: str | Path) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """(ts_ms, bid, ask) of a quotes CSV ``ts_ms,bid,bid_size,ask,ask_size``; DataError naming the file and
    line of a row that is not numbers, a price <= 0, a bid above the ask, or time going backwards."""
    columns = ("ts_ms", "bid", "ask")
    lines, rows = _read_columns(path, columns)
    ts, (bid, ask) = _numbers(path, lines, rows, columns)
    _refuse(path, lines, bid <= 0, "bid must be > 0", bid)
    _refuse(path, lines, ask <= 0, "ask must be > 0", ask)
    _refuse(path, lines, bid > ask, "bid above the ask", bid)
    back = np.concatenate([[False], np.diff(ts) < 0])
    _refuse(path, lines, back, "ts_ms goes backwards", ts)
    return ts, bid, ask
