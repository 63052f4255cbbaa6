"""Conformance checkers: invariants that are properties of a machine's graph, checked on the code's compiled
table (``eclipse specs check`` runs every declared one on each machine; the tests run them on broken copies).

Each takes the :class:`~eclipse.machines.table.CompiledMachine` and returns the problems found (empty: holds).
"""

from __future__ import annotations

import dataclasses
import itertools

from eclipse.machines.checkers import register
from eclipse.machines.table import CompiledMachine

__all__: list[str] = []

_LATE_REPORTS = frozenset({"fill", "qty_reduced"})


def _fmt(source: str, event: str, target: str, guard: str | None) -> str:
    return f"{source} --{event}{f'[{guard}]' if guard else ''}--> {target}"


# --- order --------------------------------------------------------------------------------------------------
@register("order.conformance.only_late_reports_leave_terminal")
def only_late_reports_leave_terminal(table: CompiledMachine) -> list[str]:
    """terminal_states_absorb: a row out of a terminal state is a late ``fill`` or ``qty_reduced``, into a
    terminal state (a late report is recorded; it never reopens the order)."""
    return [
        f"{_fmt(*r.key())}: only a late fill or qty_reduced may leave a terminal state, into a terminal one"
        for r in table.rows
        if r.source in table.terminal and (r.event not in _LATE_REPORTS or r.target not in table.terminal)
    ]


@register("order.conformance.transport_errors_stay_in_flight")
def transport_errors_stay_in_flight(table: CompiledMachine) -> list[str]:
    """transport_errors_never_definitive: every ``transport_error`` row leads to an in-flight state."""
    rows = [r for r in table.rows if r.event == "transport_error"]
    out = [] if rows else ["no transport_error row at all"]
    out.extend(
        f"{_fmt(*r.key())}: a transport error must leave the order in flight (never terminal)"
        for r in rows
        if r.target in table.terminal or r.target not in table.in_flight
    )
    return out


@register("order.conformance.trigger_rows")
def trigger_rows(table: CompiledMachine) -> list[str]:
    """trigger_fills_belong_to_the_order: every live state after the submission accepts ``trigger`` (the
    trigger may be seen live, by a lookup or after a restart, in whatever state the order is), ``triggered``
    takes fills and reductions under both guards, and every row out of ``triggered`` stays there or ends the
    order (the link to the order it became is never dropped)."""
    if "triggered" not in table.states:
        return ["no triggered state: a conditional order's trigger has nowhere to go"]
    out = []
    for state in table.states:
        if state in table.terminal or state == table.initial or (state, "trigger") in table.rows_for:
            continue
        out.append(f"{state} does not accept trigger (a trigger seen in {state} would be lost)")
    for event, guards in (("fill", ("completes", "leaves_remainder")), ("qty_reduced", ("now_complete",))):
        have = {r.guard for r in table.rows_for.get(("triggered", event), ())}
        out.extend(f"triggered does not take {event}[{g}]" for g in guards if g not in have)
    out.extend(
        f"{_fmt(*r.key())}: leaves triggered for a live state other than triggered"
        for r in table.rows
        if r.source == "triggered" and r.target != "triggered" and r.target not in table.terminal
    )
    return out


# --- protection ---------------------------------------------------------------------------------------------
def _protection_open() -> frozenset[str]:
    from eclipse.machines.protection import OPEN_STATES

    return OPEN_STATES


@register("protection.conformance.exits_and_protection_accepted")
def exits_and_protection_accepted(table: CompiledMachine) -> list[str]:
    """exits_and_protection_never_blocked: every open state accepts ``exit`` (or is exiting) and
    ``protection_placed``, without a guard."""
    out = []
    for state in sorted(_protection_open()):
        if state != "exiting" and (state, "exit") not in table.rows_for:
            out.append(f"{state} does not accept exit")
        if (state, "protection_placed") not in table.rows_for:
            out.append(f"{state} does not accept protection_placed")
    out.extend(
        f"{_fmt(*r.key())}: exits and stop placement are never guarded"
        for r in table.rows
        if r.event in ("exit", "protection_placed") and r.guard is not None
    )
    return out


@register("protection.conformance.position_closed_leads_to_flat")
def position_closed_leads_to_flat(table: CompiledMachine) -> list[str]:
    """venue_flat_always_wins: from every open or entering state, ``position_closed`` leads to flat."""
    out = []
    for state in sorted({*_protection_open(), "entering"}):
        rows = [(r.target, r.guard) for r in table.rows_for.get((state, "position_closed"), ())]
        if rows != [("flat", None)]:
            out.append(f"{state} --position_closed--> {rows or 'refused'}: must be flat, unguarded")
    return out


