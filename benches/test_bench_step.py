"""One closed 1m bar through ``Scorer.step`` from Python, with every feature warm (1h EMA-200 included).

Besides pytest-benchmark's timing of the call (which includes the Python closure that hands out the next bar),
``test_step_latency_percentiles`` times STEP_CALLS single calls with ``time.perf_counter_ns`` and stores
p50/p95/p99 (raw, and less the timer's own median overhead) in the benchmark's ``extra_info``
for report.py."""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np
import pytest

from benchutil import MINUTE, STEP_CALLS, T0, core_or_skip, random_ohlcv

WARM_BARS = 15_000  # > 240 hours: the 1h EMA(200) and VWAP(240) are warm
POOL = 100_000


@pytest.fixture(scope="module")
def bars() -> list[tuple[float, float, float, float, float]]:
    d = random_ohlcv(WARM_BARS + max(POOL, STEP_CALLS), seed=1)
    return list(zip(*(d[k].tolist() for k in ("open", "high", "low", "close", "volume")), strict=True))


def warm_state(core: Any, bars: list[tuple]) -> tuple[Any, Any]:
    state, scorer = core.FeatureState(), core.Scorer()
    for i, b in enumerate(bars[:WARM_BARS]):
        scorer.step(state, T0 + i * MINUTE, *b)
    f1h = state.features("1h")
    assert all(v == v for v in f1h.values()), "1h features still warming up"  # no NaN
    return state, scorer


def stepper(core: Any, bars: list[tuple], call: str) -> Any:
    """A closure that feeds the next bar (strictly increasing ts, prices cycling through the pool)."""
    state, scorer = warm_state(core, bars)
    pool = bars[WARM_BARS : WARM_BARS + POOL]
    counter = itertools.count(WARM_BARS)
    step, update, score = scorer.step, state.update, scorer.score

    if call == "step":

        def one() -> Any:
            i = next(counter)
            return step(state, T0 + i * MINUTE, *pool[i % POOL])
    elif call == "update":

        def one() -> Any:
            i = next(counter)
            return update(T0 + i * MINUTE, *pool[i % POOL])
    elif call == "score":

        def one() -> Any:
            return score(state)
    else:  # the closure's own cost with a no-op in place of the Rust call

        def noop(*_a: Any) -> None:
            return None

        def one() -> Any:
            i = next(counter)
            return noop(state, T0 + i * MINUTE, *pool[i % POOL])

    return one


@pytest.mark.parametrize("call", ["step", "update", "score", "python-noop"])
def test_step(benchmark: Any, bars: list[tuple], call: str) -> None:
    core = core_or_skip()
    benchmark.group = "per-bar call"
    benchmark.extra_info.update({"kind": "call", "call": call})
    benchmark(stepper(core, bars, call))


def test_step_latency_percentiles(benchmark: Any, bars: list[tuple]) -> None:
    core = core_or_skip()
    state, scorer = warm_state(core, bars)
    step = scorer.step
    args = [(state, T0 + (WARM_BARS + j) * MINUTE, *bars[WARM_BARS + j]) for j in range(STEP_CALLS)]
    pc = time.perf_counter_ns
    lat = np.empty(STEP_CALLS, dtype=np.int64)
    for j, a in enumerate(args):
        t0 = pc()
        step(*a)
        lat[j] = pc() - t0
    timer = np.empty(50_000, dtype=np.int64)
    for j in range(timer.size):
        t0 = pc()
        timer[j] = pc() - t0
    overhead = float(np.median(timer))
    p = {q: float(np.percentile(lat, q)) for q in (50, 95, 99, 99.9)}
    benchmark.group = "per-bar call"
    benchmark.extra_info.update({
        "kind": "latency", "call": "step", "calls": STEP_CALLS, "timer_overhead_ns": overhead,
        "p50_ns": p[50], "p95_ns": p[95], "p99_ns": p[99], "p999_ns": p[99.9], "max_ns": float(lat.max()),
        "p50_net_ns": p[50] - overhead, "p95_net_ns": p[95] - overhead, "p99_net_ns": p[99] - overhead,
    })  # fmt: skip
    # pytest-benchmark needs one measured function: a single further step
    i = itertools.count(WARM_BARS + STEP_CALLS)
    benchmark.pedantic(lambda: step(state, T0 + next(i) * MINUTE, *bars[WARM_BARS]), rounds=1, iterations=1)
