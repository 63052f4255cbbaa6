"""Property checkers of the risk posture (``specs/posture.toml``): a :class:`PostureController` and the
``posture.changed`` events it emitted, compared with the targets the test computed from the debt after every
update."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from eclipse.machines.checkers import register
from eclipse.machines.posture import KNOBS, LEVEL, Posture, PostureController

__all__ = [
    "escalation_immediate",
    "never_blocks_exits_or_protection",
    "no_flapping",
    "red_lock_critical_streak",
    "warmup_before_normal",
]


@register("posture.property.never_blocks_exits_or_protection")
def never_blocks_exits_or_protection(ctl: PostureController) -> list[str]:
    """never_blocks_exits_or_protection: exits and protection are allowed in the current posture."""
    knobs = ctl.knobs()
    ok = ctl.exits_allowed() and ctl.protection_allowed() and knobs.exits_allowed and knobs.protection_allowed
    return [] if ok else [f"{ctl.posture}: exits or protection blocked"]


@register("posture.property.escalation_immediate")
def escalation_immediate(ctl: PostureController, target: Posture) -> list[str]:
    """escalation_immediate: after an update the knobs are at least as strict as the target level's."""
    if ctl.knobs().at_least_as_strict_as(KNOBS[target]):
        return []
    return [f"posture {ctl.posture} is looser than the target {target}"]


@register("posture.property.warmup_before_normal")
def warmup_before_normal(
    src: Posture, dst: Posture, now_ms: int, last_change_ms: int, warmup_ms: int
) -> list[str]:
    """warmup_before_normal: RED_LOCK leaves only to POST_RED_WARMUP, which reaches a normal level only
    ``warmup_ms`` after it was entered."""
    out = []
    if src is Posture.RED_LOCK and dst is not Posture.POST_RED_WARMUP:
        out.append(f"RED_LOCK -> {dst}")
    if src is Posture.POST_RED_WARMUP and dst is not Posture.RED_LOCK and now_ms - last_change_ms < warmup_ms:
        out.append(f"POST_RED_WARMUP -> {dst} after {now_ms - last_change_ms} ms of {warmup_ms}")
    return out


@register("posture.property.no_flapping", reads=("step_down_levels",))
def no_flapping(
    src: Posture,
    dst: Posture,
    now_ms: int,
    last_change_ms: int,
    targets: Sequence[tuple[int, Posture]],
    hysteresis_ms: int,
    step: int,
) -> list[str]:
    """no_flapping: a step down (relax, release) is ``step`` level(s), at least ``hysteresis_ms`` after the
    previous change, and every update of the preceding window saw the target below the level."""
    down = src is Posture.RED_LOCK or (src in LEVEL and dst in LEVEL and LEVEL[dst] < LEVEL[src])
    if not down:
        return []
    out = []
    if src in LEVEL and dst in LEVEL and LEVEL[src] - LEVEL[dst] != step:
        out.append(f"{src} -> {dst}: a step down is {step} level(s)")
    if now_ms - last_change_ms < hysteresis_ms:
        out.append(f"{src} -> {dst} {now_ms - last_change_ms} ms after the previous change")
    calm_since = now_ms
    for ts, t in reversed(targets):
        if LEVEL[t] >= LEVEL[src]:
            break
        calm_since = ts
    if now_ms - calm_since < hysteresis_ms:
        out.append(f"{src} -> {dst} after only {now_ms - calm_since} ms of calm updates")
    return out


@register("posture.property.red_lock_critical_streak")
def red_lock_critical_streak(
    ctl: PostureController, streak: int, threshold: int, critical: Sequence[Mapping[str, object]] | None
) -> list[str]:
    """red_lock_critical_streak: the controller counts the RED_LOCK entries since the last completed warmup
    as the test did (``streak``), and a RED_LOCK entry emitted ``posture.red_lock_critical`` (``critical``:
    the events it emitted; None when the update entered no RED_LOCK) exactly when the streak reached
    ``threshold``."""
    out = []
    if ctl.red_lock_streak != streak:
        out.append(f"red_lock_streak {ctl.red_lock_streak}, the test counted {streak}")
    if critical is not None:
        if bool(critical) != (streak >= threshold):
            out.append(f"streak {streak} (threshold {threshold}): critical events {list(critical)}")
        if critical and critical[0].get("streak") != streak:
            out.append(
                f"posture.red_lock_critical reports streak {critical[0].get('streak')}, it is {streak}"
            )
    return out
