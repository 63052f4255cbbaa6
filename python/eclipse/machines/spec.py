"""Machine specs: the TOML files in ``specs/`` (the single source of truth) loaded into typed, frozen values.

A spec file holds one machine::

    [machine]
    name = "order"
    description = "..."
    initial = "created"
    terminal = ["filled", "canceled"]
    in_flight = ["submitting"]
    states = ["created", "submitting", ...]

    [[transition]]
    source = "created"
    event = "submit"
    target = "submitting"
    guard = "has_client_id"   # optional: the name of the condition that must hold
    note = "why this row exists"   # optional; required for surprising rows

    [[invariant]]
    name = "one_live_order_per_intent"
    statement = "at most {max_live_orders_per_intent} live order ..."
    suites = ["property", "model_check"]
    checkers = ["order.property.one_live_order", "order.model_check.one_live_order"]

    [constants]
    max_live_orders_per_intent = { value = 1, meaning = "...", code = ["module:NAME"] }

Rows are ordered: for one (source, event) the first row whose guard holds wins.

Invariants are bound to the code: ``checkers`` names the registered checkers that enforce the invariant
(``<machine>.<suite>.<check>``, see :mod:`eclipse.machines.checkers`); every suite the invariant lists has at
least one checker of that suite and every checker's suite is listed. A spec's numbers are ``[constants]``:
``value`` (an int or a float), ``meaning``, and optionally ``code``, the code's constants (``module:NAME``)
that must equal it (``eclipse specs check`` compares them; a constant without ``code`` is read by a
checker). Text (the description, statements and notes) names a constant as ``{name}``; the loader writes its
value in, so the text never states a number the spec does not hold.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from eclipse.errors import EclipseError

__all__ = [
    "PACKAGED_SPEC_DIR",
    "SUITES",
    "Constant",
    "Invariant",
    "Row",
    "Spec",
    "SpecError",
    "checker_parts",
    "find_spec_dir",
    "load_spec",
    "load_specs",
]

SUITES = ("conformance", "property", "model_check", "run")

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_CHECKER = re.compile(r"([a-z][a-z0-9_]*)\.(conformance|property|model_check|run)\.([a-z][a-z0-9_]*)")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CODE_REF = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")


def checker_parts(name: str) -> tuple[str, str, str] | None:
    """``(machine, suite, check)`` of a checker name ``<machine>.<suite>.<check>``; None when malformed."""
    m = _CHECKER.fullmatch(name)
    return (m.group(1), m.group(2), m.group(3)) if m else None


class SpecError(EclipseError):
    """A spec file that cannot be read or is inconsistent; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Row:
    """One transition: ``source --event[guard]--> target``."""

    source: str
    event: str
    target: str
    guard: str | None = None
    note: str = ""

    def key(self) -> tuple[str, str, str, str | None]:
        """Identity of the row for comparisons (the note is documentation only)."""
        return (self.source, self.event, self.target, self.guard)


@dataclass(frozen=True, slots=True)
class Invariant:
    """A named property of a machine, the suites that enforce it and the registered checkers that do."""

    name: str
    statement: str
    suites: tuple[str, ...]
    checkers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Constant:
    """A number the spec states: read by a checker, or compared with the code's ``code`` constants."""

    name: str
    value: int | float
    meaning: str
    code: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Spec:
    """One machine as declared in ``specs/<name>.toml``."""

    name: str
    description: str
    states: tuple[str, ...]
    initial: str
    terminal: frozenset[str]
    in_flight: frozenset[str]
    rows: tuple[Row, ...]
    invariants: tuple[Invariant, ...]
    path: Path | None = None
    constants: tuple[Constant, ...] = ()

    @property
    def events(self) -> tuple[str, ...]:
        """Events in order of first appearance."""
        return tuple(dict.fromkeys(r.event for r in self.rows))

    @property
    def guards(self) -> tuple[str, ...]:
        """Guard names in order of first appearance."""
        return tuple(dict.fromkeys(r.guard for r in self.rows if r.guard))

    def constant(self, name: str) -> int | float:
        """The value of constant ``name``; SpecError naming the file when the spec has none."""
        for c in self.constants:
            if c.name == name:
                return c.value
        raise SpecError(f"{self.path or self.name}: no constant {name!r} in [constants]")

    @property
    def checkers(self) -> Mapping[str, str]:
        """Every checker the spec names -> the invariant that names it."""
        return {c: inv.name for inv in self.invariants for c in inv.checkers}


