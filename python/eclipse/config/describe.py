"""The knob table behind ``eclipse params``: name, type, default per profile, owner, safety impact, doc."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eclipse.config.parsers import format_value
from eclipse.config.registry import PROFILES, REGISTRY
from eclipse.errors import SECRET_MASK

__all__ = ["ParamRow", "describe_params", "render_params_table"]


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


def render_params_table(rows: Sequence[ParamRow]) -> str:
    """A plain-text table of ``rows`` (aliases are appended to the doc)."""
    profiles = [prof for prof, _ in rows[0].defaults] if rows else []
    header = ["name", "type", *profiles, "owner", "safety", "doc"]
    body = [
        [
            r.name,
            r.type,
            *(d for _, d in r.defaults),
            r.owner,
            r.safety,
            r.doc + (f" (alias: {', '.join(r.aliases)})" if r.aliases else ""),
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header) - 1)]
    lines = []
    for line in [header, *body]:
        cells = [cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, line[-1]]).rstrip())
    return "\n".join(lines)
