"""The :class:`Decision` the signal engine returns for each closed bar, and what counts as a near-miss."""

from __future__ import annotations

from dataclasses import dataclass

from eclipse import _core
from eclipse.strategy.gates import LOSS_COOLDOWN, SESSION_HOURS, SESSION_MOMENTUM

__all__ = ["NEAR_MISS_BLOCKS", "Decision"]

_SIDES = {1: "long", -1: "short", 0: "none"}

NEAR_MISS_BLOCKS: frozenset[str] = frozenset(
    {
        "below_min_confidence",
        "trend_gate",
        "vol_regime_low",
        SESSION_HOURS,
        SESSION_MOMENTUM,
        LOSS_COOLDOWN,
    }
)
"""Block reasons that make a candidate a near-miss: the votes pointed somewhere and a strategy *decision*
(confidence floor, trend gate, volatility guard, session filters, loss cooldown) turned it down.

Not near-misses: ``warmup`` and ``trend_warmup`` (not enough history to decide), ``stale_data`` (nothing is
trusted on stale data) and ``no_consensus`` (no candidate at all). This is the one definition used by
:attr:`Decision.near_miss`, the audit writer, the replay (``eclipse signals``) summary and the audit report.
"""


@dataclass(frozen=True, slots=True)
class Decision:
    """The strategy's verdict on one closed bar of one symbol.

    ``direction`` is +1/-1 when an entry is wanted, else 0 with ``blocked_by`` naming why (a scorer reason or
    a gate name, see ``eclipse.strategy.gates.BLOCK_REASONS``). ``candidate`` is where the votes pointed
    before any block; ``forced`` marks a debug force-entry; ``signal`` is the Rust scorer's full result.
    """

    symbol: str
    ts_ms: int
    direction: int
    side: str
    confidence: float
    candidate: int
    blocked_by: str | None
    forced: bool
    signal: _core.Signal

    @property
    def near_miss(self) -> bool:
        """Votes pointed somewhere, no direction was given, and the block is in :data:`NEAR_MISS_BLOCKS`."""
        return self.direction == 0 and self.candidate != 0 and self.blocked_by in NEAR_MISS_BLOCKS

    @staticmethod
    def side_of(direction: int) -> str:
        """``"long"``, ``"short"`` or ``"none"`` for +1, -1, 0."""
        return _SIDES[direction]
