"""Small summaries shared by the replay and the audit report: confidence histogram, top counts."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = ["HIST_BINS", "confidence_histogram", "render_counts", "render_histogram"]

HIST_BINS = 10


def confidence_histogram(values: Iterable[float], bins: int = HIST_BINS) -> tuple[int, ...]:
    """Counts of ``values`` in ``bins`` equal bins over [0, 1] (1.0 goes to the last bin; NaN is skipped)."""
    counts = [0] * bins
    for v in values:
        if math.isnan(v):
            continue
        counts[min(max(int(v * bins), 0), bins - 1)] += 1
    return tuple(counts)


def render_histogram(counts: tuple[int, ...], width: int = 40) -> str:
    """One line per bin: ``0.3-0.4   12  ######``."""
    bins = len(counts)
    peak = max(counts, default=0) or 1
    lines = []
    for i, n in enumerate(counts):
        bar = "#" * math.ceil(n * width / peak) if n else ""
        lines.append(f"  {i / bins:.1f}-{(i + 1) / bins:.1f}  {n:>7}  {bar}".rstrip())
    return "\n".join(lines)


def render_counts(counts: Mapping[str, int] | Iterable[tuple[str, int]], top: int = 10) -> str:
    """The ``top`` largest counts, one per line, largest first."""
    items = counts.items() if isinstance(counts, Mapping) else counts
    ranked = sorted(items, key=lambda kv: (-kv[1], kv[0]))[:top]
    if not ranked:
        return "  (none)"
    width = max(len(k) for k, _ in ranked)
    return "\n".join(f"  {k.ljust(width)}  {n:>7}" for k, n in ranked)
