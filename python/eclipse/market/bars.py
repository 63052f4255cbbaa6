"""OHLCV bars: the :class:`Bar` record, the column-wise :class:`OhlcvFrame` and the CSV loader.

CSV format (see the data README): header ``ts_ms,open,high,low,close,volume`` (any column order, extra
columns ignored), ``ts_ms`` = bar open time in UTC milliseconds, strictly increasing; plain or gzip, UTF-8
(a byte order mark, as Excel writes, is ignored). Every bar must pass :func:`bar_problem` (finite prices > 0,
low <= open, close <= high, volume >= 0); the first that does not is refused naming the file and line.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from eclipse.errors import DataError

__all__ = [
    "BAR_MS",
    "COLUMNS",
    "EMBEDDED_DATASET",
    "Bar",
    "OhlcvFrame",
    "bar_problem",
    "embedded_dataset",
    "load_ohlcv_csv",
    "parse_ohlcv_csv",
]

BAR_MS = 60_000
COLUMNS = ("ts_ms", "open", "high", "low", "close", "volume")
EMBEDDED_DATASET = "btc-perp_1m_2022-01.csv.gz"
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; ``ts_ms`` is the bar's open time (UTC ms)."""

    ts_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float

    def close_ms(self, bar_ms: int = BAR_MS) -> int:
        """Close time of the bar (open time + its length, 1 minute by default)."""
        return self.ts_ms + bar_ms


@dataclass(frozen=True, slots=True)
class OhlcvFrame:
    """Bars as numpy columns (``ts_ms`` int64, the rest float64), all of one length."""

    ts_ms: NDArray[np.int64]
    open: NDArray[np.float64]
    high: NDArray[np.float64]
    low: NDArray[np.float64]
    close: NDArray[np.float64]
    volume: NDArray[np.float64]
    source: str = ""

    def __post_init__(self) -> None:
        n = len(self.ts_ms)
        for name in COLUMNS[1:]:
            if len(getattr(self, name)) != n:
                raise ValueError(f"column {name} has {len(getattr(self, name))} rows, ts_ms has {n}")

    def __len__(self) -> int:
        return len(self.ts_ms)

    def bar(self, i: int) -> Bar:
        """The ``i``-th bar."""
        return Bar(
            int(self.ts_ms[i]),
            float(self.open[i]),
            float(self.high[i]),
            float(self.low[i]),
            float(self.close[i]),
            float(self.volume[i]),
        )

    def bars(self) -> Iterator[Bar]:
        """Iterate over the bars in time order."""
        cols = (self.ts_ms.tolist(), *(getattr(self, c).tolist() for c in COLUMNS[1:]))
        for ts, o, h, lo, c, v in zip(*cols, strict=True):
            yield Bar(ts, o, h, lo, c, v)

    def head(self, n: int) -> OhlcvFrame:
        """The first ``n`` bars."""
        return self.slice(0, n)

    def slice(self, start: int, stop: int | None = None) -> OhlcvFrame:
        """Bars ``start`` up to (not including) ``stop``, as views of the same arrays."""
        s = slice(start, stop)
        return OhlcvFrame(
            self.ts_ms[s],
            self.open[s],
            self.high[s],
            self.low[s],
            self.close[s],
            self.volume[s],
            source=self.source,
        )


def bar_problem(o: float, h: float, lo: float, c: float, v: float) -> str | None:
    """What is wrong with a bar's prices and volume, or None: every value finite, prices > 0, volume >= 0,
    low <= high, open and close within [low, high]."""
    # the common case, fast (a NaN fails every comparison, so it takes the slow path)
    if 0 < lo <= o <= h < math.inf and lo <= c <= h and 0 <= v < math.inf:
        return None
    values = {"open": o, "high": h, "low": lo, "close": c, "volume": v}
    bad = [f"{name}={x!r}" for name, x in values.items() if not math.isfinite(x)]
    if bad:
        return f"non-finite value {', '.join(bad)} (expected finite numbers)"
    bad = [f"{name}={x!r}" for name, x in values.items() if name != "volume" and x <= 0]
    if bad:
        return f"non-positive price {', '.join(bad)} (prices must be > 0)"
    if v < 0:
        return f"negative volume {v!r} (expected >= 0)"
    shown = f"open={o!r} high={h!r} low={lo!r} close={c!r}"
    if h < lo:
        return f"inconsistent bar: high < low ({shown})"
    if not (lo <= o <= h and lo <= c <= h):
        return f"inconsistent bar: open/close outside [low, high] ({shown})"
    return None


