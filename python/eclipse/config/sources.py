"""Where knob values come from: a TOML file, a ``.env`` file and the environment, merged with a documented
precedence (``docs/configuration.md``)::

    registry default  <  TOML file (--config)  <  .env  <  environment

A higher layer replaces a knob whatever spelling it uses (``MIN_CONFIDENCE`` in the environment replaces
``ENTRY_MIN_CONFIDENCE`` from the file). An empty value counts as unset and does not replace a lower layer,
except for hour ranges (``SCALPER_SESSION_UTC=""`` means "off", as in the settings loaders).

* TOML (``tomllib``): top-level ``KNOB = value`` with the registry's names; a table groups knobs and is
  flattened (``[entries]``), except ``[symbols.<SYMBOL>]``, whose keys are per-symbol knobs
  (``[symbols.BTCUSDT] LEVERAGE = 5`` is ``LEVERAGE_BTCUSDT=5``), and an inline table as the value of a
  ``map`` / ``groups`` knob (``LEVERAGE_BY_SYMBOL = {BTCUSDT = 10}``, ``CORR_GROUPS = {MEME = ["DOGE"]}``).
  Values become the environment's strings: booleans ``1``/``0``, numbers as Python writes them back, arrays
  comma-joined.
* ``.env`` (python-dotenv's parser, no ``${VAR}`` interpolation: the file is taken literally): knobs and the
  venue credentials, in the original bot's habit. A ``.env`` readable by group or others is warned about.
* The environment: only known names are taken (knobs, aliases, per-symbol forms, credentials); an unknown
  name with a project prefix (``SCALPER_SESION_UTC``) is a problem with a suggestion, other variables are
  ignored. In the TOML file and ``.env`` every unknown name is a problem.
"""

from __future__ import annotations

import difflib
import io
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from dotenv.parser import parse_stream

from eclipse.config.names import (
    PARAM_OF_NAME,
    SUFFIX_BASES,
    canonical,
    has_project_prefix,
    is_known,
    split_suffix,
    suggest,
)
from eclipse.config.problems import (
    UNKNOWN_EXPECTED,
    ConfigProblem,
    ConfigProblems,
    dedupe,
    masked,
    unknown_name,
)
from eclipse.config.validate import resolve_profile, validate
from eclipse.execution.entries.values import symbol_key

__all__ = [
    "DEFAULT_SOURCE",
    "ENVIRONMENT",
    "ConfigProblem",
    "ConfigProblems",
    "LoadedConfig",
    "load_config",
    "resolve_profile",
    "validate",
    "wide_permissions",
]

