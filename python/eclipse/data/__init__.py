"""Packaged data files (the embedded default OHLCV dataset); loaded with ``importlib.resources``."""