# --- reconcile ----------------------------------------------------------------------------------------------
@register("reconcile.conformance.start_only_in_idle")
def start_only_in_idle(table: CompiledMachine) -> list[str]:
    """one_cycle_at_a_time: ``start`` is accepted only in idle."""
    sources = [r.source for r in table.rows if r.event == "start"]
    return [] if sources == ["idle"] else [f"start is accepted in {sources}, must be exactly ['idle']"]


@register("reconcile.conformance.failures_reach_backoff")
def failures_reach_backoff(table: CompiledMachine) -> list[str]:
    """failures_reach_backoff: every in-flight state has a failure row into backoff, and only they do."""
    out = [
        f"{state} has no failure row into backoff"
        for state in sorted(table.in_flight)
        if not any(r.source == state and r.target == "backoff" for r in table.rows)
    ]
    into = {r.source for r in table.rows if r.target == "backoff" and r.source != "backoff"}
    out.extend(f"{s} goes to backoff but is not in flight" for s in sorted(into - table.in_flight))
    return out


@register("reconcile.conformance.backoff_left_only_by_due_tick")
def backoff_left_only_by_due_tick(table: CompiledMachine) -> list[str]:
    """backoff_waits_for_the_clock: the only row leaving backoff is ``tick[due]`` to idle."""
    leaving = [
        (r.event, r.guard, r.target) for r in table.rows if r.source == "backoff" and r.target != "backoff"
    ]
    return (
        []
        if leaving == [("tick", "due", "idle")]
        else [f"backoff is left by {leaving}, only tick[due] -> idle"]
    )


# --- posture ------------------------------------------------------------------------------------------------
@register("posture.conformance.knobs_never_block_exits_or_protection")
def knobs_never_block_exits_or_protection(table: CompiledMachine) -> list[str]:
    """never_blocks_exits_or_protection: every posture's knobs allow exits and protection, and they are not
    settable knobs at all; every state of the machine has knobs."""
    from eclipse.machines.posture import KNOBS, GuardKnobs, Posture

    out = []
    if {p.state for p in Posture} != set(table.states) or set(KNOBS) != set(Posture):
        out.append(
            f"postures {sorted(p.state for p in Posture)} / knobs {sorted(KNOBS)} / states {table.states}"
        )
    out.extend(f"{p}: exits or protection not allowed" for p, k in KNOBS.items() if not k.exits_allowed)
    out.extend(f"{p}: protection not allowed" for p, k in KNOBS.items() if not k.protection_allowed)
    fields = {f.name for f in dataclasses.fields(GuardKnobs)}
    if fields & {"exits_allowed", "protection_allowed"}:
        out.append(f"GuardKnobs has settable fields {sorted(fields)}: exits and protection must not be knobs")
    return out


@register("posture.conformance.red_lock_leaves_only_to_warmup")
def red_lock_leaves_only_to_warmup(table: CompiledMachine) -> list[str]:
    """warmup_before_normal: RED_LOCK leaves only to POST_RED_WARMUP, which leaves only by ``escalate`` or
    ``warmup_done``."""
    out = []
    targets = {r.target for r in table.rows if r.source == "red_lock"}
    if targets != {"post_red_warmup"}:
        out.append(f"red_lock leads to {sorted(targets)}, only post_red_warmup")
    events = {r.event for r in table.rows if r.source == "post_red_warmup"}
    if not events <= {"escalate", "warmup_done"}:
        out.append(f"post_red_warmup is left by {sorted(events)}, only escalate or warmup_done")
    return out


@register("posture.conformance.knobs_monotone")
def knobs_monotone(table: CompiledMachine) -> list[str]:
    """knobs_monotone: GREEN <= YELLOW <= ORANGE <= POST_RED_WARMUP <= RED_LOCK in strictness; RED_LOCK
    allows no entry."""
    from eclipse.machines.posture import KNOBS, Posture

    order = [Posture.GREEN, Posture.YELLOW, Posture.ORANGE, Posture.POST_RED_WARMUP, Posture.RED_LOCK]
    out = [
        f"{stricter} is not at least as strict as {looser}"
        for looser, stricter in itertools.pairwise(order)
        if not KNOBS[stricter].at_least_as_strict_as(KNOBS[looser])
    ]
    out.extend(
        f"{looser} is stricter than {stricter} in some knob"
        for looser, stricter in itertools.pairwise(order)
        if dataclasses.replace(KNOBS[looser], reason="", code="")
        != dataclasses.replace(KNOBS[stricter], reason="", code="")
        and KNOBS[looser].at_least_as_strict_as(KNOBS[stricter])
    )
    if KNOBS[Posture.RED_LOCK].entries_allowed:
        out.append("RED_LOCK allows entries")
    return out
