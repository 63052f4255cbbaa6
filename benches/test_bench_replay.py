"""Replay the real 45,031-bar BTC file through the incremental path (``Scorer.step`` per bar, from Python):
bars per second. Skipped when ../shared/data is absent."""

from __future__ import annotations

from typing import Any

import pytest

from benchutil import REPLAY_ROUNDS, core_or_skip, load_ohlcv


@pytest.fixture(scope="module")
def btc_bars() -> list[tuple]:
    d = load_ohlcv("btc-perp_1m_2022-01.csv")
    return list(
        zip(*(d[k].tolist() for k in ("ts_ms", "open", "high", "low", "close", "volume")), strict=True)
    )


@pytest.mark.parametrize("call", ["step", "update"])
def test_replay_btc(benchmark: Any, btc_bars: list[tuple], call: str) -> None:
    core = core_or_skip()

    def setup() -> tuple[tuple, dict]:
        state, scorer = core.FeatureState(), core.Scorer()
        return (state, scorer), {}

    def replay(state: Any, scorer: Any) -> int:
        longs = 0
        if call == "step":
            step = scorer.step
            for b in btc_bars:
                longs += step(state, *b).direction
        else:
            update = state.update
            for b in btc_bars:
                update(*b)
        return longs

    benchmark.group = "replay btc 1m"
    benchmark.pedantic(replay, setup=setup, rounds=REPLAY_ROUNDS, iterations=1)
    median = benchmark.stats.stats.median
    benchmark.extra_info.update({
        "kind": "replay", "call": call, "bars": len(btc_bars), "bars_per_s": len(btc_bars) / median,
        "ns_per_bar": median * 1e9 / len(btc_bars),
    })  # fmt: skip