ENVIRONMENT = "environment"
DEFAULT_SOURCE = "default"
_SYMBOLS_TABLE = "symbols"
_VALUE_EXPECTED = "a string, number, boolean or array of strings/numbers"


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A merged configuration.

    ``env`` is the effective mapping to hand to ``load_param`` / ``EngineSettings.load`` / ``open_venue``
    (knobs and credentials only); ``origin`` says where each of its variables came from (``environment``,
    the ``.env`` path or the TOML path); ``problems`` are the name and file problems found while loading
    (values are judged by :meth:`check`); ``warnings`` do not stop a start (a ``.env`` others can read).
    """

    env: Mapping[str, str]
    origin: Mapping[str, str]
    problems: tuple[ConfigProblem, ...] = ()
    warnings: tuple[str, ...] = ()
    config_path: Path | None = None
    dotenv_path: Path | None = None

    def source_of(self, name: str) -> str:
        """Where ``name`` came from: a source of :attr:`origin`, or ``default``."""
        return self.origin.get(name, DEFAULT_SOURCE)

    def check(self, profile: str | None = None) -> tuple[ConfigProblem, ...]:
        """Every problem: the loading problems, then :func:`validate` of :attr:`env` under ``profile``."""
        return dedupe((*self.problems, *validate(self.env, profile, origin=self.origin)))

    def require_valid(self, profile: str | None = None) -> None:
        """Raise :class:`ConfigProblems` listing every problem, if there is any."""
        problems = self.check(profile)
        if problems:
            raise ConfigProblems(problems)


def load_config(
    process_env: Mapping[str, str],
    /,
    *,
    config_path: Path | None = None,
    dotenv_path: Path | None = Path(".env"),
) -> LoadedConfig:
    """Merge the TOML file at ``config_path`` (optional; a missing one is a problem), the ``.env`` at
    ``dotenv_path`` (skipped when absent) and ``process_env`` (highest precedence); see the module docstring.

    Never raises for a configuration problem: they are all in the result.
    """
    layers: list[tuple[str, dict[str, str]]] = []
    problems: list[ConfigProblem] = []
    warnings: list[str] = []
    if config_path is not None:
        values, found = _read_toml(config_path)
        layers.append((str(config_path), values))
        problems.extend(found)
    dotenv_used: Path | None = None
    if dotenv_path is not None and dotenv_path.exists():
        dotenv_used = dotenv_path
        values, found, notes = _read_dotenv(dotenv_path)
        layers.append((str(dotenv_path), values))
        problems.extend(found)
        warnings.extend(notes)
    from_env: dict[str, str] = {}
    for name in sorted(process_env):
        if is_known(name):
            from_env[name] = process_env[name]
        elif has_project_prefix(name):
            problems.append(unknown_name(name, process_env[name], ENVIRONMENT, suggest(name)))
    layers.append((ENVIRONMENT, from_env))
    env, origin = _merge(layers)
    return LoadedConfig(
        MappingProxyType(env),
        MappingProxyType(origin),
        dedupe(problems),
        tuple(warnings),
        config_path,
        dotenv_used,
    )


def wide_permissions(path: Path) -> int | None:
    """The permission bits of the regular file ``path`` when group or others have any access (POSIX), else
    None (also for a device like ``/dev/null``)."""
    if os.name != "posix":
        return None
    st = path.stat()
    mode = stat.S_IMODE(st.st_mode)
    return mode if stat.S_ISREG(st.st_mode) and mode & 0o077 else None


def _kind(name: str) -> str:
    param = PARAM_OF_NAME.get(name)
    if param is None:
        split = split_suffix(name)
        param = PARAM_OF_NAME.get(split[0]) if split is not None else None
    return param.type if param is not None else ""


def _merge(layers: list[tuple[str, dict[str, str]]]) -> tuple[dict[str, str], dict[str, str]]:
    """Apply ``layers`` lowest first; a layer's knob replaces every spelling of it from lower layers."""
    env: dict[str, str] = {}
    origin: dict[str, str] = {}
    for source, values in layers:
        by_knob: dict[str, list[str]] = {}
        for name, raw in values.items():
            if raw.strip() or _kind(name) == "hours":
                by_knob.setdefault(canonical(name), []).append(name)
        for knob, names in by_knob.items():
            for old in [n for n in env if canonical(n) == knob]:
                del env[old], origin[old]
            for name in names:
                env[name], origin[name] = values[name], source
    return env, origin


# --- .env ---------------------------------------------------------------------------------------------


def _read_dotenv(path: Path) -> tuple[dict[str, str], list[ConfigProblem], list[str]]:
    source = str(path)
    values: dict[str, str] = {}
    problems: list[ConfigProblem] = []
    warnings: list[str] = []
    try:
        mode = wide_permissions(path)
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        return values, [ConfigProblem("--env-file", source, f"a readable .env file ({reason})", source)], []
    if mode is not None:
        warnings.append(
            f"{path} can be read by group/others (mode {mode:04o}) and may hold API keys: chmod 600 {path}"
        )
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error:
            expected = "KEY=value (python-dotenv cannot parse this line; its text is not shown)"
            problems.append(ConfigProblem(f"{path}:{line}", "", expected, source))
        elif binding.key is None:
            continue
        elif binding.value is None:
            warnings.append(f"{path}:{line}: {binding.key} has no '=value' and is ignored")
        elif not is_known(binding.key):
            problems.append(unknown_name(binding.key, binding.value, source, suggest(binding.key)))
        else:
            values[binding.key] = binding.value
    return values, problems, warnings


