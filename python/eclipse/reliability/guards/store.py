"""Where the guards' state lives between runs: one JSON document, written atomically (a temporary file in the
same directory, fsync, ``os.replace``, then an fsync of the directory), so a crash leaves the old or the new
document, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any

from eclipse.errors import StateError

__all__ = ["GuardStateError", "GuardStateStore"]


class GuardStateError(StateError):
    """The guard state file cannot be read. The message is one line naming the file and how to go on."""

    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        self.detail = " ".join(detail.split())
        super().__init__(
            f"guard state file {path} is unreadable ({self.detail}): move it aside or delete it to start "
            "with no guard state (active halts, pauses and cooldowns are then forgotten)"
        )


class GuardStateStore:
    """Loads and saves the guards' state document at ``path``; ``durable`` fsyncs each save (live mode: a
    halt survives a power loss), else the atomic rename alone (a crash of the process loses nothing)."""

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable

    def load(self) -> dict[str, Any] | None:
        """The saved document, or None when there is none; :class:`GuardStateError` when the file cannot be
        read or is not a JSON object."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise GuardStateError(self.path, f"{type(exc).__name__}: {exc.strerror or exc}") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise GuardStateError(self.path, "not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise GuardStateError(self.path, f"not JSON: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(data, dict):
            raise GuardStateError(self.path, f"expected a JSON object, got {type(data).__name__}")
        return data

    def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` atomically (parent directories are created); OSError when the disk refuses."""
        text = json.dumps(state, sort_keys=True, separators=(",", ":"), allow_nan=False)
        parent = self.path.parent
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                if self.durable:
                    os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise
        if self.durable:
            _fsync_dir(parent)


def _fsync_dir(path: Path) -> None:
    """Make the rename durable (not every platform can open a directory: then it is skipped)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        with suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
