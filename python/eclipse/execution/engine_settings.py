"""The execution engine's settings: strategy, entry, exit and router knobs in one typed bundle."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from eclipse.config.settings import StrategySettings, load_strategy_settings
from eclipse.execution.entries.settings import EntrySettings, load_entry_settings
from eclipse.execution.exits import ExitSettings, load_exit_settings
from eclipse.execution.router.settings import RouterSettings, load_router_settings

__all__ = ["EngineSettings"]


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Everything the engine is built from: strategy, entry, exit and router settings, the account equity
    the leverage rules read, and how often protection is checked against the venue."""

    strategy: StrategySettings
    entries: EntrySettings
    exits: ExitSettings
    router: RouterSettings
    equity: Decimal = Decimal(1000)
    protection_check_sec: float = 5.0

    @classmethod
    def load(
        cls, env: Mapping[str, str], profile: str = "micro", equity: Decimal = Decimal(1000)
    ) -> EngineSettings:
        """All settings from ``env`` under ``profile`` (ConfigError on a bad knob)."""
        strategy = load_strategy_settings(env, profile)
        entries = load_entry_settings(env, profile)
        base = float(strategy.scorer.min_confidence)  # a guard's confidence delta is added to it
        entries = replace(entries, gate=replace(entries.gate, base_min_confidence=base))
        return cls(
            strategy,
            entries,
            load_exit_settings(env, profile),
            load_router_settings(env, profile),
            equity,
        )
