"""Eclipse: a safety-first crypto scalping and execution system (Python orchestration, Rust hot path)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("eclipse-trader")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
