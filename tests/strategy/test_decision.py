"""What counts as a near-miss: a candidate turned down by a decision block, never by warm-up, stale data or a
lack of consensus."""

from __future__ import annotations

from typing import Any

import pytest

from eclipse.strategy.decision import NEAR_MISS_BLOCKS, Decision
from eclipse.strategy.gates import BLOCK_REASONS

NOT_NEAR_MISS = {"warmup", "trend_warmup", "stale_data", "no_consensus"}


def decision(direction: int, candidate: int, blocked: str | None) -> Decision:
    sig: Any = None  # near_miss does not read the scorer's signal
    return Decision("BTC", 0, direction, Decision.side_of(direction), 0.5, candidate, blocked, False, sig)


def test_the_near_miss_set_classifies_every_block_reason() -> None:
    decisions = {"below_min_confidence", "trend_gate", "vol_regime_low", "session_hours", "session_momentum",
                 "loss_cooldown"}  # fmt: skip
    assert decisions == NEAR_MISS_BLOCKS
    # a new block reason must be placed on one side or the other, deliberately
    assert BLOCK_REASONS - NEAR_MISS_BLOCKS == NOT_NEAR_MISS


@pytest.mark.parametrize("reason", sorted(BLOCK_REASONS))
def test_near_miss_needs_a_candidate_no_direction_and_a_decision_block(reason: str) -> None:
    expected = reason in NEAR_MISS_BLOCKS
    assert decision(0, 1, reason).near_miss is expected
    assert decision(0, -1, reason).near_miss is expected
    assert not decision(0, 0, reason).near_miss  # no candidate


def test_a_signal_is_not_a_near_miss() -> None:
    assert not decision(1, 1, None).near_miss
    assert not decision(-1, -1, None).near_miss
    assert not decision(0, 1, None).near_miss  # no direction without a reason is not a near-miss either


def test_near_misses_on_the_embedded_dataset(default_run: list[Decision]) -> None:
    near = [d for d in default_run if d.near_miss]
    assert {d.blocked_by for d in near} >= {"below_min_confidence", "trend_gate"}
    assert {d.blocked_by for d in near} <= NEAR_MISS_BLOCKS
    # the 1h trend warm-up has plenty of candidates (the old definition counted them); none is a near-miss now
    warming = [d for d in default_run if d.blocked_by == "trend_warmup"]
    assert sum(d.candidate != 0 for d in warming) > 1_000
    assert not any(d.near_miss for d in warming)
    assert not any(d.near_miss for d in default_run if d.blocked_by in NOT_NEAR_MISS)
