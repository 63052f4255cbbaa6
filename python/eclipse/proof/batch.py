"""Many seeds of the deterministic simulation, in parallel worker processes, and what they add up to: seeds
per minute, violations by checker, crashes survived, faults injected, and the run KPIs (protection gaps,
unknown-order resolution, repairs, debt peak). ``eclipse simtest`` prints it; CI runs a few hundred seeds.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from eclipse.clock import perf_ns
from eclipse.proof.simulation import SIMTEST_KNOBS, SeedResult, SimtestConfig, run_seed

__all__ = ["SIMTEST_KNOBS", "BatchSummary", "reproduce_command", "run_batch", "summarize", "timed_batch"]


def reproduce_command(seed: int, config: SimtestConfig) -> str:
    """The command that runs ``seed`` again, its run directory kept."""
    knobs = "".join(f" --knob {k}={v}" for k, v in sorted(config.env.items()) if SIMTEST_KNOBS.get(k) != v)
    flags = "" if config.faults else " --no-faults"
    flags += "" if config.crashes else " --no-crashes"
    flags += "" if config.changes else " --no-changes"
    return (
        f"eclipse simtest --seeds 1 --from {seed} --bars {config.bars}{flags}{knobs} "
        f"--keep eclipse-simtest-{seed}"
    )


def _one(seed: int, config: SimtestConfig, keep_dir: str | None) -> SeedResult:
    if keep_dir is None:
        return run_seed(seed, config)
    return run_seed(seed, config, run_dir=Path(keep_dir) / f"seed-{seed}")


def run_batch(
    seeds: Sequence[int],
    config: SimtestConfig,
    *,
    jobs: int = 1,
    keep_dir: Path | None = None,
    on_result: Callable[[SeedResult], None] | None = None,
) -> list[SeedResult]:
    """Run ``seeds`` (``jobs`` worker processes; 1: in this process), in seed order in the result;
    ``on_result`` sees each as it finishes. ``keep_dir``: every run directory is kept there."""
    keep = str(keep_dir) if keep_dir is not None else None
    results: list[SeedResult] = []
    if jobs <= 1 or len(seeds) <= 1:
        for s in seeds:
            r = _one(s, config, keep)
            results.append(r)
            if on_result is not None:
                on_result(r)
    else:
        ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no state shared with this one
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = [pool.submit(_one, s, config, keep) for s in seeds]
            for fut in as_completed(futures):
                r = fut.result()
                results.append(r)
                if on_result is not None:
                    on_result(r)
    return sorted(results, key=lambda r: r.seed)


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """What a batch of seeds adds up to."""

    seeds: int
    failed: tuple[int, ...]
    violations: dict[str, int]
    seconds: float
    bars: int
    lives: int
    crashes: Counter[str] = field(default_factory=Counter)
    faults: int = 0
    changes: int = 0
    orders: int = 0
    fills: int = 0
    positions: int = 0
    gap_longest_s: float = 0.0
    gap_total_s: float = 0.0
    unknown_resolved: int = 0
    unknown_p50_ms: float | None = None
    unknown_max_ms: int | None = None
    repairs: int = 0
    debt_peak: float = 0.0
    nondeterministic: tuple[int, ...] = ()

    @property
    def seeds_per_minute(self) -> float:
        """Throughput over the batch's wall time."""
        return self.seeds * 60.0 / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """No seed failed and every replayed seed gave the same bytes."""
        return not self.failed and not self.nondeterministic

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "seeds": self.seeds,
            "failed": list(self.failed),
            "violations": dict(self.violations),
            "nondeterministic": list(self.nondeterministic),
            "seconds": round(self.seconds, 2),
            "seeds_per_minute": round(self.seeds_per_minute, 1),
            "bars": self.bars,
            "daemon_lives": self.lives,
            "crashes": dict(self.crashes),
            "faults_injected": self.faults,
            "changes_under_the_daemon": self.changes,
            "orders": self.orders,
            "fills": self.fills,
            "positions": self.positions,
            "protection_gap_longest_s": self.gap_longest_s,
            "protection_gap_total_s": round(self.gap_total_s, 3),
            "unknown_resolved": self.unknown_resolved,
            "unknown_resolution_p50_ms": self.unknown_p50_ms,
            "unknown_resolution_max_ms": self.unknown_max_ms,
            "repairs": self.repairs,
            "debt_peak": self.debt_peak,
        }


def summarize(
    results: Iterable[SeedResult], seconds: float, nondeterministic: Sequence[int] = ()
) -> BatchSummary:
    """Add the seeds' results up."""
    rs = list(results)
    violations: Counter[str] = Counter(v.checker for r in rs for v in r.report.violations)
    crashes: Counter[str] = Counter(c.split("#")[0] for r in rs for c in r.crashes)
    unknown = [t for r in rs for t in r.report.measures.unknown_resolution_ms]
    gaps = [g for r in rs for g in r.report.measures.protection_gaps_ms]
    return BatchSummary(
        seeds=len(rs),
        failed=tuple(r.seed for r in rs if not r.ok),
        violations=dict(violations),
        seconds=seconds,
        bars=sum(r.bars for r in rs),
        lives=sum(r.lives for r in rs),
        crashes=crashes,
        faults=sum(r.faults for r in rs),
        changes=sum(len(r.changes) for r in rs),
        orders=sum(r.report.measures.orders for r in rs),
        fills=sum(r.report.measures.fills for r in rs),
        positions=sum(r.report.measures.positions for r in rs),
        gap_longest_s=max(gaps, default=0) / 1000.0,
        gap_total_s=sum(gaps) / 1000.0,
        unknown_resolved=len(unknown),
        unknown_p50_ms=float(median(unknown)) if unknown else None,
        unknown_max_ms=max(unknown, default=None),
        repairs=sum(r.report.measures.repairs for r in rs),
        debt_peak=max((r.report.measures.debt_peak for r in rs), default=0.0),
        nondeterministic=tuple(nondeterministic),
    )


def timed_batch(
    seeds: Sequence[int],
    config: SimtestConfig,
    *,
    jobs: int = 1,
    keep_dir: Path | None = None,
    twice: bool = False,
    on_result: Callable[[SeedResult], None] | None = None,
) -> tuple[list[SeedResult], BatchSummary]:
    """Run the batch (``twice``: each seed again, compared byte for byte) and summarize it."""
    t0 = perf_ns()
    results = run_batch(seeds, config, jobs=jobs, keep_dir=keep_dir, on_result=on_result)
    differ: list[int] = []
    if twice:
        again = run_batch(seeds, config, jobs=jobs)
        differ = [a.seed for a, b in zip(results, again, strict=True) if a.digest != b.digest]
    return results, summarize(results, (perf_ns() - t0) / 1e9, differ)
