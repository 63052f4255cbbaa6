"""The names a configuration may use: registry knobs and their aliases, per-symbol ``<KNOB>_<SYMBOL>``
suffix forms, and the venue credential variables; plus the project's name prefixes and "did you mean".

The prefix set is derived from the registry: the first word of every knob name (``SCALPER_``, ``ENTRY_``,
``EXIT_``, ``MAX_`` ...) plus the credential variables' (``BINANCE_``, ``COINBASE_``). An environment
variable with one of these prefixes that is not a known name is reported; any other unknown environment
variable is none of Eclipse's business.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from types import MappingProxyType

from eclipse.config.entry_knobs import SUFFIX_KNOBS
from eclipse.config.exit_knobs import SYMBOL_OVERRIDABLE
from eclipse.config.registry import REGISTRY, Param
from eclipse.venues.credentials import ENV_NAMES

__all__ = [
    "CREDENTIAL_NAMES",
    "PARAM_OF_NAME",
    "PROJECT_PREFIXES",
    "SUFFIX_BASES",
    "canonical",
    "has_project_prefix",
    "is_known",
    "is_secret_guess",
    "is_secret_name",
    "split_suffix",
    "suggest",
]

PARAM_OF_NAME: Mapping[str, Param] = MappingProxyType(
    {name: p for p in REGISTRY for name in (p.name, *p.aliases)}
)
"""Every registry spelling (name or alias) -> its knob."""

CREDENTIAL_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys(n for e in ENV_NAMES.values() for n in (e.api_key, e.secret, e.passphrase) if n)
)
"""The venues' API credential variables (secrets, never shown)."""

SUFFIX_BASES: tuple[str, ...] = tuple(
    sorted(dict.fromkeys((*SUFFIX_KNOBS, *SYMBOL_OVERRIDABLE)), key=len, reverse=True)
)
"""Knobs that accept a ``_<SYMBOL>`` suffix, longest first (so ``EXIT_STOP_LOSS_PCT`` wins over shorter)."""

PROJECT_PREFIXES: tuple[str, ...] = tuple(
    sorted({n.split("_", 1)[0] + "_" for n in (*(p.name for p in REGISTRY), *CREDENTIAL_NAMES)})
)
"""``SCALPER_``, ``ENTRY_``, ``EXIT_`` ...: the first word of every knob and credential name."""

_SECRET_WORDS = re.compile(r"KEY|SECR|TOK|PASS|PHRASE|PRIV|AUTH|CRED|API")
_SUGGEST_CUTOFF = 0.8
_SIBLING_CUTOFF = 0.85


def canonical(name: str) -> str:
    """The knob a spelling stands for (an alias -> its knob); other names are returned unchanged."""
    param = PARAM_OF_NAME.get(name)
    return param.name if param is not None else name


def split_suffix(name: str) -> tuple[str, str] | None:
    """``(base knob, suffix)`` when ``name`` is written like a per-symbol override (``LEVERAGE_BTCUSDT`` ->
    ``("LEVERAGE", "BTCUSDT")``) and is not itself a registered name; the suffix is not judged here."""
    if name in PARAM_OF_NAME:
        return None
    for base in SUFFIX_BASES:
        if name.startswith(base + "_") and len(name) > len(base) + 1:
            return base, name[len(base) + 1 :]
    return None


def is_known(name: str) -> bool:
    """True for a registry name or alias, a suffix form of a suffix knob, or a credential variable."""
    return name in PARAM_OF_NAME or name in CREDENTIAL_NAMES or split_suffix(name) is not None


def has_project_prefix(name: str) -> bool:
    """True when ``name`` starts with one of :data:`PROJECT_PREFIXES`."""
    return name.startswith(PROJECT_PREFIXES)


def is_secret_name(name: str) -> bool:
    """True for a secret knob, a credential variable, or a name that reads like one (``..._KEY``, ``TOKEN``):
    the value of such a name is never shown, even when the name itself is unknown."""
    param = PARAM_OF_NAME.get(name)
    if param is not None:
        return param.secret
    return name in CREDENTIAL_NAMES or bool(_SECRET_WORDS.search(name.upper()))


def is_secret_guess(name: str, suggestion: str | None) -> bool:
    """:func:`is_secret_name` for an unknown name: also true when the name it was probably meant as is."""
    return is_secret_name(name) or (suggestion is not None and is_secret_name(suggestion))


def suggest(name: str) -> str | None:
    """The known name ``name`` most likely meant (case slip or a close spelling), or None.

    A per-symbol form is compared only with the registered names that share its base (``LEVERAGE_MAXX`` ->
    ``LEVERAGE_MAX``), never with the base itself (``LEVERAGE_DOGE`` is not a misspelled ``LEVERAGE``).
    """
    upper = name.upper()
    if upper != name and is_known(upper):
        return upper
    split = split_suffix(upper)
    if split is not None:
        base = split[0]
        candidates = [n for n in PARAM_OF_NAME if n.startswith(base + "_")]
        cutoff = _SIBLING_CUTOFF
    else:
        candidates = [*PARAM_OF_NAME, *CREDENTIAL_NAMES]
        cutoff = _SUGGEST_CUTOFF
    found = difflib.get_close_matches(upper, candidates, n=1, cutoff=cutoff)
    return found[0] if found else None
