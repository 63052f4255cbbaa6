"""The project's exception hierarchy; every message says what is wrong and what was expected."""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "EclipseError", "StateError"]

SECRET_MASK = "***"


class EclipseError(Exception):
    """Base class of every error Eclipse raises on purpose."""


class ConfigError(EclipseError):
    """A configuration knob has a bad value.

    The message names the knob, shows the value (``'***'`` for a secret) and the expected format, e.g.
    ``SCALPER_SESSION_UTC='25-3': expected comma-separated UTC hour ranges like "13-17,19-23" (hours 0-23)``.
    """

    def __init__(self, knob: str, value: object, expected: str, *, secret: bool = False) -> None:
        self.knob = knob
        self.secret = secret
        self.value = SECRET_MASK if secret else value
        self.expected = expected
        shown = repr(SECRET_MASK) if secret else repr(value)
        super().__init__(f"{knob}={shown}: expected {expected}")


class DataError(EclipseError):
    """Market data that cannot be used: a missing or malformed file, or an invalid bar."""


class StateError(EclipseError):
    """A saved state that cannot be restored (corrupt, or built with a different configuration)."""
