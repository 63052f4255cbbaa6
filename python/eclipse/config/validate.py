"""Validate a whole configuration at once: every knob, every per-symbol override, the checks that span
several knobs, and what a live start needs, collected as a list of :class:`ConfigProblem` instead of stopping
at the first bad knob.

Per-symbol overrides (``LEVERAGE_BTCUSDT``, ``FIXED_NOTIONAL_USDT_DOGE``, ``EXIT_MAX_HOLD_SEC_DOGE``): the
settings loaders silently skip a suffix that is not letters and digits, and apply one that names no traded
symbol to nothing, so a typo there changes sizing without a word. The decisions taken here:

* the suffix must look like a symbol or base asset: upper-case letters and digits, at least one letter,
  2-20 characters (``LEVERAGE_btc``, ``LEVERAGE_BTC_USDT``, ``LEVERAGE_5`` are problems);
* a suffix naming a *known* symbol is accepted: the symbol keys and base assets of ``ACTIVE_SYMBOLS`` (set or
  default), ``FIRST_LIVE_SYMBOLS``, ``CORR_GROUPS`` and ``LEVERAGE_BY_SYMBOL``, and a short list of widely
  traded base assets (:data:`COMMON_BASES`);
* otherwise a near-miss is a problem: of a registered knob sharing the base (``LEVERAGE_MAXX`` ->
  ``LEVERAGE_MAX``) or of a known symbol / base asset (``FIXED_NOTIONAL_USDT_DOGEE`` -> ``..._DOGE``);
* any other suffix is accepted: an override kept for a symbol not traded today is legitimate.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from eclipse.config.checklist import is_live, missing_live_limits
from eclipse.config.names import (
    PARAM_OF_NAME,
    canonical,
    has_project_prefix,
    is_known,
    split_suffix,
    suggest,
)
from eclipse.config.problems import (
    ConfigProblem,
    dedupe,
    masked,
    problem_from_error,
    unknown_name,
)
from eclipse.config.registry import PROFILES, REGISTRY, get_param
from eclipse.config.settings import load_param, load_strategy_settings, lookup_env
from eclipse.errors import ConfigError
from eclipse.execution.engine_settings import EngineSettings
from eclipse.execution.entries.values import CorrGroups, NamedNumbers, base_asset, symbol_key
from eclipse.reliability.guards import GuardSettings
from eclipse.reliability.settings import ReliabilitySettings
from eclipse.venues.ccxt_factory import load_venue_settings
from eclipse.venues.credentials import ENV_NAMES

__all__ = ["COMMON_BASES", "resolve_profile", "validate"]

COMMON_BASES: frozenset[str] = frozenset(
    {"BTC", "ETH", "BNB", "SOL", "XRP", "DOGE", "ADA", "TRX", "AVAX", "LINK", "DOT", "LTC", "BCH", "SHIB"}
    | {"PEPE", "TON", "SUI", "NEAR", "APT", "ARB", "OP", "MATIC", "POL", "UNI", "ATOM", "ETC", "FIL", "XLM"}
    | {"WIF", "BONK"}
)
"""Widely traded base assets a suffix is compared with even when no knob names them."""

_SUFFIX_SHAPE = re.compile(r"^(?=.*[A-Z])[A-Z0-9]{2,20}$")
_SYMBOL_CUTOFF = 0.8
_MAX_ROUNDS = 25
_NAME_IN_TEXT = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
_QUOTE = "USDT"


def resolve_profile(env: Mapping[str, str], profile: str | None = None) -> str:
    """``profile`` when given, else the run profile ``SCALPER_MODE`` (``micro`` when it is invalid)."""
    if profile is not None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
        return profile
    try:
        return str(load_param(env, "SCALPER_MODE"))
    except ConfigError:
        return "micro"


def validate(
    env: Mapping[str, str], profile: str | None = None, *, origin: Mapping[str, str] | None = None
) -> list[ConfigProblem]:
    """Every problem of ``env`` (a mapping as :func:`~eclipse.config.sources.load_config` builds it, or any
    environment-like mapping), each variable reported once.

    ``profile`` gives the defaults (None: ``SCALPER_MODE``); ``origin`` maps a variable to where it came
    from, for the problems' ``source``. Unknown names with a project prefix are problems (other unknown names
    are ignored); then each knob's value, each per-symbol override (see the module docstring), the settings
    loaders' cross-knob checks, and, when ``SCALPER_DRY_RUN=0``, the API keys and the live risk limits.
    """
    prof = resolve_profile(env, profile)

    def source(name: str) -> str:
        spellings = [n for n in _spellings(name) if n in env]
        if not spellings:
            return "default"
        return origin.get(spellings[0], "") if origin is not None else ""

    problems: list[ConfigProblem] = []
    bad: set[str] = set()
    for name in sorted(env):
        if not is_known(name) and has_project_prefix(name):
            problems.append(unknown_name(name, env[name], source(name), suggest(name)))
            bad.add(name)
    for param in REGISTRY:
        try:
            hit = lookup_env(env, param)
            if hit is not None:
                param.parse(hit[1], source=hit[0])
        except ConfigError as exc:
            problems.append(problem_from_error(exc, source(exc.knob)))
            bad.update(n for n in (param.name, *param.aliases) if n in env)
    symbol_keys = _symbol_keys(env, prof)
    for name in sorted(env):
        split = split_suffix(name)
        if split is None or not env[name].strip():
            continue
        problem = _check_suffix(name, env[name], split, symbol_keys, source(name))
        if problem is not None:
            problems.append(problem)
            bad.add(name)
    clean = {k: v for k, v in env.items() if k not in bad and is_known(k)}
    loaders: tuple[Callable[[Mapping[str, str]], object], ...] = (
        lambda e: EngineSettings.load(e, prof),
        load_strategy_settings,
        load_venue_settings,
        lambda e: ReliabilitySettings.load(e, prof),
        lambda e: GuardSettings.load(e, prof),
    )
    for loader in loaders:
        problems.extend(_loader_problems(loader, clean, source))
    if is_live(clean):
        problems.extend(_live_problems(clean, source))
    return list(dedupe(problems))


def _spellings(name: str) -> tuple[str, ...]:
    param = PARAM_OF_NAME.get(name)
    return (param.name, *param.aliases) if param is not None else (name,)


def _symbol_keys(env: Mapping[str, str], profile: str) -> frozenset[str]:
    """Symbol keys and base assets named by the configuration (values that do not parse are skipped)."""
    symbols: list[str] = []
    for name in ("ACTIVE_SYMBOLS", "FIRST_LIVE_SYMBOLS", "CORR_GROUPS", "LEVERAGE_BY_SYMBOL"):
        try:
            value: Any = load_param(env, name, profile)
        except ConfigError:
            continue
        if isinstance(value, CorrGroups):
            symbols.extend(s for _, members in value.groups for s in members)
        elif isinstance(value, NamedNumbers):
            symbols.extend(value.keys)
        elif isinstance(value, tuple):
            symbols.extend(str(s) for s in value)
    return frozenset(k for s in symbols for k in (symbol_key(s), base_asset(s)))


def _check_suffix(
    name: str, raw: str, split: tuple[str, str], traded: frozenset[str], source: str
) -> ConfigProblem | None:
    base, suffix = split
    shape = f"{base}_<SYMBOL> with a symbol like BTCUSDT or a base asset like DOGE (letters and digits)"
    sibling = suggest(name)
    if not _SUFFIX_SHAPE.match(suffix):
        return ConfigProblem(name, masked(name, raw), shape, source, sibling)
    known = traded | COMMON_BASES | {b + _QUOTE for b in COMMON_BASES}
    if suffix not in known:
        if sibling is not None and sibling != name:
            return unknown_name(name, raw, source, sibling)
        near = _near_symbol(suffix, known)
        if near is not None:
            expected = f"{base}_<SYMBOL> naming a known symbol or base asset ({suffix} is close to {near})"
            return ConfigProblem(name, masked(name, raw), expected, source, f"{base}_{near}")
    try:
        get_param(base).parse(raw, source=name)
    except ConfigError as exc:
        return problem_from_error(exc, source)
    return None


def _near_symbol(suffix: str, known: Iterable[str]) -> str | None:
    candidates = sorted(known)
    for probe in dict.fromkeys((suffix, base_asset(suffix))):
        found = difflib.get_close_matches(probe, candidates, n=1, cutoff=_SYMBOL_CUTOFF)
        if found:
            return found[0]
    return None


def _loader_problems(
    loader: Callable[[Mapping[str, str]], object], clean: Mapping[str, str], source: Callable[[str], str]
) -> list[ConfigProblem]:
    """Run a settings loader, and again without each knob it refuses, to collect every cross-knob problem
    (a loader stops at its first)."""
    work = dict(clean)
    found: list[ConfigProblem] = []
    for _ in range(_MAX_ROUNDS):
        try:
            loader(work)
            break
        except ConfigError as exc:
            found.append(problem_from_error(exc, source(exc.knob)))
            # drop the refused knob; when it has its default, the knobs the message names instead
            dropped = [n for n in {*_spellings(canonical(exc.knob)), exc.knob} if n in work]
            if not dropped:
                named = {canonical(m) for m in _NAME_IN_TEXT.findall(exc.expected)}
                dropped = [n for n in work if canonical(n) in named]
            if not dropped:
                break
            for n in dropped:
                del work[n]
        except Exception as exc:  # a loader bug must not end validation in a traceback
            expected = f"settings the engine accepts ({type(exc).__name__}: {exc})"
            found.append(ConfigProblem("(settings)", "", expected))
            break
    return found


def _live_problems(env: Mapping[str, str], source: Callable[[str], str]) -> list[ConfigProblem]:
    """API keys and risk limits a live start (``SCALPER_DRY_RUN=0``) needs."""
    found: list[ConfigProblem] = []
    try:
        venue = load_venue_settings(env)
    except ConfigError:
        venue = None
    names = ENV_NAMES.get(venue.exchange_id) if venue is not None and venue.adapter != "sim" else None
    if names is not None and venue is not None:
        for var, what in ((names.api_key, "key"), (names.secret, "secret")):
            if not env.get(var, "").strip():
                expected = (
                    f"the {names.label} API {what} for live trading on {venue.adapter} (in the environment "
                    "or .env), or SCALPER_DRY_RUN=1"
                )
                found.append(ConfigProblem(var, "", expected, "default"))
    for knob in missing_live_limits(env):
        hit = lookup_env(env, get_param(knob)) if knob in env else None
        if knob == "FIRST_LIVE_SYMBOLS":
            expected = "an explicit allowlist like BTCUSDT while FIRST_LIVE_SAFE=1 on a live start"
        else:
            expected = f"a limit > 0 for a live start (SCALPER_DRY_RUN=0); {get_param(knob).doc}"
        found.append(ConfigProblem(knob, hit[1] if hit else "", expected, source(knob)))
    return found
