"""The soak run: the daemon in simulated time for a long stretch (100,000 bars by default) over several
symbols with random venue and engine faults, its resident memory sampled every 10,000 bars, and the run
checked like any seed. The market is long synthetic data made from the embedded BTC month: each symbol a
different phase of it, tiled end to end with each copy scaled to continue from the previous close."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import numpy as np

from eclipse.market.bars import BAR_MS, OhlcvFrame, embedded_dataset
from eclipse.proof.simulation import SeedResult, SimtestConfig, run_seed
from eclipse.runtime.setup import HISTORY_BARS

__all__ = ["SOAK_SYMBOLS", "SoakResult", "rss_bytes", "run_soak", "synthetic_frame"]

SOAK_SYMBOLS: Final = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT")
_SCALES: Final = (1.0, 0.08, 0.012, 0.003, 0.00002)
SAMPLE_EVERY: Final = 10_000


def rss_bytes() -> int:
    """This process's resident memory now (Linux ``/proc``; 0 where unavailable)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def synthetic_frame(base: OhlcvFrame, n: int, *, offset: int, scale: float) -> OhlcvFrame:
    """``n`` 1m bars from ``base`` starting ``offset`` bars in, wrapping around; each wrapped copy scaled to
    open at the previous close (no jump), all prices times ``scale``; time continues minute by minute."""
    m = len(base)
    idx = (np.arange(n) + offset) % m
    factor = np.full(n, scale)
    wraps = [int(w) for w in np.flatnonzero(idx == 0) if w > 0]
    for w in wraps:
        prev_close = float(base.close[idx[w - 1]]) * factor[w - 1]
        factor[w:] = prev_close / float(base.open[idx[w]])
    ts = int(base.ts_ms[0]) + np.arange(n, dtype=np.int64) * BAR_MS
    return OhlcvFrame(
        ts,
        base.open[idx] * factor,
        base.high[idx] * factor,
        base.low[idx] * factor,
        base.close[idx] * factor,
        base.volume[idx].copy(),
        source=f"synthetic({base.source or 'embedded'}, offset {offset}, scale {scale:g})",
    )


@dataclass(frozen=True, slots=True)
class SoakResult:
    """The soak's verdict and its memory figures."""

    result: SeedResult
    symbols: tuple[str, ...]
    samples: tuple[tuple[int, int], ...]
    """(bars since the start, RSS bytes), every :data:`SAMPLE_EVERY` bars (a tenth of a shorter soak)."""

    @property
    def rss_start_mb(self) -> float:
        """RSS at the first sample (the daemon started), MiB."""
        return self.samples[0][1] / 2**20 if self.samples else 0.0

    @property
    def rss_end_mb(self) -> float:
        """RSS at the last sample, MiB."""
        return self.samples[-1][1] / 2**20 if self.samples else 0.0

    @property
    def growth_mb_per_10k(self) -> float:
        """Least-squares slope of RSS over bars, MiB per 10,000 bars, over the samples after the first third
        of the run (the warm-up: caches and the exchange's bounded price path fill up first)."""
        pts = self.samples[len(self.samples) // 3 :]
        if len(pts) < 2:
            return 0.0
        x = np.array([p[0] for p in pts], dtype=float)
        y = np.array([p[1] for p in pts], dtype=float) / 2**20
        return float(np.polyfit(x, y, 1)[0] * 10_000)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        r = self.result
        return {
            "seed": r.seed,
            "symbols": list(self.symbols),
            "bars": r.bars,
            "seconds": round(r.seconds, 1),
            "bar_closes_per_s": round(r.bars / len(self.symbols) / r.seconds, 1) if r.seconds else None,
            "rss_start_mb": round(self.rss_start_mb, 1),
            "rss_end_mb": round(self.rss_end_mb, 1),
            "rss_growth_mb_per_10k_bars": round(self.growth_mb_per_10k, 2),
            "samples": [[b, round(v / 2**20, 1)] for b, v in self.samples],
            "faults": r.faults,
            "violations": [str(v) for v in r.report.violations],
            "measures": r.report.measures.to_dict(),
        }


def run_soak(
    seed: int,
    *,
    bars: int = 100_000,
    symbols: int = 3,
    config: SimtestConfig | None = None,
    run_dir: Path | None = None,
) -> SoakResult:
    """Soak ``bars`` bars over ``symbols`` synthetic symbols with random faults (no kill points: the daemon
    itself must not crash); RSS sampled every 10,000 bars (every tenth of a shorter run)."""
    if not 1 <= symbols <= len(SOAK_SYMBOLS):
        raise ValueError(f"symbols must be 1..{len(SOAK_SYMBOLS)}, got {symbols}")
    base = embedded_dataset()
    quiet = (config or SimtestConfig()).quiet_bars
    n = HISTORY_BARS + 10 + bars + quiet + 3
    frames = {
        SOAK_SYMBOLS[k]: synthetic_frame(base, n, offset=k * 7_919, scale=_SCALES[k]) for k in range(symbols)
    }
    every = min(SAMPLE_EVERY, max(500, bars // 10))  # a tenth of a shorter soak, at least 500 bars
    cfg = replace(config or SimtestConfig(), bars=bars, crashes=False, frames=frames, sample_every=every)
    result = run_seed(seed, cfg, run_dir=run_dir)
    return SoakResult(result, tuple(frames), result.rss)
