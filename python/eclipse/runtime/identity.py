"""Which run a run directory holds (``run.json``: the mode and the venue), checked before a daemon uses it."""

from __future__ import annotations

import json
from collections.abc import Mapping

from eclipse.errors import EclipseError
from eclipse.runtime.rundir import RunDir
from eclipse.runtime.setup import RunMode

__all__ = ["check_identity"]


def _identity(env: Mapping[str, str], mode: RunMode) -> dict[str, str]:
    """The venue a journal belongs to: the adapter (lower case) and its URL (empty: the exchange's own),
    the built-in simulator, or the in-process replay."""
    adapter = env.get("EXCHANGE_ADAPTER", "").strip().lower()
    url = env.get("VENUE_API_URL", "").strip().rstrip("/")
    if mode is RunMode.SIMULATED:
        venue = "replay"
    elif mode is RunMode.SIM and not url:
        venue = "builtin-sim"
    else:
        venue = f"{adapter or 'sim'}@{url or 'exchange'}"
    return {"mode": mode.value, "venue": venue}


def check_identity(run_dir: RunDir, env: Mapping[str, str], mode: RunMode, *, resuming: bool = False) -> None:
    """A run directory's journal belongs to one mode and venue; simulated time starts from an empty
    directory (unless ``resuming``: the deterministic simulation restarts on its own run directory)."""
    want = _identity(env, mode)
    path = run_dir.identity
    has_journal = run_dir.journal.exists()
    if path.exists():
        try:
            have = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            have = None
        if have != want:
            held = f"{have.get('mode')} on {have.get('venue')}" if isinstance(have, dict) else "?"
            raise EclipseError(
                f"{run_dir.root} holds a {held} run and this one is {want['mode']} on "
                f"{want['venue']}: one directory never mixes venues; use another --dir"
            )
    elif has_journal:
        raise EclipseError(f"{run_dir.root} holds a journal of an unknown run; use another --dir")
    if mode is RunMode.SIMULATED and has_journal and not resuming:
        raise EclipseError(
            f"{run_dir.root} already holds a simulated-time run (simulated time starts from an "
            "empty run directory); use another --dir or remove it"
        )
    path.write_text(json.dumps(want) + "\n", encoding="utf-8")