# --- TOML ---------------------------------------------------------------------------------------------


def _read_toml(path: Path) -> tuple[dict[str, str], list[ConfigProblem]]:
    source = str(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}, [ConfigProblem("--config", source, "an existing TOML file", source)]
    except OSError as exc:
        return {}, [ConfigProblem("--config", source, f"a readable TOML file ({exc.strerror})", source)]
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return {}, [ConfigProblem("--config", source, f"valid TOML ({exc})", source)]
    reader = _TomlReader(source)
    for key, value in data.items():
        if key == _SYMBOLS_TABLE and isinstance(value, dict):
            reader.symbols(value)
        elif isinstance(value, dict) and key not in PARAM_OF_NAME:
            for inner, item in value.items():
                reader.put(inner, item, f" in [{key}]")
        else:
            reader.put(key, value, "")
    return reader.values, reader.problems


class _TomlReader:
    """Collects the knobs of one TOML document as env strings, and its problems."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.values: dict[str, str] = {}
        self.problems: list[ConfigProblem] = []

    def _problem(self, name: str, value: object, expected: str, suggestion: str | None = None) -> None:
        shown = masked(name, value if isinstance(value, str) else type(value).__name__, suggestion)
        self.problems.append(ConfigProblem(name, shown, expected, self.source, suggestion))

    def put(self, name: str, value: object, where: str) -> None:
        if isinstance(value, dict) and not is_known(name):
            expected = (
                "a knob: tables only group knobs one level deep ([entries]) or per symbol ([symbols.X])"
            )
            self._problem(name, "table", expected + where)
        elif not is_known(name):
            shown = _scalar_text(value) or ""
            self._problem(name, shown, UNKNOWN_EXPECTED + where, suggest(name))
        elif (text := _to_env(value, _kind(name))) is None:
            self._problem(name, value, _VALUE_EXPECTED + where)
        elif name in self.values:
            self._problem(name, text, "one value per knob in the file (it is set twice)")
        else:
            self.values[name] = text

    def symbols(self, table: dict[str, object]) -> None:
        """``[symbols.<SYMBOL>]`` tables of per-symbol knobs."""
        bases = sorted(SUFFIX_BASES)
        for symbol, knobs in table.items():
            table_name = f"[symbols.{symbol}]"
            where = f" in {table_name}"
            if not isinstance(knobs, dict):
                self._problem(f"symbols.{symbol}", knobs, f"a table {table_name} of per-symbol knobs")
                continue
            for knob, value in knobs.items():
                if knob not in SUFFIX_BASES:
                    expected = f"a per-symbol knob{where}: {', '.join(bases)}"
                    self._problem(knob, _scalar_text(value) or "", expected, _close(knob, bases))
                    continue
                self.put(f"{knob}_{symbol_key(symbol)}", value, where)


def _close(name: str, candidates: list[str]) -> str | None:
    found = difflib.get_close_matches(name.upper(), candidates, n=1, cutoff=0.75)
    return found[0] if found else None


def _scalar_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    return None


def _to_env(value: object, kind: str) -> str | None:
    """The env-string form of a TOML value for a knob of type ``kind``; None when it has no such form."""
    if isinstance(value, list):
        items = [None if isinstance(v, bool) else _scalar_text(v) for v in value]
        return ",".join(t for t in items if t is not None) if None not in items else None
    if isinstance(value, dict) and kind in ("map", "groups"):
        parts = []
        for key, item in value.items():
            if kind == "map":
                text = None if isinstance(item, bool) else _scalar_text(item)
                sep = "="
            else:
                text = _to_env(item, "") if isinstance(item, list) else _scalar_text(item)
                sep = ":"
            if text is None:
                return None
            parts.append(f"{key}{sep}{text}")
        return ("," if kind == "map" else ";").join(parts)
    return _scalar_text(value)
