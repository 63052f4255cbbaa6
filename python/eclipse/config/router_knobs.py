"""Knobs of the router layer of the execution engine (concatenated into the registry's REGISTRY)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eclipse.config.registry import Param

__all__ = ["router_params"]


def router_params(param: type[Param]) -> tuple[Param, ...]:
    """The router knobs, built with the registry's ``Param`` class (passed in to avoid an import cycle)."""
    del param
    return ()
