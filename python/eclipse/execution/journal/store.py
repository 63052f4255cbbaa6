"""The execution journal: an append-only SQLite file of :data:`eclipse.contracts.EVENT_TYPES` events.

Layout (schema version 1)::

    meta(key TEXT PRIMARY KEY, value TEXT)          app = eclipse-journal, schema_version = 1
    events(seq INTEGER PRIMARY KEY, ts_ms INTEGER, name TEXT, payload TEXT)   + append-only triggers

Every :meth:`Journal.append` (or :meth:`Journal.append_many` batch) is one transaction. The file runs in WAL
mode with ``synchronous=NORMAL`` except for a transaction holding an :class:`OrderSubmitting`, which commits
with ``synchronous=FULL`` (the write-ahead log is fsynced before ``append`` returns, so before the venue is
called); that fsync also makes every earlier transaction durable. Everything else the journal holds can be
re-learned from the venue by client order id (``docs/journal.md``).

One writer per file (an ``flock`` on ``<file>.lock``); any number of readers (:meth:`Journal.open_reader`,
read-only connections that never block the writer). A file that is not SQLite, another application's SQLite
file, a newer schema or a damaged file raises :class:`JournalError` naming the file and the fix, and the
file is left byte-for-byte as it was. An older schema is migrated in one transaction after a backup copy.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol

from eclipse.contracts import JournalEvent, OrderSubmitting
from eclipse.errors import StateError
from eclipse.execution.journal.codec import CodecError, decode_event, encode_event

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory lock, one writer is the operator's duty
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "APP_ID",
    "DURABLE_EVENTS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SQLITE_APPLICATION_ID",
    "Journal",
    "JournalError",
    "JournalReader",
    "JournalRecord",
    "JournalSource",
]

APP_ID = "eclipse-journal"
SQLITE_APPLICATION_ID = 0x45434C4A  # "ECLJ", also in the SQLite header (PRAGMA application_id)
SCHEMA_VERSION = 1
DURABLE_EVENTS: tuple[type, ...] = (OrderSubmitting,)
"""Events whose transaction is fsynced (``synchronous=FULL``) before :meth:`Journal.append` returns."""

_INSERT = "INSERT INTO events(name, payload, ts_ms) VALUES (?, ?, ?)"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_CHUNK = 2000
_FIX_FOREIGN = "point Eclipse at another journal path (the file was not modified)"
_FIX_DAMAGED = (
    "keep the file for inspection, start a new journal at another path and let recovery re-learn open "
    "orders from the venue (the file was not modified)"
)

_SCHEMA_V1 = (
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE events(seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, name TEXT NOT NULL,"
    " payload TEXT NOT NULL)",
    "CREATE INDEX events_name ON events(name, seq)",
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events"
    " BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END",
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events"
    " BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END",
)


class JournalError(StateError):
    """The journal file cannot be used as asked; the message names the file and the fix."""


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One stored event with its journal sequence number (1, 2, ... in append order)."""

    seq: int
    ts_ms: int
    name: str
    event: JournalEvent


class JournalSource(Protocol):
    """Anything replay can read: the writer or a reader."""

    @property
    def path(self) -> Path:
        """The journal file."""
        ...

    def records(self, after_seq: int = 0) -> Iterator[JournalRecord]:
        """Events with ``seq > after_seq``, in order."""
        ...


# --- migrations ------------------------------------------------------------------------------------------


def _migrate_0_to_1(db: sqlite3.Connection) -> None:
    """v0 (pre-release: ``journal(seq, name, payload)``, no ts_ms column, no append-only triggers) -> v1."""
    rows = db.execute("SELECT seq, name, payload FROM journal ORDER BY seq").fetchall()
    for stmt in _SCHEMA_V1:
        db.execute(stmt)
    out = []
    for seq, name, payload in rows:
        try:
            ts = json.loads(payload)["ts_ms"]
        except (ValueError, TypeError, KeyError):
            raise JournalError(f"v0 event seq {seq} has no ts_ms") from None
        if type(ts) is not int:
            raise JournalError(f"v0 event seq {seq} has a non-integer ts_ms {ts!r}")
        out.append((seq, ts, name, payload))
    db.executemany("INSERT INTO events(seq, ts_ms, name, payload) VALUES (?, ?, ?, ?)", out)
    db.execute("DROP TABLE journal")


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {0: _migrate_0_to_1}
"""``v -> function`` upgrading schema ``v`` to ``v + 1`` inside the caller's transaction."""


# --- opening and checking ----------------------------------------------------------------------------------


