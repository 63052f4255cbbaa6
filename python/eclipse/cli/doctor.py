"""``eclipse doctor``: is this machine and configuration ready to run? The configuration's problems, ``.env``
permissions, the risk checklist, API key presence (never a key), venue reachability and clock skew through
a public, key-less request, and free disk space in the run directory. Exit 0 when every check passes, 1 when
one fails (``skip`` is not a failure)."""

from __future__ import annotations

import argparse
import asyncio
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from eclipse.cli.common import Subparsers, int_at_least
from eclipse.cli.config import add_source_options, load_from_args, terminal_width
from eclipse.clock import Clock, LiveClock
from eclipse.config.checklist import is_live, risk_checklist
from eclipse.config.describe import format_table, wrap_text
from eclipse.config.settings import load_param
from eclipse.config.sources import LoadedConfig, resolve_profile, wide_permissions
from eclipse.errors import ConfigError
from eclipse.venues.ccxt_factory import VenueSettings, load_venue_settings
from eclipse.venues.credentials import ENV_NAMES

__all__ = ["Check", "VenueProbe", "probe_venue", "register"]

OK, FAIL, SKIP = "ok", "FAIL", "skip"
_MAX_WIDTH = 100
_MIB = 1024 * 1024
_GIB = 1024 * _MIB


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report: what was checked, ``ok`` / ``FAIL`` / ``skip``, and the detail."""

    name: str
    status: str
    detail: str


@dataclass(frozen=True, slots=True)
class VenueProbe:
    """The outcome of one public time request: the venue's clock, our clock at the request's midpoint and the
    round trip, or the error."""

    reachable: bool
    venue_ms: int = 0
    local_ms: int = 0
    rtt_ms: int = 0
    error: str = ""


def register(sub: Subparsers) -> None:
    """Add this module's commands to ``sub``."""
    doctor = sub.add_parser("doctor", help="check configuration, risk limits, keys, venue, clock and disk")
    add_source_options(doctor)
    doctor.add_argument("--dir", type=Path, default=Path("eclipse-run"), help="run directory (./eclipse-run)")
    doctor.add_argument("--live", action="store_true", help="judge as for a live start, even in dry run")
    doctor.add_argument("--offline", action="store_true", help="skip the venue request (reachability, clock)")
    doctor.add_argument(
        "--timeout", type=float, default=10.0, metavar="SEC", help="venue request timeout (default 10 s)"
    )
    doctor.add_argument(
        "--min-free-mb", type=int_at_least(0), default=1024, metavar="N", help="disk space needed (1024)"
    )
    doctor.add_argument("--width", type=int_at_least(40), metavar="N", help="line width (default: <= 100)")
    doctor.set_defaults(func=_cmd_doctor)


