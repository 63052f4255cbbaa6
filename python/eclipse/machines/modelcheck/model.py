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

from collections.abc import Mapping
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

Move = tuple[str, Attempt, tuple[Msg, ...], tuple[Fault, ...], tuple[str, ...]]
"""One move of one attempt: the action, the attempt after it, the reports the venue emits, the invariants it
breaks, what the machine did."""
WholeMove = tuple[str, tuple[Attempt, ...], tuple[Fault, ...], bool]
"""One move of the whole intent: the action, the attempts after it, the invariants it breaks, whether the
reports in flight are kept."""
ChannelOp = tuple[Msg, tuple[Msg, ...], tuple[Msg, ...] | None, str, str, str]


@dataclass(slots=True)
class Memo:
    """The memo tables of :meth:`Model.successors` (the model is immutable; these only remember)."""

    moves: dict[tuple[int, Attempt, bool], tuple[Move, ...]] = field(default_factory=dict)
    emitted: dict[tuple[tuple[Msg, ...], tuple[Msg, ...]], tuple[tuple[Msg, ...], tuple[str, ...]]] = field(
        default_factory=dict
    )
    channel_ops: dict[tuple[Msg, ...], tuple[ChannelOp, ...]] = field(default_factory=dict)
    delivered: dict[tuple[int, Attempt, Msg], tuple[Attempt, tuple[Fault, ...], tuple[str, ...]]] = field(
        default_factory=dict
    )
    whole: dict[tuple[Attempt, ...], tuple[WholeMove, ...]] = field(default_factory=dict)


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
    memo: Memo = field(default_factory=Memo, compare=False, repr=False)

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
        inv = self.inv("order.model_check.intent_filled_within_quantity")
        if inv is not None:
            out.extend(
                Fault(inv, d) for d in checks_module.intent_filled_within_quantity(w.attempts, QUANTITY)
            )
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
        """Properties the spec does not (yet) promise, reported without failing the check (none today:
        ``intent_filled_within_quantity``, the last one, became an invariant of the order spec)."""
        return []

    def resubmit_quantity(self, attempts: tuple[Attempt, ...]) -> int:
        """The quantity of a new attempt: the intent's less what its earlier attempts filled as the venue
        confirms it, each of them terminal (the final filled quantity of the report that ended it, or of a
        lookup; as ``ReplaceManager`` sizes a replacement from the cancel's report). Never what the bot has
        applied so far: a fill may still be in flight (a fill that raced a confirmed cancel)."""
        return QUANTITY - sum(a.vfilled for a in attempts)

    # --- actions ----------------------------------------------------------------------------------------
    def successors(self, w: World, exits_allowed: bool = True) -> list[Successor]:
        """Every action possible in ``w`` (the order part: its posture fields must be empty): the bot's
        commands, the venue's moves, the channel's deliveries and faults, resubmission, a restart (the
        conditional configuration) and reconcile. Actions that change nothing are left out.
        ``exits_allowed`` is the posture's gate on the bot's exit and protection commands
        (``cancel_request``): withheld when False.

        Each part is a function of a few fields of ``w`` and memoized on them (:class:`Memo`): an attempt's
        moves on the attempt, a delivery on the attempt and the report, resubmission, restart and reconcile
        on the attempts, the channel's faults on the channel; only the worlds are assembled here."""
        out: list[Successor] = []
        attempts, channel = w.attempts, w.channel
        memo = self.memo
        for i, a in enumerate(attempts):
            moves = memo.moves.get((i, a, exits_allowed))
            if moves is None:
                moves = memo.moves[i, a, exits_allowed] = self._attempt_moves(i, a, exits_allowed)
            for action, b, msgs, faults, log in moves:
                ch = channel
                if msgs:
                    emitted = memo.emitted.get((channel, msgs))
                    if emitted is None:
                        lost: list[str] = []
                        emitted = memo.emitted[channel, msgs] = (emit(channel, msgs, lost), tuple(lost))
                    ch = emitted[0]
                    if emitted[1]:
                        log = (*log, *emitted[1])
                if faults or ch != channel or b != a:
                    out.append(Successor(action, World(put(w, i, b), ch), faults, log))
        ops = memo.channel_ops.get(channel)
        if ops is None:
            ops = memo.channel_ops[channel] = _channel_ops(channel)
        for m, rest, more, deliver, lose, duplicate in ops:
            i = m.attempt
            a = attempts[i]
            hit = memo.delivered.get((i, a, m))
            if hit is None:
                hit = memo.delivered[i, a, m] = self._delivered(i, a, m)
            b, faults, log = hit
            out.append(Successor(deliver, World(put(w, i, b), rest), faults, log))
            out.append(Successor(lose, World(attempts, rest), ()))
            if more is not None:
                out.append(Successor(duplicate, World(attempts, more), ()))
        whole = memo.whole.get(attempts)
        if whole is None:
            whole = memo.whole[attempts] = self._whole_moves(attempts)
        for action, after, faults, keep in whole:
            world = World(after, channel if keep else ())
            if faults or world != w:
                out.append(Successor(action, world, faults))
        return out

    def _attempt_moves(self, i: int, a: Attempt, exits_allowed: bool) -> tuple[Move, ...]:
        """The bot's commands on attempt ``i`` and the venue's moves of it (in that order)."""
        out: list[Move] = []
        self._commands(i, a, out, exits_allowed)
        self._venue_moves(i, a, out)
        return tuple(out)

    def _move(
        self,
        out: list[Move],
        action: str,
        i: int,
        a: Attempt,
        b: Attempt,
        msgs: tuple[Msg, ...],
        faults: list[Fault],
        log: list[str],
    ) -> None:
        """Attempt ``i`` goes from ``a`` to ``b`` and the venue emits ``msgs``; a decrease of its fills is a
        fault of ``filled_qty_monotonic_and_bounded``."""
        out.append((action, b, msgs, (*faults, *self._decrease(i, a, b)), tuple(log)))

    def _decrease(self, i: int, a: Attempt, b: Attempt) -> tuple[Fault, ...]:
        """``filled_qty_monotonic`` on attempt ``i`` going from ``a`` to ``b`` (when declared)."""
        inv = self.inv("order.model_check.filled_qty_monotonic")
        if inv is None or b is a or b.applied is a.applied:  # only a move of the fills can decrease them
            return ()
        return tuple(Fault(inv, d) for d in checks_module.filled_qty_monotonic(a, b, i + 1))

    def _commands(self, i: int, a: Attempt, out: list[Move], exits_allowed: bool) -> None:
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
                self._move(out, f"transport error on #{n}'s request", i, a, b, (), faults, log)
            elif event == "submit":
                opened = b._replace(venue=V_OPEN, vqty=a.qty, vfilled=0)
                self._move(out, f"submit #{n} (venue accepts)", i, a, opened, (Msg(i, "ack"),), faults, log)
                refused = b._replace(venue=REJECTED, vqty=a.qty)
                self._move(
                    out, f"submit #{n} (venue rejects)", i, a, refused, (Msg(i, "reject"),), faults, log
                )
                self._move(out, f"submit #{n} (request lost)", i, a, b, (), faults, log)
            else:
                self._cancel(i, a, b, faults, log, out)
        truth = "lookup_absent" if a.venue == V_NONE else "lookup_found"
        if self.conditional and a.local == UNKNOWN and triggered_at_venue(a):
            faults, log = [], []
            b = self.learn_trigger(a, i, faults, log)  # the lookup finds it triggered
            self._move(out, f"lookup #{n} (finds it triggered)", i, a, b, (), faults, log)
        elif (a.local, truth) in self.machine.rows_for:
            faults, log = [], []
            b = self.fire(a, i, truth, ctx, faults, log)
            self._move(out, f"lookup #{n}", i, a, b, (), faults, log)

    def _cancel(
        self, i: int, a: Attempt, b: Attempt, faults: list[Fault], log: list[str], out: list[Move]
    ) -> None:
        """The venue's answers to a ``cancel_request`` on attempt ``i`` (``b``: the machine took it)."""
        n = i + 1
        confirm = Msg(i, "cancel_confirmed")
        if b.venue == V_OPEN and self.conditional:
            label = f"cancel #{n} (venue cancels)"
            self._move(out, label, i, a, b._replace(venue=CANCELED), (confirm,), faults, log)
            raced = b._replace(venue=V_TRIG)
            label = f"cancel #{n} (the venue triggers it first, then rejects the cancel)"
            self._move(out, label, i, a, raced, (Msg(i, TRIGGER), Msg(i, "cancel_rejected")), faults, log)
        elif b.venue == V_OPEN:
            label = f"cancel #{n} (venue cancels)"
            self._move(out, label, i, a, b._replace(venue=CANCELED), (confirm,), faults, log)
            raced = b._replace(venue=FILLED, vfilled=b.vqty)
            fills = tuple(Msg(i, FILL, u) for u in range(b.vfilled + 1, b.vqty + 1))
            label = f"cancel #{n} (the venue fills the rest, then confirms the cancel)"
            self._move(out, label, i, a, raced, (*fills, confirm), faults, log)
        else:
            label = f"cancel #{n} (venue: cancel_rejected, order {b.venue})"
            self._move(out, label, i, a, b, (Msg(i, "cancel_rejected"),), faults, log)
        self._move(out, f"cancel #{n} (request lost)", i, a, b, (), faults, log)

    def _venue_moves(self, i: int, a: Attempt, out: list[Move]) -> None:
        n = i + 1

        def move(action: str, c: Attempt, msg: Msg) -> None:
            self._move(out, f"venue {action} #{n}", i, a, c, (msg,), [], [])

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

    def _delivered(self, i: int, a: Attempt, m: Msg) -> tuple[Attempt, tuple[Fault, ...], tuple[str, ...]]:
        """Report ``m`` delivered to attempt ``i`` (:meth:`deliver`): the attempt after it, the faults (a
        decrease of its fills included), the log."""
        faults: list[Fault] = []
        log: list[str] = []
        b = self.deliver(a, i, m, faults, log)
        return b, (*faults, *self._decrease(i, a, b)), tuple(log)

    def _whole_moves(self, attempts: tuple[Attempt, ...]) -> tuple[WholeMove, ...]:
        """The moves of the whole intent, in this order: a resubmission (a new attempt, only when every
        attempt is terminal, for what the venue has not filled: :meth:`resubmit_quantity`), a restart
        (conditional orders: the channel and the trigger links not journaled are lost), a reconcile cycle
        (when some attempt disagrees with the venue)."""
        out: list[WholeMove] = []
        terminal = self.machine.terminal
        if len(attempts) < MAX_ATTEMPTS and all(a.local in terminal for a in attempts):
            remaining = self.resubmit_quantity(attempts)
            if remaining > 0:
                inv = self.inv("order.model_check.unknown_resolved_before_resubmit")
                faults: tuple[Fault, ...] = ()
                if inv is not None:
                    bad = checks_module.unknown_resolved_before_resubmit(attempts)
                    faults = tuple(Fault(inv, d) for d in bad)
                new = Attempt(self.machine.initial, remaining, (), False, V_NONE, remaining, 0)
                label = f"resubmit: attempt #{len(attempts) + 1} for {remaining}"
                out.append((label, (*attempts, new), faults, True))
        if self.conditional:
            restarted = tuple(
                a._replace(linked=False) if a.linked and a.local != TRIGGERED else a for a in attempts
            )
            label = "restart (the reports in flight and the trigger links not journaled are lost)"
            out.append((label, restarted, (), False))
        if not all(self.agrees(a) for a in attempts):
            world, label, faults = self.reconcile(World(attempts, ()))
            after = world.attempts
            decreased = (
                f
                for i, (a, b) in enumerate(zip(attempts, after, strict=True))
                for f in self._decrease(i, a, b)
            )
            out.append((label, after, (*faults, *decreased), True))
        return tuple(out)


def _channel_ops(channel: tuple[Msg, ...]) -> tuple[ChannelOp, ...]:
    """For each distinct report in flight: the report, the channel without it, the channel with it twice (None
    when full), the labels of delivering, losing and duplicating it."""
    out = []
    for m in dict.fromkeys(channel):
        more = tuple(sorted((*channel, m))) if len(channel) < CHANNEL_BOUND else None
        text = render_msg(m)
        out.append(
            (
                m,
                remove(channel, m),
                more,
                f"deliver {text}",
                f"channel loses {text}",
                f"channel duplicates {text}",
            )
        )
    return tuple(out)