def parse_ohlcv_csv(lines: Iterable[str], source: str) -> OhlcvFrame:
    """Parse CSV text lines into a frame; DataError naming ``source`` and the line on any problem (a bar
    failing :func:`bar_problem` included). A UTF-8 byte order mark before the header is ignored."""
    reader = csv.reader(lines)
    try:
        return _parse_ohlcv(reader, source)
    except csv.Error as exc:
        raise DataError(f"{source}: line {reader.line_num}: not valid CSV ({exc})") from None


def _parse_ohlcv(reader: Iterator[list[str]], source: str) -> OhlcvFrame:
    header = next(reader, None)
    if header is None:
        raise DataError(f"{source}: empty file (expected a header {','.join(COLUMNS)})")
    names = [h.strip() for h in header]
    if names:
        names[0] = names[0].lstrip(_BOM).strip()
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        shown = ",".join(names)
        if not shown.isprintable():  # invisible characters: show them
            shown = repr(shown)
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} (header: {shown})")
    idx = [names.index(c) for c in COLUMNS]
    ts: list[int] = []
    rows: list[list[float]] = []
    for line, row in enumerate(reader, start=2):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != len(names):
            raise DataError(f"{source}: line {line}: expected {len(names)} fields, got {len(row)}")
        try:
            t = int(row[idx[0]])
            values = [float(row[i]) for i in idx[1:]]
        except ValueError:
            raise DataError(f"{source}: line {line}: not a number in {','.join(row)!r}") from None
        if ts and t <= ts[-1]:
            raise DataError(f"{source}: line {line}: ts_ms {t} is not after the previous {ts[-1]}")
        problem = bar_problem(*values)
        if problem:
            raise DataError(f"{source}: line {line}: {problem}")
        ts.append(t)
        rows.append(values)
    if not ts:
        raise DataError(f"{source}: no data rows")
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    o, h, lo, c, v = (np.ascontiguousarray(arr[:, i]) for i in range(5))
    return OhlcvFrame(np.asarray(ts, dtype=np.int64), o, h, lo, c, v, source=source)


def _decode(data: bytes, source: str) -> str:
    try:
        if data[:2] == _GZIP_MAGIC:
            data = gzip.decompress(data)
        return data.decode("utf-8-sig")  # an Excel export starts with a byte order mark
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{source}: cannot read: not UTF-8 text (byte {exc.start}); expected a CSV file, plain or gzip"
        ) from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{source}: cannot read ({exc})") from None


def load_ohlcv_csv(path: str | Path) -> OhlcvFrame:
    """Load an OHLCV CSV file (plain or gzip); DataError naming the file and the problem."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{p}: file not found") from None
    except OSError as exc:
        raise DataError(f"{p}: cannot read ({exc.strerror or exc})") from None
    return parse_ohlcv_csv(io.StringIO(_decode(data, str(p))), str(p))


def embedded_dataset() -> OhlcvFrame:
    """The packaged default: BTC perpetual 1m bars, 2021-12-31 23:01 to 2022-02-01 05:31 UTC (45,031 bars, no
    gaps; the same bars as ``btc-perp_1m_2022-01.csv`` in the shared test data)."""
    data = resources.files("eclipse.data").joinpath(EMBEDDED_DATASET).read_bytes()
    return parse_ohlcv_csv(io.StringIO(_decode(data, EMBEDDED_DATASET)), EMBEDDED_DATASET)
