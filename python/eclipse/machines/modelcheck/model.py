"""The rules of the composition: the bot's order machine (the table compiled from the spec), the order
tracker's fill rules, the bot's commands, the venue, the channel, resubmission and reconcile.

The machine is fired with the spec's semantics (the first row of ``(state, event)`` whose guard holds wins;
anything else is refused and changes nothing), so a broken spec is what gets explored. A fill is recorded
only when the machine takes it (as ``OrderTracker.fill``): a fill the table refuses is lost to the bot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eclipse.errors import EclipseError
from eclipse.machines.modelcheck.world import (
    ABSENT,
    ACCEPTED,
    CANCELED,
    CHANNEL_BOUND,
    EXPIRED,
    FILL,
    FILLED,
    GUARDS,
    MAX_ATTEMPTS,
    PARTIAL,
    PENDING_CANCEL,
    QTY_REDUCED,
    QUANTITY,
    RECONCILE_CYCLES,
    REJECTED,
    STATES,
    SUBMITTING,
    TRANSPORT_ERROR,
    UNKNOWN,
    V_NONE,
    V_OPEN,
    Attempt,
    Ctx,
    Fault,
    Msg,
    Successor,
    World,
    emit,
    put,
    remove,
    render_msg,
)
from eclipse.machines.spec import Row, Spec
from eclipse.machines.table import CompiledMachine, compile_spec

__all__ = ["Model", "ModelError"]

LATE_REPORTS = frozenset({FILL, QTY_REDUCED})
"""Events of the documented rows that may leave a terminal state (into a terminal one): late reports."""
_STATUS_EVENT = {CANCELED: "cancel_confirmed", EXPIRED: "expire", REJECTED: "reject"}

_Add = Callable[[str, World, list[Fault], list[str]], None]


class ModelError(EclipseError):
    """The spec lacks a state the abstract model needs, or uses a guard it cannot evaluate."""


@dataclass(frozen=True, slots=True)
class Model:
    """The composition's rules over the order machine compiled from ``spec``."""

    spec: Spec
    machine: CompiledMachine

    @classmethod
    def of(cls, spec: Spec) -> Model:
        """The model of the order spec; ModelError when it lacks a needed state or has an unknown guard."""
        missing = sorted(set(STATES) - set(spec.states))
        if missing:
            raise ModelError(f"{spec.path or spec.name}: the model check needs the order states {missing}")
        guards = sorted(set(spec.guards) - set(GUARDS))
        if guards:
            raise ModelError(f"{spec.path or spec.name}: the model check cannot evaluate guards {guards}")
        return cls(spec, compile_spec(spec))

    def initial(self) -> World:
        """One intent with its first attempt created, nothing at the venue, nothing in flight."""
        return World((Attempt(self.machine.initial, QUANTITY, (), False, V_NONE, QUANTITY, 0),), ())

    # --- the order machine and the tracker ------------------------------------------------------------
    def fire(self, a: Attempt, i: int, event: str, ctx: Ctx, faults: list[Fault], log: list[str]) -> Attempt:
        """Fire ``event`` on attempt ``i`` as the spec's table does; note what happened in ``log`` and every
        transition invariant the row breaks in ``faults``. A refused event returns ``a`` itself."""
        for row in self.machine.rows_for.get((a.local, event), ()):
            if row.guard is None or GUARDS[row.guard](ctx):
                log.append(f"#{i + 1} {event}: {a.local} -> {row.target}")
                self._check_row(row, faults)
                doubt = event == TRANSPORT_ERROR and row.target in self.machine.terminal
                return Attempt(row.target, a.qty, a.applied, doubt, a.venue, a.vqty, a.vfilled)
        log.append(f"#{i + 1} {event} refused in {a.local}")
        return a

    def _check_row(self, row: Row, faults: list[Fault]) -> None:
        terminal = self.machine.terminal
        where = f"{row.source} --{row.event}{f'[{row.guard}]' if row.guard else ''}--> {row.target}"
        documented = row.event in LATE_REPORTS and row.target in terminal and bool(row.note)
        if row.source in terminal and row.target != row.source and not documented:
            detail = (
                "only a documented late fill or qty_reduced may leave a terminal state, into a terminal one"
            )
            faults.append(Fault("terminal_states_absorb", f"{where}: {detail}"))
        if row.event == TRANSPORT_ERROR and row.target in terminal and row.source not in terminal:
            faults.append(
                Fault("transport_errors_never_definitive", f"{where}: a transport error decided it")
            )

    def apply_fill(self, a: Attempt, i: int, unit: int, faults: list[Fault], log: list[str]) -> Attempt:
        """The tracker's fill rule: a trade id already applied is dropped, an overfill refused, else ``fill``
        is fired and the unit recorded only when the machine takes it."""
        if unit in a.applied:
            log.append(f"#{i + 1} fill t{unit} dropped (trade id already applied)")
            return a
        filled = len(a.applied) + 1
        if filled > a.qty:
            log.append(f"#{i + 1} fill t{unit} refused (overfill {filled}/{a.qty})")
            return a
        b = self.fire(a, i, FILL, (filled, a.qty), faults, log)
        if b is a:
            return a
        applied = tuple(sorted((*a.applied, unit)))
        return Attempt(b.local, b.qty, applied, b.doubt, b.venue, b.vqty, b.vfilled)

    def deliver(self, a: Attempt, i: int, m: Msg, faults: list[Fault], log: list[str]) -> Attempt:
        """Apply one venue report to attempt ``i`` (its quantity changes only when the machine takes it)."""
        if m.event == FILL:
            return self.apply_fill(a, i, m.arg, faults, log)
        filled = len(a.applied)
        if m.event == QTY_REDUCED:
            b = self.fire(a, i, QTY_REDUCED, (filled, m.arg), faults, log)
            return b if b is a else b._replace(qty=max(m.arg, filled))
        return self.fire(a, i, m.event, (filled, a.qty), faults, log)

    # --- agreement and reconcile ------------------------------------------------------------------------
    def agrees(self, a: Attempt) -> bool:
        """The bot's belief names the venue's truth: the state, exactly the venue's trade ids, and the
        quantity while the order is open."""
        if a.venue == V_NONE:
            return a.local in (self.machine.initial, ABSENT)
        if a.venue == V_OPEN:
            if a.qty != a.vqty:
                return False
            want = ACCEPTED if a.vfilled == 0 else PARTIAL
        else:
            want = a.venue  # filled, canceled, expired, rejected: the machine's state of the same name
        return a.local == want and a.applied == tuple(range(1, a.vfilled + 1))

    def reconcile(self, w: World) -> tuple[World, str, tuple[Fault, ...]]:
        """One reconcile cycle over a snapshot of the venue's truth, for each attempt that disagrees: time out
        a submit still waiting (transport_error), resolve an unknown outcome by a lookup, settle a cancel that
        did not take (cancel_rejected), apply the missed fills in trade id order (tracker rules), a missed
        quantity reduction, then the venue's terminal status. Every event goes through the table."""
        faults: list[Fault] = []
        log: list[str] = []
        attempts = list(w.attempts)
        for i, a in enumerate(attempts):
            if self.agrees(a):
                continue
            if a.local == SUBMITTING:
                a = self.fire(a, i, TRANSPORT_ERROR, (len(a.applied), a.qty), faults, log)
            if a.local == UNKNOWN:
                answer = "lookup_absent" if a.venue == V_NONE else "lookup_found"
                a = self.fire(a, i, answer, (len(a.applied), a.qty), faults, log)
            if a.local == PENDING_CANCEL and a.venue != CANCELED:
                a = self.fire(a, i, "cancel_rejected", (len(a.applied), a.qty), faults, log)
            for unit in range(1, a.vfilled + 1):
                if unit not in a.applied:
                    a = self.apply_fill(a, i, unit, faults, log)
            if a.venue != V_NONE and a.vqty < a.qty:
                a = self.deliver(a, i, Msg(i, QTY_REDUCED, a.vqty), faults, log)
            if a.venue in _STATUS_EVENT and a.local != a.venue:
                a = self.fire(a, i, _STATUS_EVENT[a.venue], (len(a.applied), a.qty), faults, log)
            attempts[i] = a
        return (
            World(tuple(attempts), w.channel),
            "reconcile: " + ("; ".join(log) or "no repair applies"),
            tuple(faults),
        )

    def converge(self, w: World) -> tuple[int | None, tuple[tuple[str, World], ...]]:
        """Reconcile cycles with faults stopped (no deliveries, the venue still) until belief equals truth:
        the cycles needed (None when :data:`RECONCILE_CYCLES` do not suffice) and the cycles run."""
        steps: list[tuple[str, World]] = []
        for k in range(RECONCILE_CYCLES + 1):
            if all(self.agrees(a) for a in w.attempts):
                return k, tuple(steps)
            if k < RECONCILE_CYCLES:
                w, label, _ = self.reconcile(w)
                steps.append((f"faults stop; {label}", w))
        return None, tuple(steps)

    # --- invariants of one world ------------------------------------------------------------------------
    def state_faults(self, w: World) -> list[Fault]:
        """The spec's invariants that concern one world."""
        out = []
        live = [i + 1 for i, a in enumerate(w.attempts) if a.venue == V_OPEN]
        if len(live) > 1:
            out.append(Fault("one_live_order_per_intent", f"attempts {live} are all open at the venue"))
        for i, a in enumerate(w.attempts, 1):
            if len(a.applied) > a.qty or a.vfilled > a.vqty:
                detail = f"#{i}: bot filled {len(a.applied)}/{a.qty}, venue {a.vfilled}/{a.vqty}"
                out.append(Fault("filled_qty_monotonic_and_bounded", detail))
            if len(set(a.applied)) != len(a.applied):
                out.append(Fault("trade_id_applied_once", f"#{i}: trade ids applied {list(a.applied)}"))
        return out

    def live(self, w: World) -> list[int]:
        """The attempts (0-based) the bot may cancel: not terminal, and the spec has a ``cancel_request`` row
        from their state (the posture must never withhold that command)."""
        rows, terminal = self.machine.rows_for, self.machine.terminal
        return [
            i
            for i, a in enumerate(w.attempts)
            if a.local not in terminal and (a.local, "cancel_request") in rows
        ]

    def advisories(self, w: World) -> list[Fault]:
        """Properties the spec does not (yet) promise, reported without failing the check."""
        total = sum(a.vfilled for a in w.attempts)
        if total > QUANTITY:
            detail = f"the venue filled {total} units for an intent of {QUANTITY}"
            return [Fault("intent_filled_within_quantity", detail)]
        return []

    # --- actions ----------------------------------------------------------------------------------------
    def successors(self, w: World, exits_allowed: bool = True) -> list[Successor]:
        """Every action possible in ``w`` (the order part: its posture fields must be empty): the bot's
        commands, the venue's moves, the channel's deliveries and faults, resubmission and reconcile. Actions
        that change nothing are left out. ``exits_allowed`` is the posture's gate on the bot's exit and
        protection commands (``cancel_request``): withheld when False."""
        out: list[Successor] = []

        def add(action: str, world: World, faults: list[Fault], log: list[str]) -> None:
            if world.attempts is not w.attempts:
                for j, (x, y) in enumerate(zip(w.attempts, world.attempts, strict=False), 1):
                    if y is not x and len(y.applied) < len(x.applied):
                        fault = Fault("filled_qty_monotonic_and_bounded", f"#{j}: filled decreased")
                        faults = [*faults, fault]
            if world != w or faults:
                out.append(Successor(f"{action}: {'; '.join(log)}" if log else action, world, tuple(faults)))

        for i, a in enumerate(w.attempts):
            self._commands(w, i, a, add, exits_allowed)
            self._venue_moves(w, i, a, add)
        self._channel_moves(w, add)
        terminal = self.machine.terminal
        if len(w.attempts) < MAX_ATTEMPTS and all(a.local in terminal for a in w.attempts):
            remaining = QUANTITY - sum(len(a.applied) for a in w.attempts)
            if remaining > 0:
                faults = [
                    Fault("unknown_resolved_before_resubmit", f"#{i}: {a.local} reached by a transport error")
                    for i, a in enumerate(w.attempts, 1)
                    if a.doubt or a.local == UNKNOWN
                ]
                new = Attempt(self.machine.initial, remaining, (), False, V_NONE, remaining, 0)
                label = f"resubmit: attempt #{len(w.attempts) + 1} for {remaining}"
                add(label, World((*w.attempts, new), w.channel), faults, [])
        if not all(self.agrees(a) for a in w.attempts):
            world, label, reconcile_faults = self.reconcile(w)
            add(label, world, list(reconcile_faults), [])
        return out

    def _commands(self, w: World, i: int, a: Attempt, add: _Add, exits_allowed: bool) -> None:
        n = i + 1
        ctx = (len(a.applied), a.qty)
        for event in ("submit", "cancel_request", TRANSPORT_ERROR):
            if event == "cancel_request" and not exits_allowed:
                continue  # closed by the posture gate (never_blocks_exits_or_protection forbids it)
            if event == TRANSPORT_ERROR and a.local not in self.machine.in_flight:
                continue  # a transport error needs a request in flight
            faults: list[Fault] = []
            log: list[str] = []
            b = self.fire(a, i, event, ctx, faults, log)
            if b is a:
                continue
            if event == TRANSPORT_ERROR:
                add(f"transport error on #{n}'s request", World(put(w, i, b), w.channel), faults, log)
            elif event == "submit":
                opened = b._replace(venue=V_OPEN, vqty=a.qty, vfilled=0)
                self._answer(w, i, opened, (Msg(i, "ack"),), f"submit #{n} (venue accepts)", faults, log, add)
                refused = b._replace(venue=REJECTED, vqty=a.qty)
                label = f"submit #{n} (venue rejects)"
                self._answer(w, i, refused, (Msg(i, "reject"),), label, faults, log, add)
                add(f"submit #{n} (request lost)", World(put(w, i, b), w.channel), faults, log)
            else:
                self._cancel(w, i, b, faults, log, add)
        truth = "lookup_absent" if a.venue == V_NONE else "lookup_found"
        if (a.local, truth) in self.machine.rows_for:
            faults, log = [], []
            b = self.fire(a, i, truth, ctx, faults, log)
            add(f"lookup #{n}", World(put(w, i, b), w.channel), faults, log)

    @staticmethod
    def _answer(
        w: World,
        i: int,
        b: Attempt,
        msgs: tuple[Msg, ...],
        action: str,
        faults: list[Fault],
        log: list[str],
        add: _Add,
    ) -> None:
        """Attempt ``i`` becomes ``b`` and the venue emits ``msgs``."""
        lg = list(log)
        add(action, World(put(w, i, b), emit(w.channel, msgs, lg)), faults, lg)

    def _cancel(self, w: World, i: int, b: Attempt, faults: list[Fault], log: list[str], add: _Add) -> None:
        n = i + 1
        confirm = Msg(i, "cancel_confirmed")
        if b.venue == V_OPEN:
            label = f"cancel #{n} (venue cancels)"
            self._answer(w, i, b._replace(venue=CANCELED), (confirm,), label, faults, log, add)
            raced = b._replace(venue=FILLED, vfilled=b.vqty)
            fills = tuple(Msg(i, FILL, u) for u in range(b.vfilled + 1, b.vqty + 1))
            label = f"cancel #{n} (the venue fills the rest, then confirms the cancel)"
            self._answer(w, i, raced, (*fills, confirm), label, faults, log, add)
        else:
            label = f"cancel #{n} (venue: cancel_rejected, order {b.venue})"
            self._answer(w, i, b, (Msg(i, "cancel_rejected"),), label, faults, log, add)
        add(f"cancel #{n} (request lost)", World(put(w, i, b), w.channel), faults, log)

    def _venue_moves(self, w: World, i: int, a: Attempt, add: _Add) -> None:
        n = i + 1

        def move(action: str, c: Attempt, msg: Msg) -> None:
            self._answer(w, i, c, (msg,), f"venue {action} #{n}", [], [], add)

        if a.venue == V_OPEN:
            k = a.vfilled + 1
            filled = Attempt(a.local, a.qty, a.applied, a.doubt, FILLED if k == a.vqty else V_OPEN, a.vqty, k)
            move(f"fills t{k} of", filled, Msg(i, FILL, k))
            move("cancels (unsolicited)", a._replace(venue=CANCELED), Msg(i, "cancel_confirmed"))
            move("expires", a._replace(venue=EXPIRED), Msg(i, "expire"))
            if a.vfilled == 0:
                move("rejects (after accepting)", a._replace(venue=REJECTED), Msg(i, "reject"))
            q = a.vqty - 1
            if q >= max(a.vfilled, 1):
                shrunk = a._replace(vqty=q, venue=FILLED if a.vfilled == q else V_OPEN)
                move(f"shrinks (reduce-only) to {q}", shrunk, Msg(i, QTY_REDUCED, q))
        for unit in range(1, a.vfilled + 1):
            move(f"re-sends t{unit} of", a, Msg(i, FILL, unit))

    def _channel_moves(self, w: World, add: _Add) -> None:
        for m in dict.fromkeys(w.channel):
            rest = remove(w.channel, m)
            faults: list[Fault] = []
            log: list[str] = []
            b = self.deliver(w.attempts[m.attempt], m.attempt, m, faults, log)
            add(f"deliver {render_msg(m)}", World(put(w, m.attempt, b), rest), faults, log)
            add(f"channel loses {render_msg(m)}", World(w.attempts, rest), [], [])
            if len(w.channel) < CHANNEL_BOUND:
                more = tuple(sorted((*w.channel, m)))
                add(f"channel duplicates {render_msg(m)}", World(w.attempts, more), [], [])
