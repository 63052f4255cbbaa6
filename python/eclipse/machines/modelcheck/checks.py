"""The model check's per-invariant checks of the order lifecycle, registered by name (see
:mod:`eclipse.machines.checkers`): the model (:mod:`~eclipse.machines.modelcheck.model`) runs the ones the
specs declare, in every reachable state, on every row it takes, at every resubmission and fill, and reports a
violation under the name of the invariant that declares the check.

Each returns the problems found as readable lines (empty: the invariant holds there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from eclipse.machines.checkers import register
from eclipse.machines.modelcheck.world import (
    LIVE_AT_VENUE,
    QTY_REDUCED,
    TRANSPORT_ERROR,
    TRIGGERED,
    UNKNOWN,
    V_NONE,
    V_OPEN,
    V_TRIG,
    Attempt,
    World,
    triggered_at_venue,
)
from eclipse.machines.spec import Row

if TYPE_CHECKING:
    from eclipse.machines.modelcheck.model import Model

__all__ = [
    "belief_converges",
    "filled_qty_bounded",
    "filled_qty_monotonic",
    "intent_filled_within_quantity",
    "one_live_order",
    "terminal_rows_absorb",
    "trade_id_applied_once",
    "transport_errors_never_definitive",
    "trigger_fills_belong_to_the_order",
    "unknown_resolved_before_resubmit",
    "venue_fills_never_lost",
]

_LATE_REPORTS = frozenset({"fill", QTY_REDUCED})


def _where(row: Row) -> str:
    return f"{row.source} --{row.event}{f'[{row.guard}]' if row.guard else ''}--> {row.target}"


# --- in every reachable state -------------------------------------------------------------------------------
@register("order.model_check.one_live_order", reads=("max_live_orders_per_intent",))
def one_live_order(attempts: Sequence[Attempt], max_live: int) -> list[str]:
    """one_live_order_per_intent: at most ``max_live`` attempts are live at the venue."""
    live = [i for i, a in enumerate(attempts, 1) if a.venue in LIVE_AT_VENUE]
    return [f"attempts {live} are all live at the venue (at most {max_live})"] if len(live) > max_live else []


@register("order.model_check.filled_qty_bounded")
def filled_qty_bounded(attempts: Sequence[Attempt]) -> list[str]:
    """filled_qty_monotonic_and_bounded: no attempt filled beyond its quantity, at the bot or the venue."""
    return [
        f"#{i}: bot filled {len(a.applied)}/{a.qty}, venue {a.vfilled}/{a.vqty}"
        for i, a in enumerate(attempts, 1)
        if len(a.applied) > a.qty or a.vfilled > a.vqty
    ]


@register("order.model_check.trade_id_applied_once")
def trade_id_applied_once(attempts: Sequence[Attempt]) -> list[str]:
    """trade_id_applied_once: no attempt applied a trade id twice."""
    return [
        f"#{i}: trade ids applied {list(a.applied)}"
        for i, a in enumerate(attempts, 1)
        if len(set(a.applied)) != len(a.applied)
    ]


@register("order.model_check.intent_filled_within_quantity")
def intent_filled_within_quantity(attempts: Sequence[Attempt], quantity: int) -> list[str]:
    """intent_filled_within_quantity: the attempts of the intent filled at most ``quantity`` units between
    them, at the venue and in the bot's books."""
    out = []
    for where, units in (
        ("the venue filled", [a.vfilled for a in attempts]),
        ("the bot applied", [len(a.applied) for a in attempts]),
    ):
        if sum(units) > quantity:
            each = ", ".join(f"#{i} {n}" for i, n in enumerate(units, 1))
            out.append(f"{where} {sum(units)} units for an intent of {quantity} ({each})")
    return out


# --- on every move ------------------------------------------------------------------------------------------
@register("order.model_check.filled_qty_monotonic")
def filled_qty_monotonic(before: Attempt, after: Attempt, n: int) -> list[str]:
    """filled_qty_monotonic_and_bounded: one move never decreased attempt ``n``'s filled quantity."""
    return [f"#{n}: filled decreased"] if len(after.applied) < len(before.applied) else []


