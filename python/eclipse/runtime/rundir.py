"""The run directory (default ``./eclipse-run``) and the lock that keeps it to one daemon.

Layout: ``journal.sqlite`` (the execution journal), ``telemetry.jsonl`` (unless ``TELEMETRY_PATH``),
``features/<SYMBOL>.state`` (feature state saved at stop), ``summary.json`` / ``summary.md`` (the run
summary), ``daemon.lock`` (the PID of the daemon holding the directory), ``status.url`` (the status server's
URL while it runs), ``sim.sqlite`` (the built-in simulator's account, when the daemon started one) and
``logs/daemon.log``, and ``run.json`` (the mode and venue the journal belongs to: a directory never mixes
two venues' orders).

The lock is an ``fcntl`` advisory lock on ``daemon.lock``: the kernel drops it when the process dies, so a
``kill -9`` never leaves a stale lock behind, and a second daemon is refused with the holder's PID.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from eclipse.errors import EclipseError

__all__ = ["LockError", "RunDir", "RunDirLock"]


class LockError(EclipseError):
    """The run directory is held by another daemon (or cannot be locked)."""


@dataclass(frozen=True, slots=True)
class RunDir:
    """Paths inside one run directory."""

    root: Path

    @property
    def journal(self) -> Path:
        """The SQLite journal."""
        return self.root / "journal.sqlite"

    @property
    def telemetry(self) -> Path:
        """The default telemetry JSONL."""
        return self.root / "telemetry.jsonl"

    @property
    def guards(self) -> Path:
        """The entry guards' state (halts, cooldowns, pauses): survives a restart."""
        return self.root / "guards.json"

    @property
    def features(self) -> Path:
        """Directory of the saved feature states."""
        return self.root / "features"

    def feature_state(self, symbol: str) -> Path:
        """The saved feature state of ``symbol`` (unified symbols made file-safe)."""
        safe = symbol.replace("/", "_").replace(":", "_")
        return self.features / f"{safe}.state"

    @property
    def summary_json(self) -> Path:
        """The run summary (JSON)."""
        return self.root / "summary.json"

    @property
    def summary_md(self) -> Path:
        """The run summary (Markdown)."""
        return self.root / "summary.md"

    @property
    def lock(self) -> Path:
        """The daemon lock file (holds the PID)."""
        return self.root / "daemon.lock"

    @property
    def status_url(self) -> Path:
        """The status server's base URL while the daemon runs."""
        return self.root / "status.url"

    @property
    def sim_db(self) -> Path:
        """The built-in simulator's state."""
        return self.root / "sim.sqlite"

    @property
    def identity(self) -> Path:
        """What the directory's journal trades on (``run.json``: mode and venue)."""
        return self.root / "run.json"

    @property
    def log(self) -> Path:
        """The daemon's log file."""
        return self.root / "logs" / "daemon.log"

    def create(self) -> None:
        """Create the directory (and ``logs/``, ``features/``); EclipseError naming it when that fails."""
        try:
            for d in (self.root, self.root / "logs", self.features):
                d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EclipseError(
                f"cannot create the run directory {self.root}: {exc.strerror or exc}; "
                "choose another with --dir"
            ) from None
        if not os.access(self.root, os.W_OK):
            raise EclipseError(f"the run directory {self.root} is not writable; choose another with --dir")


class RunDirLock:
    """Exclusive ownership of a run directory for one process (see the module docstring)."""

    def __init__(self, run_dir: RunDir) -> None:
        self._path = run_dir.lock
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockError` naming the PID that holds it."""
        try:
            handle = self._path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise LockError(f"cannot open the lock file {self._path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise LockError(
                f"another eclipse daemon (PID {holder}) is running on {self._path.parent}; stop it first "
                "or use another --dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Drop the lock (idempotent); the file stays, empty."""
        if self._file is None:
            return
        try:
            self._file.seek(0)
            self._file.truncate()
            self._file.flush()
        finally:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    @staticmethod
    def holder(run_dir: RunDir) -> int | None:
        """The PID of the daemon holding ``run_dir`` now, or None (readers use this; never blocks)."""
        try:
            handle = run_dir.lock.open("r", encoding="utf-8")
        except OSError:
            return None
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = handle.read().strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return None
