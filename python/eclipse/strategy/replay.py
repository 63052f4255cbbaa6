"""Replay of historical 1m bars through a :class:`SignalEngine` with a simulated clock, and its summary."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from eclipse.clock import SimClock
from eclipse.market.bars import Bar
from eclipse.strategy.decision import Decision
from eclipse.strategy.engine import SignalEngine
from eclipse.strategy.stats import HIST_BINS, confidence_histogram, render_counts, render_histogram

__all__ = ["ReplaySummary", "render_replay_summary", "replay"]


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    """What a replay produced: bars, signals per side, near-misses (see ``NEAR_MISS_BLOCKS``), confidence
    histogram of the signals, block reasons and near-misses per block (most frequent first) and throughput."""

    symbol: str
    profile: str
    source: str
    bars: int
    long: int
    short: int
    near_misses: int
    forced: int
    confidence_hist: tuple[int, ...]
    blocked: tuple[tuple[str, int], ...]
    near_miss_blocks: tuple[tuple[str, int], ...]
    elapsed_sec: float

    @property
    def signals(self) -> int:
        """Bars with a direction."""
        return self.long + self.short

    @property
    def bars_per_sec(self) -> float:
        """Replay throughput."""
        return self.bars / self.elapsed_sec if self.elapsed_sec > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "symbol": self.symbol,
            "profile": self.profile,
            "source": self.source,
            "bars": self.bars,
            "signals": {"long": self.long, "short": self.short, "total": self.signals},
            "near_misses": self.near_misses,
            "forced": self.forced,
            "confidence_histogram": {
                "edges": [round(i / HIST_BINS, 2) for i in range(HIST_BINS + 1)],
                "counts": list(self.confidence_hist),
            },
            "blocked": dict(self.blocked),
            "near_miss_blocks": dict(self.near_miss_blocks),
            "elapsed_sec": round(self.elapsed_sec, 6),
            "bars_per_sec": round(self.bars_per_sec, 1),
        }


def replay(
    bars: Iterable[Bar],
    engine: SignalEngine,
    clock: SimClock,
    symbol: str,
    *,
    source: str = "",
    on_decision: Callable[[Decision], None] | None = None,
    timer: Callable[[], float] = time.perf_counter,
) -> ReplaySummary:
    """Feed ``bars`` (1m, in order) to ``engine``, setting ``clock`` to each bar's close time first."""
    sides: Counter[int] = Counter()
    blocked: Counter[str] = Counter()
    near: Counter[str] = Counter()
    confs: list[float] = []
    n = forced = 0
    start = timer()
    for bar in bars:
        clock.set_ms(bar.close_ms())
        d = engine.on_bar(symbol, bar)
        n += 1
        if d.direction != 0:
            sides[d.direction] += 1
            confs.append(d.confidence)
        elif d.blocked_by is not None:
            blocked[d.blocked_by] += 1
        if d.near_miss and d.blocked_by is not None:
            near[d.blocked_by] += 1
        forced += d.forced
        if on_decision is not None:
            on_decision(d)
    elapsed = timer() - start
    return ReplaySummary(
        symbol=symbol,
        profile=engine.settings.profile,
        source=source,
        bars=n,
        long=sides[1],
        short=sides[-1],
        near_misses=near.total(),
        forced=forced,
        confidence_hist=confidence_histogram(confs),
        blocked=_ranked(blocked),
        near_miss_blocks=_ranked(near),
        elapsed_sec=elapsed,
    )


def _ranked(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def render_replay_summary(s: ReplaySummary) -> str:
    """The summary as text."""
    return "\n".join(
        [
            f"{s.symbol} [{s.profile}] {s.source}: {s.bars} bars in {s.elapsed_sec:.2f}s "
            f"({s.bars_per_sec:,.0f} bars/s)",
            f"signals: {s.signals} (long {s.long}, short {s.short}); near-misses: {s.near_misses}"
            + (f"; forced: {s.forced}" if s.forced else ""),
            "confidence histogram (signals):",
            render_histogram(s.confidence_hist),
            "top block reasons:",
            render_counts(s.blocked),
            "near-misses by block:",
            render_counts(s.near_miss_blocks),
        ]
    )