def _check_header(path: Path) -> None:
    with path.open("rb") as fh:
        head = fh.read(len(_SQLITE_MAGIC))
    if head != _SQLITE_MAGIC:
        raise JournalError(f"{path}: not an SQLite database, so not an Eclipse journal; {_FIX_FOREIGN}")


def _connect_ro(path: Path) -> sqlite3.Connection:
    """A read-only connection (it can neither write nor checkpoint the file)."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        db.execute("PRAGMA query_only=1")
    except sqlite3.Error as exc:
        raise JournalError(f"{path}: cannot open read-only ({exc})") from None
    return db


def _schema_version(db: sqlite3.Connection, path: Path) -> int:
    """The file's schema version after checking it is ours (JournalError otherwise)."""
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall()) if "meta" in tables else None
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path}: damaged SQLite file ({exc}); {_FIX_DAMAGED}") from None
    if meta is None or meta.get("app") != APP_ID:
        app = "no meta table" if meta is None else f"app={meta.get('app')!r}"
        raise JournalError(f"{path}: an SQLite file of another application ({app}); {_FIX_FOREIGN}")
    raw = meta.get("schema_version", "")
    if not raw.isdigit():
        raise JournalError(f"{path}: schema version {raw!r} is not a number; {_FIX_DAMAGED}")
    version = int(raw)
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"{path}: written by a newer Eclipse (journal schema {version}, this build reads up to"
            f" {SCHEMA_VERSION}); run the newer Eclipse or point this one at another journal path"
            " (the file was not modified)"
        )
    return version


def _quick_check(db: sqlite3.Connection, path: Path) -> None:
    try:
        result = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        result = [str(exc)]
    if result != ["ok"]:
        raise JournalError(f"{path}: damaged journal ({'; '.join(result[:3])}); {_FIX_DAMAGED}")


