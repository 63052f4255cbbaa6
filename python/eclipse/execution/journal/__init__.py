"""The execution journal: append-only SQLite events, replay into state, recovery against the venue.

See ``docs/journal.md`` for the event list, the schema and its migrations, the durability setting and the
recovery algorithm.
"""

from eclipse.execution.journal.codec import CodecError, decode_event, encode_event
from eclipse.execution.journal.recovery import (
    PositionMismatch,
    RecoveredOrder,
    RecoveryReport,
    UnresolvedOrder,
    recover,
)
from eclipse.execution.journal.state import JournalState, OrderEntry, OrderPhase, apply_fill
from eclipse.execution.journal.store import (
    SCHEMA_VERSION,
    Journal,
    JournalError,
    JournalReader,
    JournalRecord,
    JournalSource,
)

__all__ = [
    "SCHEMA_VERSION",
    "CodecError",
    "Journal",
    "JournalError",
    "JournalReader",
    "JournalRecord",
    "JournalSource",
    "JournalState",
    "OrderEntry",
    "OrderPhase",
    "PositionMismatch",
    "RecoveredOrder",
    "RecoveryReport",
    "UnresolvedOrder",
    "apply_fill",
    "decode_event",
    "encode_event",
    "recover",
]
