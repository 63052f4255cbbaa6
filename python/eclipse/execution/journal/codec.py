"""Journal event <-> JSON text.

One event is stored as its name (a key of :data:`eclipse.contracts.EVENT_TYPES`) and its fields as a JSON
object. Decimals are strings (exact, exponent kept), enums their values, nested records (a :class:`Fill`, a
:class:`PositionSnapshot`) objects. Decoding checks every field against the record's type hints, so a payload
that does not fit its record raises :class:`CodecError` instead of building a half-valid event.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, cast

from eclipse.contracts import EVENT_TYPES, JournalEvent
from eclipse.errors import StateError

__all__ = ["EVENT_NAMES", "CodecError", "decode_event", "encode_event", "event_name"]

EVENT_NAMES: dict[type, str] = {cls: name for name, cls in EVENT_TYPES.items()}
"""Record class -> journal event name."""

_HINTS: dict[type, dict[str, Any]] = {}


class CodecError(StateError):
    """A stored event does not decode into its record (unknown name, missing or mistyped field)."""


def event_name(event: JournalEvent) -> str:
    """The journal name of ``event`` (CodecError for a record that is not a journal event)."""
    name = EVENT_NAMES.get(type(event))
    if name is None:
        raise CodecError(
            f"{type(event).__name__} is not a journal event; expected one of {sorted(EVENT_TYPES)}"
        )
    return name


_quote = json.encoder.encode_basestring
"""JSON string literal (the C function ``json`` itself uses with ``ensure_ascii=False``)."""
_INF = float("inf")


def _null(value: object) -> str:
    return "null"


def _bool(value: object) -> str:
    return "true" if value else "false"


def _int(value: object) -> str:
    return int.__repr__(cast(int, value))


def _float(value: object) -> str:
    f = cast(float, value)
    if f != f:
        return "NaN"
    if f == _INF:
        return "Infinity"
    if f == -_INF:
        return "-Infinity"
    return float.__repr__(f)


def _str(value: object) -> str:
    return _quote(cast(str, value))


def _decimal(value: object) -> str:
    return _quote(str(value))


def _enum(value: object) -> str:
    v = cast(Enum, value).value
    return _fragment(type(v))(v)


_FRAGMENTS: dict[type, Callable[[object], str]] = {}
"""Per-type JSON writer cache (module level, keyed by class; filled on first use and never invalidated, as a
class's fields and bases do not change). Each writer produces exactly the text
``json.dumps(value, separators=(",", ":"), ensure_ascii=False)`` gives for the journal form of a value
(enums by value, Decimals as strings, nested records as objects), with the type dispatch and the field list
resolved once per class instead of reflected per call."""


def _fragment(tp: type) -> Callable[[object], str]:
    writer = _FRAGMENTS.get(tp)
    if writer is not None:
        return writer
    if issubclass(tp, Enum):
        writer = _enum
    elif tp is type(None):
        writer = _null
    elif issubclass(tp, bool):
        writer = _bool
    elif issubclass(tp, int):
        writer = _int
    elif issubclass(tp, float):
        writer = _float
    elif issubclass(tp, str):
        writer = _str
    elif issubclass(tp, Decimal):
        writer = _decimal
    elif dataclasses.is_dataclass(tp):
        writer = _record_writer(tp)
    else:
        return _unstorable
    _FRAGMENTS[tp] = writer
    return writer


def _unstorable(value: object) -> str:
    raise CodecError(f"cannot store a {type(value).__name__} in the journal: {value!r}")


def _record_writer(cls: type) -> Callable[[object], str]:
    fields = tuple((f.name, _quote(f.name) + ":") for f in dataclasses.fields(cls))
    get = _FRAGMENTS.get

    def write(value: object) -> str:
        parts = []
        for name, key in fields:
            v = getattr(value, name)
            parts.append(key + (get(type(v)) or _fragment(type(v)))(v))
        return "{" + ",".join(parts) + "}"

    return write


def encode_event(event: JournalEvent) -> tuple[str, str]:
    """``(name, JSON payload)`` of ``event``."""
    name = event_name(event)
    return name, _fragment(type(event))(event)


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _from_json(tp: Any, value: object, where: str) -> object:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise CodecError(f"{where}: null where {tp} is required")
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _from_json(options[0], value, where)
        for a in options:  # e.g. int | str: the JSON type picks the member
            if isinstance(a, type) and type(value) is a:
                return value
        raise CodecError(f"{where}: {value!r} is none of {tp}")
    if tp is Decimal:
        if not isinstance(value, str):
            raise CodecError(f"{where}: expected a decimal string, got {value!r}")
        try:
            return Decimal(value)
        except InvalidOperation:
            raise CodecError(f"{where}: {value!r} is not a decimal") from None
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            raise CodecError(f"{where}: {value!r} is not a {tp.__name__}") from None
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _record(tp, value, where)
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise CodecError(f"{where}: expected a number, got {value!r}")
    if tp in (int, str, bool):
        if type(value) is tp:
            return value
        raise CodecError(f"{where}: expected {tp.__name__}, got {value!r}")
    raise CodecError(f"{where}: unsupported field type {tp}")


def _record(cls: type, value: object, where: str) -> object:
    if not isinstance(value, dict):
        raise CodecError(f"{where}: expected an object for {cls.__name__}, got {value!r}")
    hints = _hints(cls)
    kwargs: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        if f.name in value:
            kwargs[f.name] = _from_json(hints[f.name], value[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise CodecError(f"{where}: field {f.name!r} of {cls.__name__} is missing")
    unknown = set(value) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise CodecError(f"{where}: unknown fields {sorted(unknown)} for {cls.__name__}")
    return cls(**kwargs)


def decode_event(name: str, payload: str) -> JournalEvent:
    """The event stored as ``name`` + ``payload`` (CodecError naming the problem when it does not fit)."""
    cls = EVENT_TYPES.get(name)
    if cls is None:
        raise CodecError(f"unknown journal event {name!r}; expected one of {sorted(EVENT_TYPES)}")
    try:
        data = json.loads(payload, parse_float=float)
    except json.JSONDecodeError as exc:
        raise CodecError(f"{name}: payload is not JSON ({exc})") from None
    return cast(JournalEvent, _record(cls, data, name))
