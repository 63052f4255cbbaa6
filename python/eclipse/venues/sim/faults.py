"""Fault injection for the exchange simulator: a seeded, declarative :class:`FaultPlan` and the
:class:`FaultInjector` that applies it (HTTP-level faults for the server, engine-level faults through the
:class:`~eclipse.venues.sim.model.EngineFaults` protocol, and listing faults for user-trade responses).

Plan JSON (every key optional)::

    {
      "seed": 7,                       # RNG seed (default: the server's --seed)
      "clock_skew_ms": 0,              # server clock offset: /time and the timestamp rule see it
      "stall": false,                  # market data stops advancing
      "random": [                      # each request rolls each matching rule (latency rules add up;
        {"on": "order_create", "fault": "unknown_503", "p": 0.05},   # the first other fault that fires wins)
        {"on": "*", "fault": "latency", "p": 1.0, "ms": 20, "jitter_ms": 10}
      ],
      "script": [                      # consumed in order by the next requests of the named class,
        {"on": "order_create", "fault": "unknown_503"},              # before any random rule
        {"on": "order_create", "fault": "lost_response", "hold_ms": 1500},
        {"on": "market_data", "fault": "http_429", "count": 3, "retry_after_s": 2}
      ],
      "engine": {"partial_fills": {"p": 1.0, "slices": 3, "interval_ms": 500},
                 "cancel_race": {"p": 0.5}, "reduce_only_shrink": {"p": 1.0, "ratio": 0.5}},
      "trades": {"duplicate": 0.2, "missing": 0.1, "out_of_order": 0.3}
    }

Endpoint classes: ``order_create``, ``order_cancel``, ``order_query`` (order lookups, open orders, user
trades), ``market_data``, ``account`` (balances, positions, leverage, margin mode) and ``*`` (any).
The injector's state (RNG included) is a pure function of the seed and the sequence of requests.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from eclipse.venues.sim.model import OrderView

__all__ = [
    "ENDPOINT_CLASSES",
    "Decision",
    "EngineFaultPlan",
    "Fault",
    "FaultInjector",
    "FaultPlan",
    "FaultSpec",
    "RandomRule",
    "ScriptStep",
    "TradeListFaults",
    "load_fault_plan",
]

ENDPOINT_CLASSES = ("order_create", "order_cancel", "order_query", "market_data", "account")
_ANY = "*"
T = TypeVar("T")


class Fault(StrEnum):
    """One HTTP-level fault. ``processed`` faults act after the request was executed."""

    LATENCY = "latency"  # extra delay (ms + uniform 0..jitter_ms), then normal processing
    UNKNOWN_503 = "unknown_503"  # executed, then 503 {"msg": "Unknown error, ..."} without a code
    UNKNOWN_1006 = "unknown_1006"  # executed, then 503 with code -1006 (execution status unknown)
    UNKNOWN_1007 = "unknown_1007"  # executed, then 503 with code -1007 (backend timeout, status unknown)
    LOST_RESPONSE = "lost_response"  # executed; connection kept silent for hold_ms, then closed
    LOST_REQUEST = "lost_request"  # not executed; connection kept silent for hold_ms, then closed
    UNAVAILABLE_503 = "unavailable_503"  # not executed; 503 {"msg": "Service Unavailable."}
    INTERNAL_ERROR = "internal_error"  # not executed; 503 with code -1001 (safe to resend)
    HTTP_429 = "http_429"  # not executed; 429 -1003 with Retry-After
    HTTP_418 = "http_418"  # not executed; 418 IP ban with Retry-After
    THROTTLED_1008 = "throttled_1008"  # not executed (reduce-only / close-position exempt); 503 -1008

    @property
    def processed(self) -> bool:
        """True when the request is executed before the fault hits (outcome unknown to the client)."""
        return self in _PROCESSED


_PROCESSED = frozenset({Fault.UNKNOWN_503, Fault.UNKNOWN_1006, Fault.UNKNOWN_1007, Fault.LOST_RESPONSE})


# upper bounds of the plan's numbers (a finite, sane range: no overflow, no day-long sleeps or huge loops)
_MAX_MS = 86_400_000  # latency, jitter, hold, slice interval: at most a day
_MAX_RETRY_S = 259_200  # Retry-After: at most 3 days (Binance's longest IP ban)
_MAX_COUNT = 1_000_000  # script step repetitions
_MAX_SLICES = 1_000  # partial-fill slices
_MAX_SKEW_MS = 365 * 86_400_000  # clock skew: at most a year either way


def _num(raw: Mapping[str, Any], key: str, default: float, lo: float, hi: float, where: str = "") -> float:
    value = raw.get(key, default)
    name = f"{where}.{key}" if where else key
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be {lo:g}..{hi:g}, got {value}")
    return float(value)


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(raw) - allowed
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a JSON object, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A fault and its knobs (``hold_ms`` None = the server's default)."""

    fault: Fault
    ms: int = 0
    jitter_ms: int = 0
    hold_ms: int | None = None
    retry_after_s: int = 1

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str) -> FaultSpec:
        """Parse the fault keys of a rule or step."""
        name = raw.get("fault")
        known = [f.value for f in Fault]
        if name is None:
            raise ValueError(f'{where}: missing "fault"; known faults: {known}')
        try:
            fault = Fault(str(name))
        except ValueError:
            raise ValueError(f"{where}: unknown fault {name!r}; known: {known}") from None
        hold = raw.get("hold_ms")
        return cls(
            fault,
            int(_num(raw, "ms", 0, 0, _MAX_MS, where)),
            int(_num(raw, "jitter_ms", 0, 0, _MAX_MS, where)),
            None if hold is None else int(_num(raw, "hold_ms", 0, 0, _MAX_MS, where)),
            int(_num(raw, "retry_after_s", 1, 0, _MAX_RETRY_S, where)),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        out: dict[str, Any] = {"fault": self.fault.value}
        if self.fault is Fault.LATENCY:
            out |= {"ms": self.ms, "jitter_ms": self.jitter_ms}
        if self.hold_ms is not None:
            out["hold_ms"] = self.hold_ms
        if self.fault in (Fault.HTTP_429, Fault.HTTP_418):
            out["retry_after_s"] = self.retry_after_s
        return out


def _endpoint_class(raw: Mapping[str, Any], where: str) -> str:
    on = raw.get("on", _ANY)
    if on != _ANY and on not in ENDPOINT_CLASSES:
        raise ValueError(f"{where}: unknown endpoint class {on!r}; known: {[*ENDPOINT_CLASSES, _ANY]}")
    return str(on)


_SPEC_KEYS = {"fault", "ms", "jitter_ms", "hold_ms", "retry_after_s", "on"}


@dataclass(frozen=True, slots=True)
class RandomRule:
    """Inject ``spec`` into a request of class ``on`` with probability ``p``."""

    on: str
    spec: FaultSpec
    p: float

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str) -> RandomRule:
        """Parse one ``random`` entry."""
        _check_keys(raw, _SPEC_KEYS | {"p"}, where)
        return cls(
            _endpoint_class(raw, where), FaultSpec.from_dict(raw, where), _num(raw, "p", 1.0, 0, 1, where)
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"on": self.on, **self.spec.to_dict(), "p": self.p}