def _str_list(where: str, table: dict[str, object], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{where}: {key} must be a list of state names (strings)")
    return tuple(value)


def _str(where: str, table: dict[str, object], key: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise SpecError(f"{where}: {key} must be a non-empty string")
    return value


def load_spec(path: Path) -> Spec:
    """Load and check one spec file; SpecError names the file and the field on any problem."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: {exc}") from None
    machine = doc.get("machine")
    if not isinstance(machine, dict):
        raise SpecError(f"{path}: missing [machine] table")
    where = f"{path} [machine]"
    states = _str_list(where, machine, "states")
    constants = tuple(_constants(path, doc.get("constants", {})))
    values = {c.name: c.value for c in constants}

    def text(where: str, value: str) -> str:
        return _fill(where, value, values)

    spec = Spec(
        name=_str(where, machine, "name"),
        description=text(where, _str(where, machine, "description", "")),
        states=states,
        initial=_str(where, machine, "initial"),
        terminal=frozenset(_str_list(where, machine, "terminal")),
        in_flight=frozenset(_str_list(where, machine, "in_flight")),
        rows=tuple(_rows(path, doc.get("transition", []), text)),
        invariants=tuple(_invariants(path, doc.get("invariant", []), text)),
        path=path,
        constants=constants,
    )
    _check(spec)
    return spec


def _fill(where: str, value: str, values: Mapping[str, int | float]) -> str:
    """``value`` with each ``{name}`` replaced by the constant's value; SpecError for an unknown name."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise SpecError(f"{where}: text names {{{name}}}, which is not in [constants]")
        return str(values[name])

    return _PLACEHOLDER.sub(one, value)


def _constants(path: Path, raw: object) -> Iterable[Constant]:
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: [constants] must be a table of name = {{ value = ..., meaning = ... }}")
    for name, t in raw.items():
        where = f"{path} constant {name}"
        if not _NAME.fullmatch(name):
            raise SpecError(f"{where}: a constant name is lower_snake_case")
        if not isinstance(t, dict):
            raise SpecError(f"{where}: must be a table {{ value = ..., meaning = ... }}")
        value = t.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(f"{where}: value must be a number (an int or a float), got {value!r}")
        code = _str_list(where, t, "code")
        bad = [c for c in code if not _CODE_REF.fullmatch(c)]
        if bad:
            raise SpecError(f"{where}: code must name constants as module:NAME, got {bad}")
        unknown = sorted(set(t) - {"value", "meaning", "code"})
        if unknown:
            raise SpecError(f"{where}: unknown fields {unknown}")
        yield Constant(name, value, _str(where, t, "meaning"), code)


def _rows(path: Path, raw: object, text: Callable[[str, str], str]) -> Iterable[Row]:
    if not isinstance(raw, list):
        raise SpecError(f"{path}: [[transition]] must be an array of tables")
    for i, t in enumerate(raw):
        where = f"{path} transition #{i + 1}"
        if not isinstance(t, dict):
            raise SpecError(f"{where}: must be a table")
        guard = t.get("guard")
        if guard is not None and (not isinstance(guard, str) or not guard):
            raise SpecError(f"{where}: guard must be a non-empty string when given")
        note = t.get("note", "")
        if not isinstance(note, str):
            raise SpecError(f"{where}: note must be a string")
        source, event, target = _str(where, t, "source"), _str(where, t, "event"), _str(where, t, "target")
        yield Row(source, event, target, guard, text(where, note))


def _invariants(path: Path, raw: object, text: Callable[[str, str], str]) -> Iterable[Invariant]:
    if not isinstance(raw, list):
        raise SpecError(f"{path}: [[invariant]] must be an array of tables")
    for i, inv in enumerate(raw):
        where = f"{path} invariant #{i + 1}"
        if not isinstance(inv, dict):
            raise SpecError(f"{where}: must be a table")
        suites = _str_list(where, inv, "suites")
        bad = [s for s in suites if s not in SUITES]
        if bad or not suites:
            raise SpecError(
                f"{where}: suites must name one or more of {', '.join(SUITES)} (got {list(suites)})"
            )
        name = _str(where, inv, "name")
        where = f"{path} invariant {name}"
        checkers = _str_list(where, inv, "checkers")
        if not checkers:
            raise SpecError(f"{where}: checkers must name the registered checker(s) that enforce it")
        parts = [checker_parts(c) for c in checkers]
        malformed = [c for c, p in zip(checkers, parts, strict=True) if p is None]
        if malformed:
            raise SpecError(f"{where}: checker names are <machine>.<suite>.<check>, got {malformed}")
        by_suite = {p[1] for p in parts if p is not None}
        if by_suite != set(suites):
            raise SpecError(
                f"{where}: suites {sorted(suites)} but its checkers are of the suites {sorted(by_suite)}: "
                "every suite listed needs a checker of that suite, and every checker's suite is listed"
            )
        yield Invariant(name, text(where, _str(where, inv, "statement")), suites, checkers)


def _check(spec: Spec) -> None:
    where = str(spec.path or spec.name)
    known = set(spec.states)
    if len(known) != len(spec.states):
        raise SpecError(f"{where}: states are listed twice")
    for label, names in (
        ("initial", {spec.initial}),
        ("terminal", spec.terminal),
        ("in_flight", spec.in_flight),
    ):
        unknown = sorted(names - known)
        if unknown:
            raise SpecError(f"{where}: {label} names unknown states {unknown}")
    if spec.terminal & spec.in_flight:
        raise SpecError(f"{where}: a state cannot be both terminal and in flight")
    seen: set[tuple[str, str, str, str | None]] = set()
    for row in spec.rows:
        for end in (row.source, row.target):
            if end not in known:
                raise SpecError(
                    f"{where}: transition {row.source} --{row.event}--> {row.target}: unknown state {end}"
                )
        if row.key() in seen:
            raise SpecError(f"{where}: transition {row.source} --{row.event}--> {row.target} is listed twice")
        seen.add(row.key())
        if row.source in spec.terminal and not row.note:
            raise SpecError(f"{where}: {row.source} is terminal; a row leaving it needs a note saying why")
    inv_names = [i.name for i in spec.invariants]
    if len(set(inv_names)) != len(inv_names):
        raise SpecError(f"{where}: invariant names must be unique")
    named = [c for inv in spec.invariants for c in inv.checkers]
    twice = sorted({c for c in named if named.count(c) > 1})
    if twice:
        raise SpecError(f"{where}: checkers {twice} are named by more than one invariant")
    other = sorted(c for c in named if not c.startswith(f"{spec.name}."))
    if other:
        raise SpecError(
            f"{where}: checkers {other} belong to another machine (names start with {spec.name}.)"
        )


PACKAGED_SPEC_DIR = Path(__file__).resolve().parent / "specs"
"""The copy of ``specs/*.toml`` installed with the package (a test keeps it equal to the repository's)."""


def find_spec_dir(start: Path | None = None, *, packaged: bool = True) -> Path:
    """The ``specs/`` directory of the checkout containing ``start`` (default: the current directory); outside
    a checkout, the copy installed with the package (:data:`PACKAGED_SPEC_DIR`) unless ``packaged`` is off."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "specs"
        if candidate.is_dir() and any(candidate.glob("*.toml")):
            return candidate
    if packaged and any(PACKAGED_SPEC_DIR.glob("*.toml")):
        return PACKAGED_SPEC_DIR
    raise SpecError(
        f"no specs/ directory with *.toml files above {here}; run inside a clone or pass --specs DIR"
    )


def load_specs(spec_dir: Path) -> dict[str, Spec]:
    """Every ``*.toml`` spec in ``spec_dir`` keyed by machine name."""
    specs: dict[str, Spec] = {}
    for path in sorted(spec_dir.glob("*.toml")):
        spec = load_spec(path)
        if spec.name in specs:
            raise SpecError(f"{path}: machine {spec.name!r} is also declared in {specs[spec.name].path}")
        specs[spec.name] = spec
    return specs
