"""``eclipse params`` (the parameter registry) and ``eclipse config check|show`` (the merged configuration of
a TOML file, ``.env`` and the environment; see ``docs/configuration.md``)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from eclipse.cli.common import Subparsers, int_at_least
from eclipse.config.describe import describe_all, filter_rows, format_table, render_params_table
from eclipse.config.names import CREDENTIAL_NAMES, PARAM_OF_NAME, canonical, split_suffix
from eclipse.config.parsers import format_value
from eclipse.config.registry import PROFILES, REGISTRY
from eclipse.config.sources import DEFAULT_SOURCE, ENVIRONMENT, ConfigProblems, LoadedConfig, load_config
from eclipse.config.validate import resolve_profile
from eclipse.errors import SECRET_MASK, ConfigError

__all__ = ["add_source_options", "load_from_args", "register", "terminal_width"]

DEFAULT_WIDTH = 100
"""Output width when the output is not a terminal."""
_DOTENV = Path(".env")
_UNSET = "(unset)"


def register(sub: Subparsers) -> None:
    """Add this module's commands to ``sub``."""
    params = sub.add_parser("params", help="list every knob with its defaults, owner and safety impact")
    params.add_argument("--profile", choices=PROFILES, help="show only this profile's defaults")
    params.add_argument("--filter", metavar="TEXT", help="only knobs whose name, owner or doc contain TEXT")
    params.add_argument(
        "--width", type=int_at_least(40), metavar="N", help="line width (default: the terminal's, else 100)"
    )
    params.set_defaults(func=_cmd_params)

    config = sub.add_parser("config", help="check or show the configuration (TOML file < .env < environment)")
    actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate the configuration, list every problem, exit 2 if any")
    add_source_options(check)
    check.set_defaults(func=_cmd_check)
    show = actions.add_parser("show", help="the effective value of each knob and where it came from")
    add_source_options(show)
    show.add_argument("--all", action="store_true", help="also every knob left at its default")
    show.add_argument("--filter", metavar="TEXT", help="only knobs whose name or source contain TEXT")
    show.add_argument(
        "--width", type=int_at_least(40), metavar="N", help="line width (default: the terminal's, else 100)"
    )
    show.set_defaults(func=_cmd_show)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--env-file`` and ``--profile``: where the configuration comes from."""
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML file of knobs (lowest precedence)")
    parser.add_argument(
        "--env-file", type=Path, metavar="FILE", help="the .env file (default: ./.env when it exists)"
    )
    parser.add_argument(
        "--profile", choices=PROFILES, help="profile whose defaults apply (default: SCALPER_MODE, else micro)"
    )


def load_from_args(args: argparse.Namespace, env: Mapping[str, str]) -> LoadedConfig:
    """The configuration ``--config`` / ``--env-file`` and ``env`` give (ConfigError for a missing
    ``--env-file``)."""
    dotenv: Path = args.env_file if args.env_file is not None else _DOTENV
    if args.env_file is not None and not args.env_file.exists():
        raise ConfigError("--env-file", str(args.env_file), "an existing .env file")
    return load_config(env, config_path=args.config, dotenv_path=dotenv)


def terminal_width(out: TextIO, requested: int | None = None) -> int:
    """``requested``, else the width of the terminal ``out`` writes to, else :data:`DEFAULT_WIDTH`."""
    if requested is not None:
        return requested
    try:
        if out.isatty():
            return max(os.get_terminal_size(out.fileno()).columns, 40)
    except (AttributeError, OSError, ValueError):
        pass
    return DEFAULT_WIDTH


def _cmd_params(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    profiles = (args.profile,) if args.profile else PROFILES
    rows = filter_rows(describe_all(profiles), args.filter)
    if not rows:
        print(f"no knob matches {args.filter!r}", file=err)
        return 1
    print(render_params_table(rows, terminal_width(out, args.width)), file=out)
    return 0


def _print_warnings(loaded: LoadedConfig, err: TextIO) -> None:
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=err)


def _sources_text(loaded: LoadedConfig) -> str:
    chain = [str(p) for p in (loaded.config_path, loaded.dotenv_path) if p is not None]
    return " < ".join([*chain, ENVIRONMENT])


def _cmd_check(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    loaded = load_from_args(args, env)
    _print_warnings(loaded, err)
    problems = loaded.check(args.profile)
    if problems:
        raise ConfigProblems(problems)
    counts: dict[str, int] = {}
    for source in loaded.origin.values():
        counts[source] = counts.get(source, 0) + 1
    detail = ", ".join(f"{n} from {s}" for s, n in counts.items()) or "none set: every knob at its default"
    profile = resolve_profile(loaded.env, args.profile)
    print(f"configuration OK (profile {profile}; {_sources_text(loaded)}): {detail}", file=out)
    return 0


def _shown_value(name: str, raw: str) -> str:
    """The effective value of a set variable as text: parsed and written back, ``***`` for a secret."""
    param = PARAM_OF_NAME.get(name)
    split = split_suffix(name)
    if param is None and split is not None:
        param = PARAM_OF_NAME.get(split[0])
    if name in CREDENTIAL_NAMES or (param is not None and param.secret):
        return SECRET_MASK
    if param is None:
        return raw
    try:
        return format_value(param.parse(raw, source=name)) or '""'
    except ConfigError:
        return f"{raw} (invalid)"


def show_rows(loaded: LoadedConfig, profile: str, *, include_defaults: bool) -> list[list[str]]:
    """``[knob, source, value]`` for each variable set (registry order, per-symbol forms after their knob,
    credentials last) and, with ``include_defaults``, each knob at its default."""
    rows: list[list[str]] = []
    by_knob: dict[str, list[str]] = {}
    for name in loaded.env:
        split = split_suffix(name)
        by_knob.setdefault(split[0] if split is not None else canonical(name), []).append(name)
    default_source = f"{DEFAULT_SOURCE} ({profile})"
    for param in REGISTRY:
        names = sorted(by_knob.get(param.name, []), key=lambda n: (split_suffix(n) is not None, n))
        if not any(canonical(n) == param.name for n in names) and include_defaults:
            value = _UNSET if param.secret else format_value(param.default_for(profile)) or '""'
            if param.secret and param.default_for(profile):
                value = SECRET_MASK
            rows.append([param.name, default_source, value])
        for name in names:
            source = loaded.source_of(name)
            shown_name = param.name if canonical(name) == param.name else name
            if name in PARAM_OF_NAME and name != param.name:
                source += f" (as {name})"
            rows.append([shown_name, source, _shown_value(name, loaded.env[name])])
    for name in CREDENTIAL_NAMES:
        if name in loaded.env:
            rows.append([name, loaded.source_of(name), SECRET_MASK])
        elif include_defaults:
            rows.append([name, "-", _UNSET])
    return rows


def _cmd_show(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    loaded = load_from_args(args, env)
    _print_warnings(loaded, err)
    profile = resolve_profile(loaded.env, args.profile)
    rows = show_rows(loaded, profile, include_defaults=args.all)
    if args.filter:
        needle = args.filter.lower()
        rows = [r for r in rows if needle in r[0].lower() or needle in r[1].lower()]
    width = terminal_width(out, args.width)
    if rows:
        shrink = {2: (0, 16), 1: (1, 12), 0: (2, 24)}
        print(format_table(["knob", "source", "value"], rows, width=width, shrink=shrink), file=out)
    else:
        matching = f" matching {args.filter!r}" if args.filter else ""
        print(f"no knob set{matching} (--all adds the defaults)", file=out)
    problems = loaded.check(args.profile)
    if problems:
        n = len(problems)
        print(
            f"{n} configuration problem{'' if n == 1 else 's'}: `eclipse config check` lists them", file=err
        )
    return 0
