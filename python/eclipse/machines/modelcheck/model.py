"""The rules of the composition: the bot's order machine (the table compiled from the spec), the order
tracker's fill rules, the bot's commands, the venue, the channel, resubmission and reconcile.

The machine is fired with the spec's semantics (the first row of ``(state, event)`` whose guard holds wins;
anything else is refused and changes nothing), so a broken spec is what gets explored. A fill is recorded
only when the machine takes it (as ``OrderTracker.fill``): a fill the table refuses is lost to the bot.

Two configurations: regular orders, and conditional orders (``conditional=True``: stop-loss / take-profit
orders that work untriggered at the venue until the venue triggers them; the regular order each became then
fills unit by unit). A conditional's fills reach the bot as fills of the order it became: the bot attributes
them to the conditional only once it knows the trigger link (it learns it from the ``trigger`` report, a
lookup or reconcile); a fill arriving before that is not applied (the engine re-fetches fills later), and a
restart loses the reports in flight and the links the journal does not hold (a conditional not yet in
``triggered``). Cancels race triggers: the venue may trigger the conditional before a cancel reaches it (the
cancel is then rejected). The checks of the spec's invariants are the registered ones
(:mod:`~eclipse.machines.modelcheck.checks`) the specs declare, each fault named after its invariant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from eclipse.errors import EclipseError
from eclipse.machines.modelcheck import checks as checks_module
from eclipse.machines.modelcheck.world import (
    ABSENT,
    ACCEPTED,
    CANCELED,
    CHANNEL_BOUND,
    CONDITIONAL_STATES,
    EXPIRED,
    FILL,
    FILLED,
    GUARDS,
    LIVE_AT_VENUE,
    MAX_ATTEMPTS,
    PARTIAL,
    PENDING_CANCEL,
    QTY_REDUCED,
    QUANTITY,
    REJECTED,
    STATES,
    SUBMITTING,
    TRANSPORT_ERROR,
    TRIGGER,
    TRIGGERED,
    UNKNOWN,
    V_NONE,
    V_OPEN,
    V_TRIG,
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
    triggered_at_venue,
)
from eclipse.machines.spec import Spec
from eclipse.machines.table import CompiledMachine, compile_spec

__all__ = ["Model", "ModelError"]

_STATUS_EVENT = {CANCELED: "cancel_confirmed", EXPIRED: "expire", REJECTED: "reject"}

_Add = Callable[[str, World, list[Fault], list[str]], None]


class ModelError(EclipseError):
    """The spec lacks a state the abstract model needs, or uses a guard it cannot evaluate."""


@dataclass(frozen=True, slots=True)
class Model:
    """The composition's rules over the order machine compiled from ``spec``.

    ``checks`` maps each model-check checker the specs declare to the invariant that declares it (a check no
    spec declares is not run); ``k_cycles`` is K of ``converges_within_k_cycles`` (None: convergence is not
    checked); ``max_live`` the bound of ``one_live_order_per_intent``; ``conditional`` selects the
    conditional-order configuration.
    """

    spec: Spec
    machine: CompiledMachine
    checks: Mapping[str, str] = field(default_factory=dict)
    k_cycles: int | None = None
    max_live: int = 1
    conditional: bool = False
    row_faults: Mapping[int, tuple[Fault, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(
        cls,
        spec: Spec,
        checks: Mapping[str, str] | None = None,
        *,
        k_cycles: int | None = None,
        conditional: bool = False,
    ) -> Model:
        """The model of the order spec; ModelError when it lacks a needed state or has an unknown guard.
        ``checks`` (checker name -> invariant) defaults to every model-check checker ``spec`` declares."""
        needed = CONDITIONAL_STATES if conditional else STATES
        missing = sorted(set(needed) - set(spec.states))
        if missing:
            raise ModelError(f"{spec.path or spec.name}: the model check needs the order states {missing}")
        guards = sorted(set(spec.guards) - set(GUARDS))
        if guards:
            raise ModelError(f"{spec.path or spec.name}: the model check cannot evaluate guards {guards}")
        declared = dict(spec.checkers) if checks is None else dict(checks)
        machine = compile_spec(spec)
        row_faults: dict[int, tuple[Fault, ...]] = {}
        for row in machine.rows:
            found: list[Fault] = []
            for name, check in (
                ("order.model_check.terminal_rows_absorb", checks_module.terminal_rows_absorb),
                (
                    "order.model_check.transport_errors_never_definitive",
                    checks_module.transport_errors_never_definitive,
                ),
            ):
                inv = declared.get(name)
                if inv is not None:
                    found.extend(Fault(inv, d) for d in check(row, machine.terminal))
            if found:
                row_faults[id(row)] = tuple(found)
        max_live = 1
        if "order.model_check.one_live_order" in declared:
            max_live = int(spec.constant("max_live_orders_per_intent"))
        return cls(spec, machine, declared, k_cycles, max_live, conditional, row_faults)

    def inv(self, checker: str) -> str | None:
        """The invariant that declares model-check checker ``checker`` (None: not declared, not run)."""
        return self.checks.get(checker)

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
                bad = self.row_faults.get(id(row))
                if bad:
                    faults.extend(bad)
                doubt = event == TRANSPORT_ERROR and row.target in self.machine.terminal
                return Attempt(row.target, a.qty, a.applied, doubt, a.venue, a.vqty, a.vfilled, a.linked)
        log.append(f"#{i + 1} {event} refused in {a.local}")
        return a

    def apply_fill(self, a: Attempt, i: int, unit: int, faults: list[Fault], log: list[str]) -> Attempt:
        """The tracker's fill rule: a trade id already applied is dropped, an overfill refused, else ``fill``
        is fired and the unit recorded only when the machine takes it (a fill it refuses is lost: a fault of
        ``venue_fills_never_lost``)."""
        if unit in a.applied:
            log.append(f"#{i + 1} fill t{unit} dropped (trade id already applied)")
            return a
        filled = len(a.applied) + 1
        if filled > a.qty:
            log.append(f"#{i + 1} fill t{unit} refused (overfill {filled}/{a.qty})")
            return a
        b = self.fire(a, i, FILL, (filled, a.qty), faults, log)
        if b is a:
            inv = self.inv("order.model_check.venue_fills_never_lost")
            if inv is not None:
                faults.extend(Fault(inv, d) for d in checks_module.venue_fills_never_lost(a, i + 1, unit))
            return a
        applied = tuple(sorted((*a.applied, unit)))
        return Attempt(b.local, b.qty, applied, b.doubt, b.venue, b.vqty, b.vfilled, b.linked)

    def deliver(self, a: Attempt, i: int, m: Msg, faults: list[Fault], log: list[str]) -> Attempt:
        """Apply one venue report to attempt ``i`` (its quantity changes only when the machine takes it). A
        conditional's fill is attributed only when the bot knows the trigger link; a trigger report teaches
        the link, whatever the machine does with it."""
        if m.event == FILL:
            if self.conditional and not a.linked:
                log.append(f"#{i + 1} fill t{m.arg} of the order it became not attributed (trigger unknown)")
                return a
            return self.apply_fill(a, i, m.arg, faults, log)
        filled = len(a.applied)
        if m.event == QTY_REDUCED:
            b = self.fire(a, i, QTY_REDUCED, (filled, m.arg), faults, log)
            return b if b is a else b._replace(qty=max(m.arg, filled))
        if m.event == TRIGGER:
            return self.learn_trigger(a, i, faults, log)
        return self.fire(a, i, m.event, (filled, a.qty), faults, log)

    def learn_trigger(self, a: Attempt, i: int, faults: list[Fault], log: list[str]) -> Attempt:
        """The bot learns that conditional ``i`` triggered (a report, a lookup, reconcile): it links the order
        it became to it and fires ``trigger``."""
        b = self.fire(a, i, TRIGGER, (len(a.applied), a.qty), faults, log)
        return b if b.linked else b._replace(linked=True)

    # --- agreement and reconcile ------------------------------------------------------------------------
    def agrees(self, a: Attempt) -> bool:
        """The bot's belief names the venue's truth: the state, exactly the venue's trade ids, and the
        quantity while the order is live (for a triggered conditional: the order it became)."""
        if a.venue == V_NONE:
            return a.local in (self.machine.initial, ABSENT)
        if a.venue in LIVE_AT_VENUE:
            if a.qty != a.vqty:
                return False
            want = TRIGGERED if a.venue == V_TRIG else ACCEPTED if a.vfilled == 0 else PARTIAL
        else:
            want = a.venue  # filled, canceled, expired, rejected: the machine's state of the same name
        return a.local == want and a.applied == tuple(range(1, a.vfilled + 1))

    def reconcile(self, w: World) -> tuple[World, str, tuple[Fault, ...]]:
        """One reconcile cycle over a snapshot of the venue's truth, for each attempt that disagrees: time out
        a submit still waiting (transport_error), learn a conditional's trigger (the link, then ``trigger``),
        resolve an unknown outcome by a lookup, settle a cancel that did not take (cancel_rejected), apply the
        missed fills in trade id order (tracker rules), a missed quantity reduction, then the venue's terminal
        status. Every event goes through the table."""
        faults: list[Fault] = []
        log: list[str] = []
        attempts = list(w.attempts)
        terminal = self.machine.terminal
        for i, a in enumerate(attempts):
            if self.agrees(a):
                continue
            ctx = (len(a.applied), a.qty)
            if a.local == SUBMITTING:
                a = self.fire(a, i, TRANSPORT_ERROR, ctx, faults, log)
            trig = self.conditional and triggered_at_venue(a)
            if trig and (not a.linked or (a.local not in terminal and a.local != TRIGGERED)):
                a = self.learn_trigger(a, i, faults, log)  # the lookup finds it triggered
            if a.local == UNKNOWN:
                answer = "lookup_absent" if a.venue == V_NONE else "lookup_found"
                a = self.fire(a, i, answer, ctx, faults, log)
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
        the repairing cycles needed (None when the K - 1 allowed do not suffice) and the cycles run
        (:func:`~eclipse.machines.modelcheck.checks.belief_converges`; (0, ()) when convergence is not
        checked)."""
        if self.k_cycles is None:
            return 0, ()
        return checks_module.belief_converges(self, w, self.k_cycles)

    # --- invariants of one world ------------------------------------------------------------------------
    def state_faults(self, w: World) -> list[Fault]:
        """The spec's invariants that concern one world (the declared state checks)."""
        out: list[Fault] = []
        inv = self.inv("order.model_check.one_live_order")
        if inv is not None:
            out.extend(Fault(inv, d) for d in checks_module.one_live_order(w.attempts, self.max_live))
        inv = self.inv("order.model_check.filled_qty_bounded")
        if inv is not None:
            out.extend(Fault(inv, d) for d in checks_module.filled_qty_bounded(w.attempts))
        inv = self.inv("order.model_check.trade_id_applied_once")
        if inv is not None:
            out.extend(Fault(inv, d) for d in checks_module.trade_id_applied_once(w.attempts))
        return out

    def settled_faults(self, w: World, settled: World | None) -> list[Fault]:
        """The invariants judged on a world and on where the repairing reconcile cycles brought it once faults
        stopped (``settled``; None when convergence is not checked): the conditional's fills."""
        inv = self.inv("order.model_check.trigger_fills_belong_to_the_order")
        if inv is None or not self.conditional:
            return []
        return [Fault(inv, d) for d in checks_module.trigger_fills_belong_to_the_order(w, settled)]

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
        commands, the venue's moves, the channel's deliveries and faults, resubmission, a restart (the
        conditional configuration) and reconcile. Actions that change nothing are left out.
        ``exits_allowed`` is the posture's gate on the bot's exit and protection commands
        (``cancel_request``): withheld when False."""
        out: list[Successor] = []
        monotonic = self.inv("order.model_check.filled_qty_monotonic")

        def add(action: str, world: World, faults: list[Fault], log: list[str]) -> None:
            if monotonic is not None and world.attempts is not w.attempts:
                for j, (x, y) in enumerate(zip(w.attempts, world.attempts, strict=False), 1):
                    if (
                        y is not x and y.applied is not x.applied
                    ):  # only a move of the fills can decrease them
                        bad = checks_module.filled_qty_monotonic(x, y, j)
                        if bad:
                            faults = [*faults, *(Fault(monotonic, d) for d in bad)]
            if faults:
                out.append(Successor(action, world, tuple(faults), tuple(log)))
            elif world != w:
                out.append(Successor(action, world, (), tuple(log) if log else ()))

        for i, a in enumerate(w.attempts):
            self._commands(w, i, a, add, exits_allowed)
            self._venue_moves(w, i, a, add)
        self._channel_moves(w, add)
        terminal = self.machine.terminal
        if len(w.attempts) < MAX_ATTEMPTS and all(a.local in terminal for a in w.attempts):
            remaining = QUANTITY - sum(len(a.applied) for a in w.attempts)
            if remaining > 0:
                inv = self.inv("order.model_check.unknown_resolved_before_resubmit")
                faults = []
                if inv is not None:
                    bad = checks_module.unknown_resolved_before_resubmit(w.attempts)
                    faults = [Fault(inv, d) for d in bad]
                new = Attempt(self.machine.initial, remaining, (), False, V_NONE, remaining, 0)
                label = f"resubmit: attempt #{len(w.attempts) + 1} for {remaining}"
                add(label, World((*w.attempts, new), w.channel), faults, [])
        if self.conditional:
            restarted = tuple(
                a._replace(linked=False) if a.linked and a.local != TRIGGERED else a for a in w.attempts
            )
            label = "restart (the reports in flight and the trigger links not journaled are lost)"
            add(label, World(restarted, ()), [], [])
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
        if self.conditional and a.local == UNKNOWN and triggered_at_venue(a):
            faults, log = [], []
            b = self.learn_trigger(a, i, faults, log)  # the lookup finds it triggered
            add(f"lookup #{n} (finds it triggered)", World(put(w, i, b), w.channel), faults, log)
        elif (a.local, truth) in self.machine.rows_for:
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
        if b.venue == V_OPEN and self.conditional:
            label = f"cancel #{n} (venue cancels)"
            self._answer(w, i, b._replace(venue=CANCELED), (confirm,), label, faults, log, add)
            raced = b._replace(venue=V_TRIG)
            label = f"cancel #{n} (the venue triggers it first, then rejects the cancel)"
            self._answer(w, i, raced, (Msg(i, TRIGGER), Msg(i, "cancel_rejected")), label, faults, log, add)
        elif b.venue == V_OPEN:
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

        if a.venue == V_OPEN and self.conditional:
            move("triggers", a._replace(venue=V_TRIG), Msg(i, TRIGGER))
            move("cancels (unsolicited)", a._replace(venue=CANCELED), Msg(i, "cancel_confirmed"))
            move("expires (or cannot place it on trigger)", a._replace(venue=EXPIRED), Msg(i, "expire"))
            move("rejects (after accepting)", a._replace(venue=REJECTED), Msg(i, "reject"))
        elif a.venue in LIVE_AT_VENUE:
            k = a.vfilled + 1
            done = FILLED if k == a.vqty else a.venue
            move(f"fills t{k} of", a._replace(venue=done, vfilled=k), Msg(i, FILL, k))
            move("cancels (unsolicited)", a._replace(venue=CANCELED), Msg(i, "cancel_confirmed"))
            move("expires", a._replace(venue=EXPIRED), Msg(i, "expire"))
            if a.vfilled == 0 and a.venue == V_OPEN:
                move("rejects (after accepting)", a._replace(venue=REJECTED), Msg(i, "reject"))
            q = a.vqty - 1
            if q >= max(a.vfilled, 1):
                shrunk = a._replace(vqty=q, venue=FILLED if a.vfilled == q else a.venue)
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