def _rows(db: sqlite3.Connection, path: Path, after_seq: int) -> Iterator[JournalRecord]:
    """Records after ``after_seq`` in chunks (append-only, so chunking by seq sees a consistent prefix)."""
    last = after_seq
    while True:
        try:
            chunk = db.execute(
                "SELECT seq, ts_ms, name, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (last, _CHUNK),
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise JournalError(
                f"{path}: cannot read events after seq {last} ({exc}); {_FIX_DAMAGED}"
            ) from None
        for seq, ts_ms, name, payload in chunk:
            try:
                event = decode_event(name, payload)
            except CodecError as exc:
                raise JournalError(
                    f"{path}: event seq {seq} does not decode ({exc}); {_FIX_DAMAGED}"
                ) from None
            yield JournalRecord(seq, ts_ms, name, event)
            last = seq
        if len(chunk) < _CHUNK:
            return


class JournalReader:
    """A read-only view of a journal (reports, status): never writes, never blocks the writer."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file() or self.path.stat().st_size == 0:
            raise JournalError(f"{self.path}: no journal here; check the path (nothing was created)")
        _check_header(self.path)
        self._db = _connect_ro(self.path)
        try:
            version = _schema_version(self._db, self.path)
        except BaseException:
            self._db.close()
            raise
        if version != SCHEMA_VERSION:
            self._db.close()
            raise JournalError(
                f"{self.path}: journal schema {version}, this build reads {SCHEMA_VERSION}; open it once"
                " with the writer (Journal.open) to migrate it"
            )

    def records(self, after_seq: int = 0) -> Iterator[JournalRecord]:
        """Events with ``seq > after_seq``, in order."""
        return _rows(self._db, self.path, after_seq)

    def last_seq(self) -> int:
        """The newest sequence number (0 when empty)."""
        return int(self._db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Journal:
    """The writer of one journal file (created when missing or empty; migrated when older).

    ``backup_on_migrate``: copy the file to ``<file>.v<old>.bak`` before migrating an older schema.
    ``durable_submits`` False commits submit records with NORMAL too (safe against a process crash, not a
    power loss; for benchmarks and paper runs).
    """

    def __init__(
        self, path: str | Path, *, backup_on_migrate: bool = True, durable_submits: bool = True
    ) -> None:
        self.path = Path(path)
        self.durable_submits = durable_submits
        self.durable_commits = 0
        """Commits made with ``synchronous=FULL`` (observability and tests)."""
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        if not fresh:
            _check_header(self.path)
        self._lock = self._acquire_lock()
        try:
            version = SCHEMA_VERSION
            if not fresh:  # checked through a read-only connection: a refused file is never written
                ro = _connect_ro(self.path)
                try:
                    version = _schema_version(ro, self.path)
                    _quick_check(ro, self.path)
                finally:
                    ro.close()
            self._db = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            self._release_lock()
            raise JournalError(f"{self.path}: cannot open ({exc})") from None
        except BaseException:
            self._release_lock()
            raise
        try:
            if fresh:
                self._create()
            elif version < SCHEMA_VERSION:
                self._migrate(version, backup_on_migrate)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._insert = self._db.cursor()  # the single-event append's cursor (its statement stays cached)
        except BaseException:
            self._db.close()
            self._release_lock()
            raise

    @classmethod
    def open(cls, path: str | Path, *, durable_submits: bool = True) -> Journal:
        """The writer of ``path``."""
        return cls(path, durable_submits=durable_submits)

    @staticmethod
    def open_reader(path: str | Path) -> JournalReader:
        """A read-only connection to ``path`` (reports, status)."""
        return JournalReader(path)

    # -- lifecycle ---------------------------------------------------------------------------------------

    def _acquire_lock(self) -> IO[bytes] | None:
        if fcntl is None:  # pragma: no cover
            return None
        fh = open(f"{self.path}.lock", "ab")  # noqa: SIM115 - held open for the writer's lifetime
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise JournalError(
                f"{self.path}: another process (or Journal) has this journal open for writing; stop it first"
                " or use another journal path"
            ) from None
        return fh

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the descriptor drops the flock
            self._lock = None

    def _create(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _SCHEMA_V1:
                db.execute(stmt)
            db.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)",
                [("app", APP_ID), ("schema_version", str(SCHEMA_VERSION))],
            )
            db.execute(f"PRAGMA application_id={SQLITE_APPLICATION_ID}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _migrate(self, version: int, backup: bool) -> None:
        if backup:
            target = Path(f"{self.path}.v{version}.bak")
            n = 1
            while target.exists():
                target, n = Path(f"{self.path}.v{version}.bak.{n}"), n + 1
            with sqlite3.connect(target) as dst:
                self._db.backup(dst)
            dst.close()
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            while version < SCHEMA_VERSION:
                step = MIGRATIONS.get(version)
                if step is None:
                    raise JournalError(f"{self.path}: no migration from journal schema {version}")
                step(db)
                version += 1
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
            db.execute(f"PRAGMA application_id={SQLITE_APPLICATION_ID}")
        except JournalError as exc:
            db.execute("ROLLBACK")
            raise JournalError(f"{self.path}: migration failed ({exc}); the file was not modified") from None
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Checkpoint-free close (the WAL is folded by SQLite when the last connection closes)."""
        try:
            self._db.close()
        finally:
            self._release_lock()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------------------

    def append(self, event: JournalEvent, *, durable: bool | None = None) -> int:
        """Append one event in its own transaction; returns its seq.

        ``durable`` (default: True for :data:`DURABLE_EVENTS`) fsyncs the commit before returning.
        """
        if durable is None:
            durable = self.durable_submits and isinstance(event, DURABLE_EVENTS)
        db = self._db
        if durable or db.in_transaction:
            return self.append_many((event,), durable=durable)[0]
        # Fast path (no fsync asked): one INSERT in autocommit mode is its own transaction -- the same
        # all-or-nothing single-event commit as BEGIN IMMEDIATE / INSERT / COMMIT, in one round trip.
        name, payload = encode_event(event)
        try:
            seq = self._insert.execute(_INSERT, (name, payload, event.ts_ms)).lastrowid
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: append failed ({exc}); nothing was written") from None
        return int(seq or 0)

    def append_many(self, events: Iterable[JournalEvent], *, durable: bool | None = None) -> list[int]:
        """Append events in one transaction (all or none); returns their seqs.

        The batch is durable when ``durable`` is True, or (default) when it holds a durable event.
        """
        batch = list(events)
        if not batch:
            return []
        rows = [(*encode_event(e), e.ts_ms) for e in batch]
        if durable is None:
            durable = self.durable_submits and any(isinstance(e, DURABLE_EVENTS) for e in batch)
        db = self._db
        if durable:
            db.execute("PRAGMA synchronous=FULL")
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                seqs = [int(db.execute(_INSERT, r).lastrowid or 0) for r in rows]
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: append failed ({exc}); nothing was written") from None
        finally:
            if durable:
                db.execute("PRAGMA synchronous=NORMAL")
        if durable:
            self.durable_commits += 1
        return seqs

    # -- reading -----------------------------------------------------------------------------------------

    def records(self, after_seq: int = 0) -> Iterator[JournalRecord]:
        """Events with ``seq > after_seq``, in order."""
        return _rows(self._db, self.path, after_seq)

    def last_seq(self) -> int:
        """The newest sequence number (0 when empty)."""
        return int(self._db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def synchronous(self) -> int:
        """The connection's current ``PRAGMA synchronous`` (1 = NORMAL between appends)."""
        return int(self._db.execute("PRAGMA synchronous").fetchone()[0])
