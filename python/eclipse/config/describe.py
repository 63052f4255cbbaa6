"""The knob table behind ``eclipse params`` (name, type, default per profile, owner, safety impact, doc), its
per-symbol ``<KNOB>_<SYMBOL>`` rows, and a plain-text table renderer that keeps every line within a width."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from eclipse.config.entry_knobs import SUFFIX_KNOBS
from eclipse.config.exit_knobs import SYMBOL_OVERRIDABLE
from eclipse.config.parsers import format_value
from eclipse.config.registry import PROFILES, REGISTRY, get_param
from eclipse.errors import SECRET_MASK

__all__ = [
    "ParamRow",
    "describe_all",
    "describe_params",
    "describe_symbol_params",
    "filter_rows",
    "fit_widths",
    "format_table",
    "render_params_table",
    "wrap_text",
]

_GAP = "  "
_NOTE_INDENT = 4
_DOC_MIN = 30
_BREAK_CHARS = ",;:/._=|-"
_TOKEN = re.compile(
    rf"\s+|[^\s{re.escape(_BREAK_CHARS)}]*[{re.escape(_BREAK_CHARS)}]+|[^\s{re.escape(_BREAK_CHARS)}]+"
)


@dataclass(frozen=True, slots=True)
class ParamRow:
    """One knob as shown to a user; ``defaults`` pairs each profile with its default, rendered as text."""

    name: str
    type: str
    defaults: tuple[tuple[str, str], ...]
    owner: str
    safety: str
    doc: str
    aliases: tuple[str, ...]


def describe_params(profiles: Sequence[str] = PROFILES) -> tuple[ParamRow, ...]:
    """Every registered knob with its defaults in ``profiles`` (secrets shown as ``***``)."""
    rows = []
    for p in REGISTRY:
        defaults = tuple(
            (prof, SECRET_MASK if p.secret else (format_value(p.default_for(prof)) or '""'))
            for prof in profiles
        )
        rows.append(ParamRow(p.name, p.type, defaults, p.owner, p.safety, p.doc, p.aliases))
    return tuple(rows)


def describe_symbol_params(profiles: Sequence[str] = PROFILES) -> tuple[ParamRow, ...]:
    """The per-symbol forms ``<KNOB>_<SYMBOL>`` of the knobs that accept one (unset: the knob's value)."""
    rows = []
    for name in (*SUFFIX_KNOBS, *SYMBOL_OVERRIDABLE):
        p = get_param(name)
        doc = f"per-symbol {name}: suffix a symbol (BTCUSDT) or base asset (DOGE); unset = {name}"
        rows.append(
            ParamRow(
                f"{name}_<SYMBOL>",
                p.type,
                tuple((prof, "-") for prof in profiles),
                p.owner,
                p.safety,
                doc,
                (),
            )
        )
    return tuple(rows)


def describe_all(profiles: Sequence[str] = PROFILES) -> tuple[ParamRow, ...]:
    """:func:`describe_params` with each knob's per-symbol row right after it."""
    per_symbol = {r.name.removesuffix("_<SYMBOL>"): r for r in describe_symbol_params(profiles)}
    rows: list[ParamRow] = []
    for row in describe_params(profiles):
        rows.append(row)
        if row.name in per_symbol:
            rows.append(per_symbol[row.name])
    return tuple(rows)


def filter_rows(rows: Sequence[ParamRow], text: str | None) -> tuple[ParamRow, ...]:
    """The rows whose name, aliases, owner or doc contain ``text`` (case-insensitive); all when empty."""
    if not text:
        return tuple(rows)
    needle = text.lower()
    return tuple(
        r for r in rows if any(needle in field.lower() for field in (r.name, r.owner, r.doc, *r.aliases))
    )


def render_params_table(rows: Sequence[ParamRow], width: int | None = None) -> str:
    """A plain-text table of ``rows`` (aliases are appended to the doc).

    Without ``width`` every knob is one line. With it no line is wider: the doc column wraps when it can be
    at least 30 characters wide; otherwise the doc and owner go on indented lines under each knob, and the
    default columns wrap.
    """
    profiles = [prof for prof, _ in rows[0].defaults] if rows else list(PROFILES)
    docs = [r.doc + (f" (alias: {', '.join(r.aliases)})" if r.aliases else "") for r in rows]
    defaults = [list(d for _, d in r.defaults) for r in rows]
    n = len(profiles)
    shrink_defaults = {2 + i: (1, max(len(profiles[i]), 8)) for i in range(n)}
    header = ["name", "type", *profiles, "owner", "safety", "doc"]
    body = [
        [r.name, r.type, *d, r.owner, r.safety, doc] for r, d, doc in zip(rows, defaults, docs, strict=True)
    ]
    shrink = {**shrink_defaults, 2 + n: (2, 10), 4 + n: (0, _DOC_MIN)}
    if width is None or fit_widths(header, body, width, shrink) is not None:
        return format_table(header, body, width=width, shrink=shrink)
    header = ["name", "type", *profiles, "safety"]
    body = [[r.name, r.type, *d, r.safety] for r, d in zip(rows, defaults, strict=True)]
    notes = [f"{doc} [{r.owner}]" for r, doc in zip(rows, docs, strict=True)]
    shrink = {**shrink_defaults, 1: (2, 6), 0: (3, 24)}
    return format_table(header, body, width=width, shrink=shrink, notes=["doc [owner]", *notes])


def wrap_text(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken at spaces; a word longer than a line is
    broken after one of ``,;:/._=|-``, or cut."""
    if width < 1 or len(text) <= width:
        return [text]
    lines: list[str] = []
    cur = ""
    for word in text.split():
        joined = f"{cur} {word}" if cur else word
        if len(joined) <= width:
            cur = joined
            continue
        if cur:
            lines.append(cur)
        pieces = [word] if len(word) <= width else _pieces(word, width)
        lines.extend(pieces[:-1])
        cur = pieces[-1]
    if cur:
        lines.append(cur)
    return lines or [""]


def _pieces(word: str, width: int) -> list[str]:
    """A long word in pieces of at most ``width``, broken after punctuation where possible."""
    out: list[str] = []
    cur = ""
    for token in _TOKEN.findall(word):
        if len(cur) + len(token) > width and cur:
            out.append(cur)
            cur = ""
        while len(token) > width:
            out.append(token[:width])
            token = token[width:]
        cur += token
    return [*out, cur] if cur else out


def fit_widths(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int | None,
    shrink: Mapping[int, tuple[int, int]] | None = None,
) -> list[int] | None:
    """Column widths for a table within ``width`` (2-space gaps), or None when it cannot fit.

    ``shrink`` maps a column to ``(priority, minimum width)``: the lowest priority shrinks first, the widest
    column of a priority first; other columns keep their natural width.
    """
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    if width is None:
        return widths
    rules = shrink or {}
    excess = sum(widths) + len(_GAP) * (len(widths) - 1) - width
    while excess > 0:
        candidates = [i for i, (_, low) in rules.items() if widths[i] > low]
        if not candidates:
            return None
        best = min(candidates, key=lambda i: (rules[i][0], -widths[i]))
        widths[best] -= 1
        excess -= 1
    return widths


def format_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    width: int | None = None,
    shrink: Mapping[int, tuple[int, int]] | None = None,
    notes: Sequence[str] | None = None,
) -> str:
    """``header`` and ``rows`` as aligned columns (2-space gaps, the last column unpadded).

    With ``width``, columns shrink per :func:`fit_widths`, cells wrap within their column, ``notes`` (one for
    the header, then one per row; may be empty) are wrapped on indented lines under their row, and any line
    still too wide is cut.
    """
    widths = fit_widths(header, rows, width, shrink)
    if widths is None:  # cannot fit: shrink as far as allowed, then cut the lines
        widths = fit_widths(header, rows, None)
        assert widths is not None
        for i, (_, low) in (shrink or {}).items():
            widths[i] = min(widths[i], low)
    lines: list[str] = []
    for index, row in enumerate([header, *rows]):
        cells = [wrap_text(c, w) if width is not None else [c] for c, w in zip(row, widths, strict=True)]
        for k in range(max(len(c) for c in cells)):
            parts = [c[k] if k < len(c) else "" for c in cells]
            padded = [p.ljust(w) for p, w in zip(parts[:-1], widths[:-1], strict=True)]
            lines.append(_GAP.join([*padded, parts[-1]]).rstrip())
        note = notes[index] if notes is not None else ""
        if note:
            room = None if width is None else max(width - _NOTE_INDENT, 10)
            lines.extend(" " * _NOTE_INDENT + n for n in (wrap_text(note, room) if room else [note]))
    if width is not None:
        lines = [line[:width].rstrip() for line in lines]
    return "\n".join(lines)
