"""Configuration problems: one :class:`ConfigProblem` per bad knob, and :class:`ConfigProblems` to raise
them all at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from eclipse.config.names import is_secret_guess, is_secret_name
from eclipse.errors import SECRET_MASK, ConfigError, EclipseError

__all__ = [
    "UNKNOWN_EXPECTED",
    "ConfigProblem",
    "ConfigProblems",
    "dedupe",
    "masked",
    "problem_from_error",
    "unknown_name",
]

UNKNOWN_EXPECTED = "a known knob name (`eclipse params` lists them)"


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One configuration problem: the variable, its value (``***`` for a secret), what was expected, where it
    came from (``environment``, a ``.env`` path, a TOML path, ``default``, or empty when unknown) and the
    name probably meant, if any. ``str()`` is one line."""

    knob: str
    value: str
    expected: str
    source: str = ""
    suggestion: str | None = None

    def __str__(self) -> str:
        where = f" ({self.source})" if self.source else ""
        hint = f"; did you mean {self.suggestion}?" if self.suggestion else ""
        text = f"{self.knob}={self.value!r}{where}: expected {self.expected}{hint}"
        return " ".join(text.split())  # one line, whatever the parts hold


def masked(name: str, value: str, suggestion: str | None = None) -> str:
    """``value``, or ``***`` when ``name`` (or the name ``suggestion`` it was probably meant as) is, or reads
    like, a secret."""
    return SECRET_MASK if is_secret_guess(name, suggestion) else value


def unknown_name(name: str, value: str, source: str, suggestion: str | None) -> ConfigProblem:
    """The problem of an unknown variable (its value masked when it may be a misspelled secret)."""
    return ConfigProblem(name, masked(name, value, suggestion), UNKNOWN_EXPECTED, source, suggestion)


def problem_from_error(exc: ConfigError, source: str = "", suggestion: str | None = None) -> ConfigProblem:
    """The problem a :class:`ConfigError` describes (its value is already masked when secret)."""
    value = SECRET_MASK if exc.secret or is_secret_name(exc.knob) else str(exc.value)
    return ConfigProblem(exc.knob, value, exc.expected, source, suggestion)


def dedupe(problems: Iterable[ConfigProblem]) -> tuple[ConfigProblem, ...]:
    """``problems`` in order, keeping the first problem of each variable from each source."""
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        if (p.knob, p.source) not in seen:
            seen.add((p.knob, p.source))
            out.append(p)
    return tuple(out)


class ConfigProblems(EclipseError):  # noqa: N818 - the name the callers use
    """Every problem of a configuration; ``str()`` is ``N configuration problems:`` and one line each."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        n = len(self.problems)
        head = f"{n} configuration problem{'' if n == 1 else 's'}:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))
