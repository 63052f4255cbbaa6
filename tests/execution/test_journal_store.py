"""The journal file: append-only events, durability of the submit record, readers, foreign and damaged files
(never modified), one writer, and the v0 -> v1 migration."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from eclipse.contracts import (
    IntentCreated,
    IntentKind,
    KnobChanged,
    OrderAcked,
    OrderSubmitting,
    PostureChanged,
)
from eclipse.execution.journal.codec import CodecError, encode_event
from eclipse.execution.journal.store import (
    APP_ID,
    SCHEMA_VERSION,
    Journal,
    JournalError,
    JournalReader,
)
from eclipse.venues.types import OrderStatus, OrderType, Side

SYM = "BTC/USDT:USDT"


def submitting(cid: str = "c-1", ts: int = 1_000) -> OrderSubmitting:
    return OrderSubmitting(
        ts, "I-1", cid, IntentKind.ENTRY, SYM, Side.BUY, OrderType.MARKET, Decimal("0.01"), None, None,
        False, False, 0,
    )  # fmt: skip


def intent(ts: int = 900) -> IntentCreated:
    return IntentCreated(ts, "I-1", IntentKind.ENTRY, SYM, Side.BUY, Decimal("0.01"), Decimal("40000.5"), 0.7)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_append_assigns_increasing_seqs_and_reads_back_the_same_events(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    events = [intent(), submitting(), OrderAcked(1_100, "c-1", "77", OrderStatus.OPEN, Decimal(0))]
    with Journal.open(path) as j:
        assert j.last_seq() == 0
        assert j.append(events[0]) == 1
        assert j.append_many(events[1:]) == [2, 3]
        assert j.append_many([]) == []
        recs = list(j.records())
    assert [r.event for r in recs] == events
    assert [(r.seq, r.ts_ms, r.name) for r in recs] == [
        (1, 900, "intent.created"), (2, 1_000, "order.submitting"), (3, 1_100, "order.acked"),
    ]  # fmt: skip
    with Journal.open(path) as j:  # reopened: same content, appends continue the sequence
        assert [r.event for r in j.records(after_seq=1)] == events[1:]
        assert j.append(PostureChanged(1_200, "normal", "cautious")) == 4


def test_records_are_read_in_chunks_without_gaps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import eclipse.execution.journal.store as store

    monkeypatch.setattr(store, "_CHUNK", 3)
    with Journal.open(tmp_path / "j.db") as j:
        j.append_many([KnobChanged(i, "k", str(i - 1), str(i)) for i in range(10)])
        assert [r.seq for r in j.records()] == list(range(1, 11))
        assert [r.seq for r in j.records(after_seq=7)] == [8, 9, 10]


def test_the_journal_is_append_only(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with Journal.open(path) as j:
        j.append(intent())
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE events SET payload = '{}'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM events")
    db.close()


def test_submit_record_commits_with_synchronous_full_the_rest_with_normal(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.db") as j:
        trace: list[str] = []
        j._db.set_trace_callback(trace.append)
        j.append(intent())
        assert j.durable_commits == 0
        assert not any("synchronous" in s for s in trace)
        trace.clear()
        j.append(submitting())
        assert j.durable_commits == 1
        full, insert, commit = (
            trace.index("PRAGMA synchronous=FULL"), next(i for i, s in enumerate(trace) if "INSERT" in s),
            trace.index("COMMIT"),
        )  # fmt: skip
        assert full < insert < commit < trace.index("PRAGMA synchronous=NORMAL")
        assert j.synchronous() == 1  # back to NORMAL
        j.append_many([intent(), submitting("c-2")])  # a batch holding a submit is durable
        j.append(PostureChanged(5, "a", "b"), durable=True)  # and anything can ask for it
        assert j.durable_commits == 3
        mode = j._db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    with Journal.open(tmp_path / "fast.db", durable_submits=False) as j:
        j.append(submitting())
        assert j.durable_commits == 0


def test_a_batch_is_all_or_nothing(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.db") as j:
        j.append(intent())
        with pytest.raises(CodecError, match="not a journal event"):
            j.append_many([submitting(), "not an event"])  # type: ignore[list-item]
        j._db.execute(
            "CREATE TEMP TRIGGER boom BEFORE INSERT ON events WHEN NEW.name = 'posture.changed'"
            " BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )
        with pytest.raises(JournalError, match=r"append failed .disk says no.; nothing was written"):
            j.append_many([submitting(), PostureChanged(5, "a", "b")])
        assert j.last_seq() == 1
        assert j.synchronous() == 1  # back to NORMAL after the failed durable batch
        assert j.durable_commits == 0


def test_a_reader_never_blocks_the_writer_and_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with Journal.open(path) as j:
        j.append_many([KnobChanged(i, "k", "a", "b") for i in range(5000)])
        with Journal.open_reader(path) as r:
            it = r.records()
            first = next(it)  # a read in progress
            assert first.seq == 1
            j._db.execute("PRAGMA busy_timeout=0")  # the writer would fail at once if it had to wait
            assert j.append(intent()) == 5001
            assert r.last_seq() == 5001
            assert sum(1 for _ in it) == 5000  # the reader sees a consistent, growing prefix
            with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only"):
                r._db.execute("INSERT INTO meta(key, value) VALUES ('x', 'y')")


def test_reader_of_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    with pytest.raises(JournalError, match="no journal here"):
        JournalReader(path)
    assert not path.exists()


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with Journal.open(path), pytest.raises(JournalError, match="open for writing"):
        Journal.open(path)
    with Journal.open(path) as j:  # released on close
        assert j.last_seq() == 0


def _foreign_sqlite(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE accounts(id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO accounts(name) VALUES ('x')")
    db.commit()
    db.close()


def _other_app(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('app', 'eclipse-sim'), ('schema_version', '1')")
    db.commit()
    db.close()


def _newer(path: Path) -> None:
    with Journal.open(path) as j:
        j.append(intent())
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()


def _damaged(path: Path) -> None:
    with Journal.open(path) as j:
        j.append_many([KnobChanged(i, "k", "a", "b" * 200) for i in range(200)])
    data = bytearray(path.read_bytes())
    data[4096 + 10 : 4096 + 3000] = b"\xa5" * 2990  # scribble over a b-tree page, keep the header
    path.write_bytes(bytes(data))


def _bad_event(path: Path) -> None:
    with Journal.open(path) as j:
        j.append(intent())
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER events_no_update")
    db.execute("UPDATE events SET payload = '{\"ts_ms\": 1}'")
    db.commit()
    db.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"ts,open,high\n1,2,3\n" * 50), "not an SQLite database"),
        (_foreign_sqlite, "another application .no meta table"),
        (_other_app, "another application .app='eclipse-sim'"),
        (_newer, "written by a newer Eclipse"),
        (_damaged, "damaged"),
    ],
    ids=["not-sqlite", "foreign-sqlite", "other-app", "newer-schema", "damaged"],
)
def test_unusable_files_give_a_clear_error_and_are_never_modified(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "j.db"
    make(path)
    before = digest(path)
    names = sorted(p.name for p in tmp_path.iterdir() if p.name == "j.db" or p.name.endswith(".bak"))
    for opener in (Journal.open, Journal.open_reader):
        with pytest.raises(JournalError, match=message) as err:
            opener(path)
        assert str(path) in str(err.value)
        assert "not modified" in str(err.value) or "newer" in str(err.value)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name == "j.db" or p.name.endswith(".bak")) == names


def test_an_event_that_does_not_decode_is_reported_with_its_seq(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    _bad_event(path)
    with Journal.open_reader(path) as r, pytest.raises(JournalError, match="event seq 1 does not decode"):
        list(r.records())


# --- migration --------------------------------------------------------------------------------------------


def _v0_file(path: Path, events: list[object]) -> None:
    """The pre-release layout: journal(seq, name, payload), schema_version 0."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('app', ?), ('schema_version', '0')", (APP_ID,))
    db.execute("CREATE TABLE journal(seq INTEGER PRIMARY KEY, name TEXT NOT NULL, payload TEXT NOT NULL)")
    for e in events:
        db.execute("INSERT INTO journal(name, payload) VALUES (?, ?)", encode_event(e))  # type: ignore[arg-type]
    db.commit()
    db.close()


