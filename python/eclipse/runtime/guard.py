"""The daemon's guard knobs provider: what blocks entries right now besides the engine's own vetoes (an
operator pause, a risk halt, a crash-limited loop, the basic entry loop's one-position rule). Exits and
protection never ask it. The reliability loop's provider
(:class:`~eclipse.reliability.provider.ReliabilityGuard`) tightens these with the posture, the reconcile
completeness and the entry guards."""

from __future__ import annotations

from collections.abc import Callable

from eclipse.contracts import GuardKnobs

__all__ = ["DaemonGuard"]


class DaemonGuard:
    """A :class:`~eclipse.execution.entries.gate.GuardKnobsProvider` over named entry blocks."""

    def __init__(self, *, one_position: Callable[[], bool] | None = None) -> None:
        self._blocks: dict[str, str] = {}
        self._one_position = one_position

    def block(self, key: str, reason: str) -> None:
        """Block entries under ``key`` (pause, halt, crash_limit, ...) until :meth:`unblock`."""
        self._blocks[key] = reason

    def unblock(self, key: str) -> None:
        """Lift the block ``key`` (others stay)."""
        self._blocks.pop(key, None)

    def blocked(self, key: str) -> bool:
        """True while ``key`` blocks entries."""
        return key in self._blocks

    def reasons(self) -> list[str]:
        """Every block in force, as ``key: reason``."""
        out = [f"{k}: {r}" for k, r in self._blocks.items()]
        if self._one_position is not None and self._one_position():
            out.append("basic: one position at a time")
        return out

    def current(self, symbol: str | None = None) -> GuardKnobs:
        """The knobs in force now (the daemon's blocks hold for every symbol)."""
        reasons = self.reasons()
        if reasons:
            return GuardKnobs(entry_block=True, reason="; ".join(reasons))
        return GuardKnobs(reason="daemon")
