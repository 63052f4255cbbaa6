"""Human views of a spec: a Markdown transition table and a Mermaid diagram (kept in specs/README.md)."""

from __future__ import annotations

from eclipse.machines.spec import Spec

__all__ = ["mermaid", "table"]


def table(spec: Spec) -> str:
    """Markdown table of every transition, in spec order."""
    lines = ["| from | event | guard | to | note |", "| --- | --- | --- | --- | --- |"]
    for r in spec.rows:
        lines.append(f"| {r.source} | {r.event} | {r.guard or ''} | {r.target} | {r.note} |")
    return "\n".join(lines)


def mermaid(spec: Spec) -> str:
    """Mermaid ``stateDiagram-v2`` of the spec (terminal states lead to ``[*]``)."""
    lines = ["stateDiagram-v2", f"    [*] --> {spec.initial}"]
    for r in spec.rows:
        label = f"{r.event} [{r.guard}]" if r.guard else r.event
        lines.append(f"    {r.source} --> {r.target}: {label}")
    for s in sorted(spec.terminal):
        lines.append(f"    {s} --> [*]")
    return "\n".join(lines)