def test_v0_file_is_migrated_to_v1_after_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    events = [intent(), submitting(), OrderAcked(1_100, "c-1", "77", OrderStatus.FILLED, Decimal("0.01"))]
    _v0_file(path, events)
    old = digest(path)
    with pytest.raises(JournalError, match="open it once with the writer"):
        Journal.open_reader(path)
    assert digest(path) == old
    with Journal.open(path) as j:
        assert [(r.seq, r.ts_ms, r.event) for r in j.records()] == [
            (1, 900, events[0]), (2, 1_000, events[1]), (3, 1_100, events[2]),
        ]  # fmt: skip
        assert j.append(PostureChanged(2_000, "a", "b")) == 4
    with Journal.open_reader(path) as r:
        assert r.last_seq() == 4
    db = sqlite3.connect(path)
    assert dict(db.execute("SELECT key, value FROM meta"))["schema_version"] == str(SCHEMA_VERSION)
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'journal'").fetchone()[0] == 0
    db.close()
    backup = tmp_path / "old.db.v0.bak"
    bk = sqlite3.connect(backup)
    assert bk.execute("SELECT count(*) FROM journal").fetchone()[0] == 3  # the untouched v0 copy
    bk.close()


def test_a_failed_migration_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _v0_file(path, [intent()])
    db = sqlite3.connect(path)
    db.execute("INSERT INTO journal(name, payload) VALUES ('knob.changed', ?)", (json.dumps({"knob": "x"}),))
    db.commit()
    db.close()
    before = digest(path)
    with pytest.raises(JournalError, match=r"migration failed .v0 event seq 2 has no ts_ms"):
        Journal(path, backup_on_migrate=False)
    assert digest(path) == before


def test_a_newer_file_with_an_uncheckpointed_wal_is_not_touched(tmp_path: Path) -> None:
    """A newer Eclipse crashed with its last commits still in the WAL: refusing it must not fold them in."""
    live = tmp_path / "live"
    live.mkdir()
    with Journal.open(live / "j.db") as j:
        j.append(intent())
        j._db.execute("PRAGMA wal_autocheckpoint=0")
        j._db.execute("DROP TRIGGER events_no_update")  # the newer build's business
        j._db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        crashed = tmp_path / "crashed"
        crashed.mkdir()
        for name in ("j.db", "j.db-wal"):
            (crashed / name).write_bytes((live / name).read_bytes())
    path = crashed / "j.db"
    before = (digest(path), digest(crashed / "j.db-wal"))
    for opener in (Journal.open, Journal.open_reader):
        with pytest.raises(JournalError, match=r"newer Eclipse .journal schema 99"):
            opener(path)
    assert (digest(path), digest(crashed / "j.db-wal")) == before
