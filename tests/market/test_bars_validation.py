"""Bar validation of the OHLCV loader: nonsense prices and volumes are refused naming file, line and problem;
an Excel export (UTF-8 with a byte order mark) loads."""

from __future__ import annotations

import gzip
import itertools
import math
from pathlib import Path

import pytest

from eclipse.errors import DataError
from eclipse.market.bars import Bar, bar_problem, load_ohlcv_csv, parse_ohlcv_csv

HEADER = "ts_ms,open,high,low,close,volume"
GOOD = ["1640991660000,100,101,99,100.5,10", "1640991720000,100.5,102,100,101,12.5"]
BOM = "\ufeff"


def write(tmp_path: Path, text: str, name: str = "bars.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ("-100,101,99,100,1", "non-positive price open=-100.0"),
        ("100,101,-99,100,1", "non-positive price low=-99.0"),
        ("0,0,0,0,1", "non-positive price open=0.0, high=0.0, low=0.0, close=0.0"),
        ("100,101,99,0,1", "non-positive price close=0.0"),
        ("nan,101,99,100,1", "non-finite value open=nan"),
        ("100,inf,99,100,1", "non-finite value high=inf"),
        ("100,101,-inf,100,1", "non-finite value low=-inf"),
        ("100,101,99,NaN,1", "non-finite value close=nan"),
        ("100,101,99,100,nan", "non-finite value volume=nan"),
        ("100,101,99,100,-0.5", "negative volume -0.5"),
        ("100,99,101,100,1", "inconsistent bar: high < low"),
        ("105,101,99,100,1", "inconsistent bar: open/close outside [low, high]"),
        ("100,101,99,98,1", "inconsistent bar: open/close outside [low, high]"),
        ("100,101,99,102,1", "inconsistent bar: open/close outside [low, high]"),
    ],
)
def test_a_bad_bar_is_refused_naming_file_line_and_problem(tmp_path: Path, values: str, problem: str) -> None:
    # the bad bar is the third data row: line 4 (the header is line 1)
    text = "\n".join([HEADER, *GOOD, f"1640991780000,{values}"]) + "\n"
    path = write(tmp_path, text)
    with pytest.raises(DataError) as info:
        load_ohlcv_csv(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line 4: "), message
    assert problem in message, message
    assert "\n" not in message


def test_a_bad_bar_in_a_gzip_file_is_refused_too(tmp_path: Path) -> None:
    text = "\n".join([HEADER, GOOD[0], "1640991720000,100,101,99,100,-3"]) + "\n"
    path = tmp_path / "bars.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(DataError, match=r"bars\.csv\.gz: line 3: negative volume -3\.0"):
        load_ohlcv_csv(path)


def test_valid_edge_bars_are_accepted(tmp_path: Path) -> None:
    # flat bar, open at the low, close at the high, zero volume, tiny prices (an altcoin priced in BTC)
    rows = [
        "1640991660000,100,100,100,100,0",
        "1640991720000,99,101,99,101,1",
        "1640991780000,0.00000123,0.00000125,0.00000121,0.00000122,5e6",
    ]
    frame = load_ohlcv_csv(write(tmp_path, "\n".join([HEADER, *rows]) + "\n"))
    assert len(frame) == 3
    assert frame.bar(2).low == pytest.approx(1.21e-6)


def test_utf8_bom_from_an_excel_export_loads(tmp_path: Path) -> None:
    text = "\r\n".join([HEADER, *GOOD]) + "\r\n"  # Excel: BOM and CRLF
    plain = load_ohlcv_csv(write(tmp_path, text, "plain.csv"))
    excel = load_ohlcv_csv(write(tmp_path, BOM + text, "excel.csv"))
    assert list(excel.bars()) == list(plain.bars())
    assert excel.bar(0) == Bar(1640991660000, 100.0, 101.0, 99.0, 100.5, 10.0)
    gz = tmp_path / "excel.csv.gz"
    gz.write_bytes(gzip.compress((BOM + text).encode()))
    assert list(load_ohlcv_csv(gz).bars()) == list(plain.bars())
    # text already decoded (the BOM kept) parses too
    assert len(parse_ohlcv_csv(iter((BOM + text).splitlines()), "lines")) == 2


def test_a_header_with_invisible_characters_is_shown_as_such(tmp_path: Path) -> None:
    text = "\u200bts_ms,open,high,low,close,volume\n" + GOOD[0] + "\n"  # zero-width space: looks right
    with pytest.raises(DataError) as info:
        load_ohlcv_csv(write(tmp_path, text))
    assert "missing column(s) ts_ms" in str(info.value)
    assert "\\u200b" in str(info.value)  # shown escaped, not invisibly


def test_not_utf8_and_broken_csv_are_data_errors(tmp_path: Path) -> None:
    latin = write(tmp_path, HEADER + "\n" + GOOD[0] + "\n# caf\xe9\n", "latin.csv", encoding="latin-1")
    with pytest.raises(DataError, match=r"latin\.csv: cannot read: not UTF-8 text"):
        load_ohlcv_csv(latin)
    huge = write(tmp_path, HEADER + "\n" + GOOD[0] + '\n"' + "x" * 200_000 + "\n", "huge.csv")
    with pytest.raises(DataError, match=r"huge\.csv: line \d+: not valid CSV"):
        load_ohlcv_csv(huge)


def test_bar_problem_accepts_exactly_the_sane_bars() -> None:
    samples = [-1.0, 0.0, 1.0, 2.0, 3.0, math.nan, math.inf]
    for o, h, lo, c in itertools.product(samples, repeat=4):
        for v in (-1.0, 0.0, 5.0, math.nan):
            prices = (o, h, lo, c)
            sane = (
                all(math.isfinite(x) and x > 0 for x in prices)
                and math.isfinite(v)
                and v >= 0
                and lo <= min(o, c)
                and max(o, c) <= h
            )
            assert (bar_problem(o, h, lo, c, v) is None) == sane, (o, h, lo, c, v)