async def _fetch_time(settings: VenueSettings, clock: Clock, timeout_s: float) -> VenueProbe:
    from eclipse.venues.ccxt_venue import CcxtVenue  # ccxt is imported only when a venue is asked

    venue = CcxtVenue(
        settings.exchange_id,
        None,
        clock,
        api_url=settings.api_url or None,
        timeout_ms=max(100, min(settings.timeout_ms, int(timeout_s * 1000))),
    )
    try:
        start = clock.now_ms()
        venue_ms = await asyncio.wait_for(venue.fetch_time_ms(), timeout_s)
        end = clock.now_ms()
        return VenueProbe(True, venue_ms, (start + end) // 2, end - start)
    finally:
        await venue.close()


def probe_venue(settings: VenueSettings, clock: Clock, timeout_s: float) -> VenueProbe:
    """Ask the venue of ``settings`` for its time without credentials (a public request), within
    ``timeout_s``; an error becomes an unreachable probe naming it."""
    try:
        return asyncio.run(_fetch_time(settings, clock, timeout_s))
    except TimeoutError:
        return VenueProbe(False, error=f"no answer within {timeout_s:g} s")
    except Exception as exc:  # every failure is a report line, not a traceback
        text = " ".join(str(exc).split())[:160]
        return VenueProbe(False, error=f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def _config_checks(loaded: LoadedConfig, problems: int) -> list[Check]:
    checks = [
        Check("configuration", FAIL, f"{problems} problem{'' if problems == 1 else 's'} (listed below)")
        if problems
        else Check("configuration", OK, "every knob valid")
    ]
    path = loaded.dotenv_path
    if path is None:
        checks.append(Check(".env permissions", SKIP, "no .env file"))
    else:
        try:
            mode = wide_permissions(path)
        except OSError as exc:
            checks.append(Check(".env permissions", FAIL, f"{path}: {exc.strerror}"))
        else:
            if mode is None:
                checks.append(Check(".env permissions", OK, f"{path}: owner only"))
            else:
                detail = f"{path}: mode {mode:04o}, readable by group/others: chmod 600 {path}"
                checks.append(Check(".env permissions", FAIL, detail))
    return checks


def _key_check(loaded: LoadedConfig, adapter: str | None, live: bool) -> Check:
    if adapter is None:
        return Check("API keys", SKIP, "EXCHANGE_ADAPTER is invalid")
    if adapter == "sim":
        return Check("API keys", OK, "simulator: its documented test keys")
    names = ENV_NAMES[adapter]
    wanted = [names.api_key, names.secret] + ([names.passphrase] if names.passphrase else [])
    parts, missing = [], []
    for var in wanted:
        if loaded.env.get(var, "").strip():
            parts.append(f"{var} set ({loaded.source_of(var)})")
        else:
            parts.append(f"{var} unset")
            if var != names.passphrase:
                missing.append(var)
    detail = ", ".join(parts)
    if not missing:
        return Check("API keys", OK, detail)
    if live:
        return Check("API keys", FAIL, f"{detail}: needed for live trading")
    return Check("API keys", OK, f"{detail}: not needed in dry run")


def _venue_checks(loaded: LoadedConfig, clock: Clock, args: argparse.Namespace) -> list[Check]:
    try:
        adapter = str(load_param(loaded.env, "EXCHANGE_ADAPTER"))
        url = str(load_param(loaded.env, "VENUE_API_URL"))
        skew_max = int(str(load_param(loaded.env, "CLOCK_SKEW_MAX_MS")))
    except ConfigError:
        return [Check("venue", SKIP, "venue knobs invalid (see configuration)")]
    if adapter == "sim" and not url:
        detail = "EXCHANGE_ADAPTER=sim without VENUE_API_URL: the simulator is local and not running here"
        return [Check("venue", SKIP, detail), Check("clock skew", SKIP, "no venue to compare with")]
    try:
        settings = load_venue_settings(loaded.env)
    except ConfigError:
        return [Check("venue", SKIP, "venue knobs invalid (see configuration)")]
    if args.offline:
        return [Check("venue", SKIP, "--offline"), Check("clock skew", SKIP, "--offline")]
    if not loaded.env.get("EXCHANGE_ADAPTER", "").strip() and not url:
        detail = "no exchange configured: `eclipse run` starts the built-in simulator (nothing to reach)"
        return [Check("venue", OK, detail), Check("clock skew", SKIP, "the built-in simulator")]
    where = f"{adapter} at {url}" if url else adapter
    probe = probe_venue(settings, clock, args.timeout)
    if not probe.reachable:
        hint = " (is `eclipse sim-venue` running?)" if adapter == "sim" else ""
        return [
            Check("venue", FAIL, f"{where} unreachable{hint}: {probe.error}"),
            Check("clock skew", SKIP, "no venue answer"),
        ]
    checks = [Check("venue", OK, f"{where} answered in {probe.rtt_ms} ms")]
    if adapter == "sim":
        checks.append(Check("clock skew", SKIP, "the simulator runs on replay time"))
        return checks
    skew = probe.venue_ms - probe.local_ms
    detail = f"local clock {skew:+d} ms from {adapter} (max {skew_max} ms, round trip {probe.rtt_ms} ms)"
    checks.append(Check("clock skew", OK if abs(skew) <= skew_max else FAIL, detail))
    return checks


def _disk_check(run_dir: Path, min_free_mb: int) -> Check:
    probe = run_dir.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError as exc:
        return Check("disk space", FAIL, f"{run_dir}: {exc.strerror}")
    note = "" if run_dir.exists() else " (not created yet)"
    detail = f"{usage.free / _GIB:.1f} GiB free of {usage.total / _GIB:.1f} GiB at {run_dir}{note}"
    if usage.free < min_free_mb * _MIB:
        return Check("disk space", FAIL, f"{detail}; needs {min_free_mb} MiB")
    return Check("disk space", OK, detail)


def run_checks(
    loaded: LoadedConfig, args: argparse.Namespace, clock: Clock
) -> tuple[list[Check], tuple[str, ...]]:
    """Every check of the report, and the configuration problems as lines."""
    profile = resolve_profile(loaded.env, args.profile)
    problems = loaded.check(profile)
    live = args.live or is_live(loaded.env)
    checks = _config_checks(loaded, len(problems))
    for item in risk_checklist(loaded.env, profile, live=live):
        detail = f"{item.value}: {item.note}" if item.note else item.value
        checks.append(Check(f"risk {item.name}", OK if item.ok else FAIL, detail))
    try:
        adapter: str | None = str(load_param(loaded.env, "EXCHANGE_ADAPTER"))
    except ConfigError:
        adapter = None
    checks.append(_key_check(loaded, adapter, live))
    checks.extend(_venue_checks(loaded, clock, args))
    checks.append(_disk_check(args.dir, args.min_free_mb))
    return checks, tuple(str(p) for p in problems)


def _cmd_doctor(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    loaded = load_from_args(args, env)
    checks, problems = run_checks(loaded, args, LiveClock())
    width = args.width or min(terminal_width(out), _MAX_WIDTH)
    rows = [[c.name, c.status, c.detail] for c in checks]
    print(
        format_table(["check", "status", "detail"], rows, width=width, shrink={2: (0, 20), 0: (1, 16)}),
        file=out,
    )
    if problems:
        print("\nconfiguration problems:", file=out)
        for line in problems:
            wrapped = wrap_text(line, width - 4)
            print("  - " + wrapped[0], file=out)
            for rest in wrapped[1:]:
                print("    " + rest, file=out)
    failed = sum(c.status == FAIL for c in checks)
    print(
        f"\n{failed} check{'' if failed == 1 else 's'} failed" if failed else "\nall checks passed", file=out
    )
    return 1 if failed else 0
