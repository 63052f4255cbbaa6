"""Configuration: the parameter registry (every knob, its env var, defaults per profile, owner and safety
impact), the value parsers and the typed strategy settings."""

from eclipse.config.registry import PROFILES, REGISTRY, Param, get_param
from eclipse.config.settings import AuditSettings, GateSettings, StrategySettings, load_strategy_settings

__all__ = [
    "PROFILES",
    "REGISTRY",
    "AuditSettings",
    "GateSettings",
    "Param",
    "StrategySettings",
    "get_param",
    "load_strategy_settings",
]