@register("order.model_check.terminal_rows_absorb")
def terminal_rows_absorb(row: Row, terminal: frozenset[str]) -> list[str]:
    """terminal_states_absorb: a row the model takes out of a terminal state is a documented (noted) late
    ``fill`` or ``qty_reduced`` into a terminal state: a late report is recorded, it never reopens an
    order."""
    documented = row.event in _LATE_REPORTS and row.target in terminal and bool(row.note)
    if row.source in terminal and row.target != row.source and not documented:
        detail = "only a documented late fill or qty_reduced may leave a terminal state, into a terminal one"
        return [f"{_where(row)}: {detail}"]
    return []


@register("order.model_check.transport_errors_never_definitive")
def transport_errors_never_definitive(row: Row, terminal: frozenset[str]) -> list[str]:
    """transport_errors_never_definitive: no row the model takes on a transport error ends a live order."""
    if row.event == TRANSPORT_ERROR and row.target in terminal and row.source not in terminal:
        return [f"{_where(row)}: a transport error decided it"]
    return []


@register("order.model_check.unknown_resolved_before_resubmit")
def unknown_resolved_before_resubmit(attempts: Sequence[Attempt]) -> list[str]:
    """unknown_resolved_before_resubmit: at a resubmission no attempt is unknown or was ended by a transport
    error (only a lookup may prove it absent)."""
    return [
        f"#{i}: {a.local} reached by a transport error" if a.doubt else f"#{i}: still {a.local}"
        for i, a in enumerate(attempts, 1)
        if a.doubt or a.local == UNKNOWN
    ]


@register("order.model_check.venue_fills_never_lost")
def venue_fills_never_lost(a: Attempt, n: int, unit: int) -> list[str]:
    """venue_fills_never_lost: a fill the venue made and the bot attributed to attempt ``n`` (not a trade id
    already applied, not an overfill) was refused by the machine in ``a.local``: the fill is lost."""
    return [f"#{n}: fill t{unit} refused in {a.local} although the venue filled it ({a.vfilled}/{a.vqty})"]


# --- from every reachable state, once faults stop -----------------------------------------------------------
@register("reconcile.model_check.belief_converges", reads=("k_cycles",))
def belief_converges(model: Model, w: World, k: int) -> tuple[int | None, tuple[tuple[str, World], ...]]:
    """converges_within_k_cycles: once faults stop (no report delivered, the venue still), reconcile cycles
    bring every attempt's belief (state, trade ids, open quantity, for a conditional the order it became) to
    the venue's truth within ``k`` cycles: at most ``k - 1`` that repair, the ``k``-th then diffs clean.
    Returns the repairing cycles needed (None: ``k - 1`` do not suffice) and the cycles run."""
    steps: list[tuple[str, World]] = []
    for n in range(k):
        if all(model.agrees(a) for a in w.attempts):
            return n, tuple(steps)
        if n < k - 1:
            w, label, _ = model.reconcile(w)
            steps.append((f"faults stop; {label}", w))
    return None, tuple(steps)


@register("order.model_check.trigger_fills_belong_to_the_order")
def trigger_fills_belong_to_the_order(w: World, settled: World | None) -> list[str]:
    """trigger_fills_belong_to_the_order: a conditional is in ``triggered`` only if the venue triggered it,
    holds only fills of the order it became, and once faults stop and the K - 1 repairing reconcile cycles
    ran (``settled``: the world then; None when convergence is not checked) is ``triggered`` while the order
    it became works and holds each of its fills exactly once."""
    out = []
    for i, a in enumerate(w.attempts, 1):
        if a.local == TRIGGERED and a.venue in (V_NONE, V_OPEN):
            out.append(f"#{i}: bot triggered, the venue never triggered it ({a.venue})")
        if not set(a.applied) <= set(range(1, a.vfilled + 1)):
            out.append(f"#{i}: fills {list(a.applied)} applied, the order it became filled {a.vfilled}")
    for i, a in enumerate(settled.attempts if settled is not None else (), 1):
        if a.venue == V_TRIG and a.local != TRIGGERED:
            out.append(f"#{i}: the venue triggered it, after reconcile the bot still has it {a.local}")
        if triggered_at_venue(a) and a.applied != tuple(range(1, a.vfilled + 1)):
            out.append(
                f"#{i}: after reconcile the conditional holds {list(a.applied)}, the order it became filled "
                f"t1..t{a.vfilled}"
            )
    return out


StateCheck = Callable[[Sequence[Attempt]], list[str]]
"""The signature of the state checks without constants (filled_qty_bounded, trade_id_applied_once)."""