@dataclass(frozen=True, slots=True)
class ScriptStep:
    """Inject ``spec`` into the next ``count`` requests of class ``on``."""

    on: str
    spec: FaultSpec
    count: int = 1

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str) -> ScriptStep:
        """Parse one ``script`` entry."""
        _check_keys(raw, _SPEC_KEYS | {"count"}, where)
        return cls(
            _endpoint_class(raw, where),
            FaultSpec.from_dict(raw, where),
            int(_num(raw, "count", 1, 1, _MAX_COUNT, where)),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"on": self.on, **self.spec.to_dict(), "count": self.count}


@dataclass(frozen=True, slots=True)
class EngineFaultPlan:
    """Faults inside the matching engine: fills split into ``slices`` ``interval_ms`` apart, cancels that
    lose the race against a fill, reduce-only quantities cut to ``shrink_ratio`` of what was asked."""

    partial_p: float = 0.0
    slices: int = 3
    interval_ms: int = 500
    cancel_race_p: float = 0.0
    shrink_p: float = 0.0
    shrink_ratio: float = 0.5

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> EngineFaultPlan:
        """Parse the ``engine`` object."""
        _check_keys(raw, {"partial_fills", "cancel_race", "reduce_only_shrink"}, "engine")
        part = _mapping(raw.get("partial_fills", {}), "engine.partial_fills")
        race = _mapping(raw.get("cancel_race", {}), "engine.cancel_race")
        shrink = _mapping(raw.get("reduce_only_shrink", {}), "engine.reduce_only_shrink")
        _check_keys(part, {"p", "slices", "interval_ms"}, "engine.partial_fills")
        _check_keys(race, {"p"}, "engine.cancel_race")
        _check_keys(shrink, {"p", "ratio"}, "engine.reduce_only_shrink")
        return cls(
            _num(part, "p", 1.0 if part else 0.0, 0, 1, "engine.partial_fills"),
            int(_num(part, "slices", 3, 2, _MAX_SLICES, "engine.partial_fills")),
            int(_num(part, "interval_ms", 500, 0, _MAX_MS, "engine.partial_fills")),
            _num(race, "p", 1.0 if race else 0.0, 0, 1, "engine.cancel_race"),
            _num(shrink, "p", 1.0 if shrink else 0.0, 0, 1, "engine.reduce_only_shrink"),
            _num(shrink, "ratio", 0.5, 0.0, 1.0, "engine.reduce_only_shrink"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "partial_fills": {"p": self.partial_p, "slices": self.slices, "interval_ms": self.interval_ms},
            "cancel_race": {"p": self.cancel_race_p},
            "reduce_only_shrink": {"p": self.shrink_p, "ratio": self.shrink_ratio},
        }


@dataclass(frozen=True, slots=True)
class TradeListFaults:
    """Per-response probabilities of a duplicated, a missing, and shuffled entries in user-trade lists."""

    duplicate: float = 0.0
    missing: float = 0.0
    out_of_order: float = 0.0

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TradeListFaults:
        """Parse the ``trades`` object."""
        _check_keys(raw, {"duplicate", "missing", "out_of_order"}, "trades")
        return cls(
            _num(raw, "duplicate", 0, 0, 1, "trades"),
            _num(raw, "missing", 0, 0, 1, "trades"),
            _num(raw, "out_of_order", 0, 0, 1, "trades"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"duplicate": self.duplicate, "missing": self.missing, "out_of_order": self.out_of_order}


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """A complete, immutable fault plan (see the module docstring for the JSON form)."""

    seed: int | None = None
    clock_skew_ms: int = 0
    stall: bool = False
    random: tuple[RandomRule, ...] = ()
    script: tuple[ScriptStep, ...] = ()
    engine: EngineFaultPlan = field(default_factory=EngineFaultPlan)
    trades: TradeListFaults = field(default_factory=TradeListFaults)

    @classmethod
    def from_dict(cls, raw: object) -> FaultPlan:
        """Parse and validate a plan; ValueError naming the offending key."""
        plan = _mapping(raw, "fault plan")
        _check_keys(
            plan, {"seed", "clock_skew_ms", "stall", "random", "script", "engine", "trades"}, "fault plan"
        )
        seed = plan.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        skew = plan.get("clock_skew_ms", 0)
        if isinstance(skew, bool) or not isinstance(skew, int):
            raise ValueError(f"clock_skew_ms must be an integer, got {skew!r}")
        if abs(skew) > _MAX_SKEW_MS:
            raise ValueError(f"clock_skew_ms must be within +-{_MAX_SKEW_MS}, got {skew}")
        rules, steps = plan.get("random", []), plan.get("script", [])
        if not isinstance(rules, list) or not isinstance(steps, list):
            raise ValueError("random and script must be JSON arrays")
        stall = plan.get("stall", False)
        if not isinstance(stall, bool):
            raise ValueError(f"stall must be true or false, got {stall!r}")
        return cls(
            seed,
            skew,
            stall,
            tuple(
                RandomRule.from_dict(_mapping(r, f"random[{i}]"), f"random[{i}]") for i, r in enumerate(rules)
            ),
            tuple(
                ScriptStep.from_dict(_mapping(s, f"script[{i}]"), f"script[{i}]") for i, s in enumerate(steps)
            ),
            EngineFaultPlan.from_dict(_mapping(plan.get("engine", {}), "engine")),
            TradeListFaults.from_dict(_mapping(plan.get("trades", {}), "trades")),
        )

    @classmethod
    def from_json(cls, text: str, source: str = "fault plan") -> FaultPlan:
        """Parse a plan from JSON text; ValueError naming ``source`` and where the JSON breaks."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source} is not valid JSON: {_json_error(exc)}") from None
        return cls.from_dict(raw)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "seed": self.seed,
            "clock_skew_ms": self.clock_skew_ms,
            "stall": self.stall,
            "random": [r.to_dict() for r in self.random],
            "script": [s.to_dict() for s in self.script],
            "engine": self.engine.to_dict(),
            "trades": self.trades.to_dict(),
        }


def _json_error(exc: json.JSONDecodeError) -> str:
    """``exc``'s message with the text around the failing position (one line)."""
    start = max(0, exc.pos - 20)
    near = exc.doc[start : exc.pos + 20].replace("\n", " ")
    return f"{exc.msg} at line {exc.lineno} column {exc.colno} (near {near!r})"


_JSON_START = ("{", "[", '"')


def load_fault_plan(text_or_path: str) -> FaultPlan:
    """A plan from inline JSON (starts with ``{``) or from a JSON file path; ValueError saying whether the
    inline JSON does not parse (and where), the file is missing or unreadable, or the plan is invalid."""
    text = text_or_path.strip()
    if not text:
        raise ValueError("fault plan is empty: give a JSON file path or inline JSON like '{\"stall\": true}'")
    if text.startswith(_JSON_START):
        return FaultPlan.from_json(text, "inline fault plan")
    path = Path(text)
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(
            f"cannot read fault plan {text!r}: no such file, and not inline JSON either (inline JSON is an "
            "object starting with '{', e.g. '{\"stall\": true}')"
        ) from None
    except IsADirectoryError:
        raise ValueError(f"cannot read fault plan {path}: is a directory, expected a JSON file") from None
    except OSError as exc:
        raise ValueError(f"cannot read fault plan {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"cannot read fault plan {path}: not a UTF-8 text file") from None
    return FaultPlan.from_json(content, f"fault plan file {path}")


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one request: ``delay_ms`` extra latency and at most one non-latency ``spec``."""

    delay_ms: int = 0
    spec: FaultSpec | None = None


NO_FAULT = Decision()


class FaultInjector:
    """The live fault state: the plan, its RNG, the remaining script and counters of what was injected.

    Implements the :class:`~eclipse.venues.sim.model.EngineFaults` protocol. ``step_of(symbol)`` gives the
    quantity step used to round a shrunk reduce-only quantity down.
    """

    def __init__(
        self, plan: FaultPlan | None = None, seed: int = 0, step_of: Callable[[str], Decimal] | None = None
    ) -> None:
        self._base_seed = seed
        self._step_of = step_of
        self.injected: Counter[str] = Counter()
        self.install(plan or FaultPlan())

    def install(self, plan: FaultPlan) -> None:
        """Replace the plan; the RNG restarts from the plan's seed (or the server seed)."""
        self.plan = plan
        self._rng = random.Random(self._base_seed if plan.seed is None else plan.seed)
        self._queues: dict[str, deque[list[Any]]] = {}
        for step in plan.script:
            self._queues.setdefault(step.on, deque()).append([step.spec, step.count])
        self._latency = tuple(r for r in plan.random if r.spec.fault is Fault.LATENCY)
        self._others = tuple(r for r in plan.random if r.spec.fault is not Fault.LATENCY)
        self.injected.clear()
        self._idle = not plan.random and not plan.script

    def clear(self) -> None:
        """No faults at all (the server seed is kept)."""
        self.install(FaultPlan())

    @property
    def clock_skew_ms(self) -> int:
        """The server clock offset in ms."""
        return self.plan.clock_skew_ms

    def decide(self, endpoint_class: str) -> Decision:
        """The fault decision for the next request of ``endpoint_class`` (consumes script and RNG)."""
        if self._idle:
            return NO_FAULT
        delay = 0
        rng = self._rng
        for rule in self._latency:
            if rule.on in (_ANY, endpoint_class) and rng.random() < rule.p:
                delay += rule.spec.ms + (rng.randint(0, rule.spec.jitter_ms) if rule.spec.jitter_ms else 0)
        spec = self._next_scripted(endpoint_class)
        if spec is None:
            for rule in self._others:
                if rule.on in (_ANY, endpoint_class) and rng.random() < rule.p:
                    spec = rule.spec
                    break
        if spec is not None and spec.fault is Fault.LATENCY:
            delay += spec.ms + (rng.randint(0, spec.jitter_ms) if spec.jitter_ms else 0)
            spec = None
        if delay:
            self.injected["latency"] += 1
        if spec is not None:
            self.injected[spec.fault.value] += 1
        return Decision(delay, spec) if delay or spec else NO_FAULT

    def _next_scripted(self, endpoint_class: str) -> FaultSpec | None:
        for key in (endpoint_class, _ANY):
            queue = self._queues.get(key)
            if queue:
                head = queue[0]
                head[1] -= 1
                if head[1] <= 0:
                    queue.popleft()
                spec: FaultSpec = head[0]
                return spec
        return None

    def remaining_script(self) -> list[dict[str, Any]]:
        """The script steps not yet consumed (with their remaining counts)."""
        return [
            {"on": on, **spec.to_dict(), "count": count}
            for on, queue in self._queues.items()
            for spec, count in queue
        ]

    def describe(self) -> dict[str, Any]:
        """Plan, remaining script and injection counters (for ``GET /_sim/faults``)."""
        return {
            "plan": self.plan.to_dict(),
            "remaining_script": self.remaining_script(),
            "injected": dict(self.injected),
        }

    # --- user-trade listings -------------------------------------------------------------------------

    def mangle_trades(self, rows: list[T]) -> list[T]:
        """``rows`` with the plan's listing faults applied (a copy; the input is not changed)."""
        tf = self.plan.trades
        out = list(rows)
        if not out or (tf.duplicate == 0 and tf.missing == 0 and tf.out_of_order == 0):
            return out
        rng = self._rng
        if tf.missing and rng.random() < tf.missing:
            del out[rng.randrange(len(out))]
            self.injected["trades_missing"] += 1
        if out and tf.duplicate and rng.random() < tf.duplicate:
            i = rng.randrange(len(out))
            out.insert(i + 1, out[i])
            self.injected["trades_duplicate"] += 1
        if len(out) > 1 and tf.out_of_order and rng.random() < tf.out_of_order:
            before = list(out)
            rng.shuffle(out)
            if out == before:
                out.reverse()
            self.injected["trades_out_of_order"] += 1
        return out

    # --- EngineFaults protocol -----------------------------------------------------------------------

    def fill_slices(self, order: OrderView) -> tuple[int, int]:
        """(slices, ms between them) for an order about to fill."""
        ef = self.plan.engine
        if ef.partial_p > 0 and self._rng.random() < ef.partial_p:
            self.injected["partial_fills"] += 1
            return (ef.slices, ef.interval_ms)
        return (1, 0)

    def cancel_races_fill(self, order: OrderView) -> bool:
        """True: this cancel loses the race and the order fills first."""
        ef = self.plan.engine
        if ef.cancel_race_p > 0 and self._rng.random() < ef.cancel_race_p:
            self.injected["cancel_race"] += 1
            return True
        return False

    def reduce_only_shrink(self, order: OrderView) -> Decimal | None:
        """A smaller quantity for a new reduce-only order, or None."""
        ef = self.plan.engine
        if ef.shrink_p <= 0 or order.qty is None or not order.reduce_only:
            return None
        if self._rng.random() >= ef.shrink_p:
            return None
        qty = order.qty * Decimal(str(ef.shrink_ratio))
        step = self._step_of(order.symbol) if self._step_of is not None else None
        if step is not None and step > 0:
            qty = (qty / step).to_integral_value(rounding=ROUND_DOWN) * step
        if qty <= 0 or qty >= order.qty:
            return None
        self.injected["reduce_only_shrink"] += 1
        return qty
