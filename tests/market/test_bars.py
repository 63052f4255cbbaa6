"""OHLCV loading: the embedded dataset, plain and gzip files, and errors that name file, line and problem."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from eclipse.errors import DataError
from eclipse.market.bars import Bar, OhlcvFrame, embedded_dataset, load_ohlcv_csv

HEADER = "ts_ms,open,high,low,close,volume\n"
ROWS = [
    "1640991660000,100.0,101.0,99.0,100.5,10.0",
    "1640991720000,100.5,102.0,100.0,101.0,12.5",
    "1640991780000,101.0,101.5,100.5,101.2,0.0",
]


def write(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_embedded_dataset_covers_january_2022() -> None:
    frame = embedded_dataset()
    assert len(frame) == 45_031
    assert int(frame.ts_ms[0]) == 1_640_991_660_000  # 2021-12-31 23:01 UTC
    assert int(frame.ts_ms[-1]) == 1_643_693_460_000  # 2022-02-01 05:31 UTC
    assert frame.ts_ms.dtype == np.int64
    assert frame.close.dtype == np.float64
    assert all(
        getattr(frame, c).flags.c_contiguous for c in ("ts_ms", "open", "high", "low", "close", "volume")
    )
    assert np.all(np.diff(frame.ts_ms) == 60_000)
    assert frame.bar(0) == Bar(1_640_991_660_000, 46319.0, 46385.0, 46319.0, 46377.0, 2300413.7295)


def test_embedded_dataset_is_the_shared_file(btc_1m: dict[str, np.ndarray]) -> None:
    emb = embedded_dataset()
    assert len(emb) == len(btc_1m["ts_ms"])
    for col in ("ts_ms", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(emb, col), btc_1m[col])


def test_plain_and_gzip_load_the_same(tmp_path: Path) -> None:
    text = HEADER + "\n".join(ROWS) + "\n"
    plain = load_ohlcv_csv(write(tmp_path, text))
    gz = tmp_path / "bars.csv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    packed = load_ohlcv_csv(gz)
    assert len(plain) == 3
    assert list(packed.bars()) == list(plain.bars())
    assert plain.bar(2).volume == 0.0
    assert plain.bar(1).close_ms() == 1640991780000


def test_column_order_and_extra_columns_are_accepted(tmp_path: Path) -> None:
    text = "volume,ts_ms,close,low,high,open,trades\n10,1640991660000,100.5,99,101,100,7\n"
    frame = load_ohlcv_csv(write(tmp_path, text))
    assert frame.bar(0) == Bar(1640991660000, 100.0, 101.0, 99.0, 100.5, 10.0)


def test_head_and_iteration() -> None:
    frame = embedded_dataset().head(5)
    assert isinstance(frame, OhlcvFrame)
    assert len(frame) == 5
    bars = list(frame.bars())
    assert [b.ts_ms for b in bars] == frame.ts_ms.tolist()
    assert bars[3] == frame.bar(3)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty file"),
        ("ts_ms,open,high,low,close\n1,1,1,1,1\n", "missing column(s) volume"),
        (HEADER, "no data rows"),
        (HEADER + ROWS[0] + "\n1640991720000,100,x,99,100,1\n", "line 3: not a number"),
        (HEADER + ROWS[0] + "\n1640991720000,100,101,99\n", "line 3: expected 6 fields, got 4"),
        (HEADER + ROWS[1] + "\n" + ROWS[0] + "\n", "line 3: ts_ms 1640991660000 is not after the previous"),
        (HEADER + ROWS[0] + "\n" + ROWS[0] + "\n", "line 3: ts_ms 1640991660000 is not after"),
        (HEADER + "1640991660000,100,99,98,100,1\n", "line 2: inconsistent bar"),
        (HEADER + "1640991660000,100,101,99,100,-1\n", "line 2: negative volume"),
        (HEADER + "1640991660000,100,nan,99,100,1\n", "line 2: non-finite value"),
        (HEADER + "1640991660000.5,100,101,99,100,1\n", "line 2: not a number"),
    ],
)
def test_bad_files_name_the_file_line_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError) as info:
        load_ohlcv_csv(path)
    assert str(info.value).startswith(f"{path}: ")
    assert problem in str(info.value)


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load_ohlcv_csv(missing)
    bad_gz = tmp_path / "bad.csv.gz"
    bad_gz.write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(DataError, match=r"bad\.csv\.gz: cannot read"):
        load_ohlcv_csv(bad_gz)
    with pytest.raises(DataError, match="cannot read"):
        load_ohlcv_csv(tmp_path)  # a directory


def test_frame_columns_must_have_one_length() -> None:
    ts = np.array([1, 2], dtype=np.int64)
    one = np.ones(2)
    with pytest.raises(ValueError, match="column volume"):
        OhlcvFrame(ts, one, one, one, one, np.ones(3))
