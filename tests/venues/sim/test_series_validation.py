"""The simulator's own trades / quotes CSV readers: nonsense refused naming file, line and problem; a UTF-8
byte order mark (an Excel export) is ignored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eclipse.errors import DataError
from eclipse.venues.sim.series import load_quotes_csv, load_trades_csv

TRADES = "ts_ms,trade_id,price,quantity,buyer_maker"
QUOTES = "ts_ms,bid,bid_size,ask,ask_size"


def write(tmp_path: Path, lines: list[str], name: str = "data.csv", prefix: str = "") -> Path:
    path = tmp_path / name
    path.write_text(prefix + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_trades_with_a_bom_load_like_without(tmp_path: Path) -> None:
    rows = [TRADES, "1000,1,100.5,0.25,true", "1001,2,100.75,1.5,false"]
    plain = load_trades_csv(write(tmp_path, rows, "plain.csv"))
    excel = load_trades_csv(write(tmp_path, rows, "excel.csv", prefix="\ufeff"))
    for a, b in zip(plain, excel, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(excel[1], [100.5, 100.75])


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("1002,3,-5,1,true", "line 4: price must be > 0, got -5.0"),
        ("1002,3,0,1,true", "line 4: price must be > 0, got 0.0"),
        ("1002,3,nan,1,true", "line 4: price is not a finite number, got nan"),
        ("1002,3,100,inf,true", "line 4: quantity is not a finite number, got inf"),
        ("1002,3,100,-1,true", "line 4: quantity must be >= 0, got -1.0"),
        ("999,3,100,1,true", "line 4: ts_ms goes backwards, got 999"),
        ("1002,3,abc,1,true", "line 4: price is not a number, got 'abc'"),
        ("1002.5,3,100,1,true", "line 4: ts_ms is not an integer, got '1002.5'"),
        ("1002,3", "line 4: expected 5 fields, got 2"),
    ],
)
def test_bad_trades_name_file_line_and_problem(tmp_path: Path, row: str, problem: str) -> None:
    path = write(tmp_path, [TRADES, "1000,1,100,1,true", "1001,2,101,1,true", row])
    with pytest.raises(DataError) as info:
        load_trades_csv(path)
    assert str(info.value) == f"{path}: {problem}"


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("1001,0,1,101,1", "line 3: bid must be > 0, got 0.0"),
        ("1001,100,1,-1,1", "line 3: ask must be > 0, got -1.0"),
        ("1001,102,1,101,1", "line 3: bid above the ask, got 102.0"),
        ("1001,nan,1,101,1", "line 3: bid is not a finite number, got nan"),
        ("999,100,1,101,1", "line 3: ts_ms goes backwards, got 999"),
    ],
)
def test_bad_quotes_name_file_line_and_problem(tmp_path: Path, row: str, problem: str) -> None:
    path = write(tmp_path, [QUOTES, "1000,100,1,101,1", row])
    with pytest.raises(DataError) as info:
        load_quotes_csv(path)
    assert str(info.value) == f"{path}: {problem}"


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"none\.csv: cannot read: no such file"):
        load_trades_csv(tmp_path / "none.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(f"{TRADES}\n1000,1,100,1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.csv: cannot read: not UTF-8 text"):
        load_trades_csv(latin)
    broken = write(tmp_path, [TRADES, '1000,1,100,1,"' + "x" * 200_000], "broken.csv")
    with pytest.raises(DataError, match=r"broken\.csv: line \d+: not valid CSV"):
        load_trades_csv(broken)
