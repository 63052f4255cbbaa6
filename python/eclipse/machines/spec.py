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
    statement = "..."
    suites = ["property", "model_check"]

Rows are ordered: for one (source, event) the first row whose guard holds wins.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from eclipse.errors import EclipseError

__all__ = ["SUITES", "Invariant", "Row", "Spec", "SpecError", "find_spec_dir", "load_spec", "load_specs"]

SUITES = ("conformance", "property", "model_check")


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
    """A named property of a machine and the suites that enforce it."""

    name: str
    statement: str
    suites: tuple[str, ...]


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

    @property
    def events(self) -> tuple[str, ...]:
        """Events in order of first appearance."""
        return tuple(dict.fromkeys(r.event for r in self.rows))

    @property
    def guards(self) -> tuple[str, ...]:
        """Guard names in order of first appearance."""
        return tuple(dict.fromkeys(r.guard for r in self.rows if r.guard))


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
    spec = Spec(
        name=_str(where, machine, "name"),
        description=_str(where, machine, "description", ""),
        states=states,
        initial=_str(where, machine, "initial"),
        terminal=frozenset(_str_list(where, machine, "terminal")),
        in_flight=frozenset(_str_list(where, machine, "in_flight")),
        rows=tuple(_rows(path, doc.get("transition", []))),
        invariants=tuple(_invariants(path, doc.get("invariant", []))),
        path=path,
    )
    _check(spec)
    return spec


def _rows(path: Path, raw: object) -> Iterable[Row]:
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
        yield Row(_str(where, t, "source"), _str(where, t, "event"), _str(where, t, "target"), guard, note)


def _invariants(path: Path, raw: object) -> Iterable[Invariant]:
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
        yield Invariant(_str(where, inv, "name"), _str(where, inv, "statement"), suites)


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


def find_spec_dir(start: Path | None = None) -> Path:
    """The ``specs/`` directory of the checkout containing ``start`` (default: the current directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "specs"
        if candidate.is_dir() and any(candidate.glob("*.toml")):
            return candidate
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
