"""The stop-breach cooldown: a breached stop blocks that symbol's entries for STOP_BREACH_COOLDOWN_SEC."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.guards_kit import guard_set

from eclipse.clock import SimClock
from eclipse.reliability.guards import GuardEvent, GuardSet, GuardSettings, GuardStateStore

T0 = 1_700_000_000_000
BASE = {"ENTRY_DATA_MAX_STALE_SEC": "0", "ANOMALY_GUARD_ENABLED": "0"}


def make(
    env: dict[str, str] | None = None, store: GuardStateStore | None = None
) -> tuple[GuardSet, SimClock]:
    return guard_set(T0, BASE, env, store)


def breach(clock: SimClock, symbol: str | None = "BTCUSDT") -> dict[str, object]:
    fields: dict[str, object] = {
        "event": "protection.stop_breached",
        "ts_ms": clock.now_ms(),
        "severity": "critical",
    }
    if symbol is not None:
        fields["symbol"] = symbol
    return fields


def cooldowns(events: list[GuardEvent]) -> list[dict[str, object]]:
    return [dict(e.fields) for e in events if e.name == "guard.breach_cooldown"]


def test_a_breach_blocks_that_symbol_for_the_cooldown() -> None:
    guards, clock = make()
    guards.observe(breach(clock, "BTC/USDT:USDT"))
    knobs = guards.knobs("BTCUSDT")
    assert knobs.code == "stop_breach_cooldown"
    assert knobs.exits_allowed
    assert knobs.protection_allowed
    assert not guards.knobs("ETHUSDT").entry_block
    assert not guards.knobs(None).entry_block
    until = T0 + 900_000
    assert cooldowns(guards.evaluate()) == [{"symbol": "BTCUSDT", "until_ms": until, "action": "start"}]
    [active] = guards.active()
    assert (active.guard, active.symbol, active.until_ms) == ("breach_cooldown", "BTCUSDT", until)
    clock.set_ms(until - 1)
    assert guards.knobs("BTCUSDT").entry_block
    clock.set_ms(until)
    assert not guards.knobs("BTCUSDT").entry_block
    assert cooldowns(guards.evaluate())[0]["action"] == "expired"


def test_a_new_breach_extends_the_cooldown() -> None:
    guards, clock = make({"STOP_BREACH_COOLDOWN_SEC": "60"})
    guards.observe(breach(clock))
    clock.advance(30)
    guards.observe(breach(clock))
    assert [c["action"] for c in cooldowns(guards.evaluate())] == ["start", "extend"]
    clock.advance(59)
    assert guards.knobs("BTCUSDT").entry_block


def test_a_breach_without_symbol_blocks_every_symbol() -> None:
    guards, clock = make()
    guards.observe(breach(clock, None))
    assert guards.knobs("ETHUSDT").code == "stop_breach_cooldown"
    assert guards.knobs(None).code == "stop_breach_cooldown"


def test_zero_is_off() -> None:
    guards, clock = make({"STOP_BREACH_COOLDOWN_SEC": "0"})
    guards.observe(breach(clock))
    assert not guards.knobs("BTCUSDT").entry_block
    assert guards.evaluate() == []


def test_lift() -> None:
    guards, clock = make()
    guards.observe(breach(clock))
    guards.observe(breach(clock, "ETHUSDT"))
    assert guards.lift("stop_breach_cooldown", "SOLUSDT") is False
    assert guards.lift("stop_breach_cooldown", "BTCUSDT") is True
    assert not guards.knobs("BTCUSDT").entry_block
    assert guards.knobs("ETHUSDT").entry_block
    assert guards.lift("stop_breach_cooldown") is True
    assert not guards.knobs("ETHUSDT").entry_block


def test_a_cooldown_survives_a_restart(tmp_path: Path) -> None:
    store = GuardStateStore(tmp_path / "guards.json")
    guards, clock = make(store=store)
    guards.observe(breach(clock))
    clock.advance(600)
    again = GuardSet(GuardSettings.load(BASE), clock, store)
    assert again.knobs("BTCUSDT").code == "stop_breach_cooldown"
    clock.advance(300)
    third = GuardSet(GuardSettings.load(BASE), clock, store)
    assert not third.knobs("BTCUSDT").entry_block
    assert third.active() == []
