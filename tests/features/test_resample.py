"""``resample`` against an independent pandas reference (floor ts to the UTC bucket, first open, max high, min
low, last close, sum volume, count), with real and synthetic gaps and the trailing incomplete bucket."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .support import (
    BAR_FIELDS,
    HOUR0,
    MINUTE,
    core_resample,
    random_bars,
    resample_numpy,
    resample_reference,
    take,
)

MINUTES = [1, 3, 5, 15, 60, 240, 1440]


def assert_resample_equal(got: dict[str, np.ndarray], want: dict[str, np.ndarray], what: str = "") -> None:
    assert got["ts_ms"].dtype == np.int64, what
    assert got["count"].dtype == np.int64, what
    for k in ("open", "high", "low", "close", "volume"):
        assert got[k].dtype == np.float64, (what, k)
    n = len(want["ts_ms"])
    for k in (*BAR_FIELDS, "count"):
        assert got[k].shape == (n,), f"{what} {k}: {got[k].shape} != {(n,)}"
    np.testing.assert_array_equal(got["ts_ms"], want["ts_ms"], err_msg=f"{what} ts_ms")
    np.testing.assert_array_equal(got["count"], want["count"], err_msg=f"{what} count")
    for k in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(got[k], want[k], err_msg=f"{what} {k}")
    np.testing.assert_allclose(got["volume"], want["volume"], rtol=1e-12, atol=0, err_msg=f"{what} volume")


def check(d: dict[str, np.ndarray], minutes: int) -> dict[str, np.ndarray]:
    got = core_resample(d, minutes)
    assert_resample_equal(got, resample_reference(d, minutes), f"resample({minutes})")
    size = minutes * MINUTE
    assert np.all(got["ts_ms"] % size == 0), "buckets aligned to UTC"
    assert np.all(np.diff(got["ts_ms"]) > 0)
    assert np.all((got["count"] >= 1) & (got["count"] <= minutes))
    return got


def test_references_agree() -> None:
    d = random_bars(3000, seed=3, gap_prob=0.05)
    for m in MINUTES:
        assert_resample_equal(resample_numpy(d, m), resample_reference(d, m), f"refs {m}")


@pytest.mark.parametrize("minutes", MINUTES)
@pytest.mark.parametrize("gap_prob", [0.0, 0.03, 0.3])
def test_random_bars(minutes: int, gap_prob: float) -> None:
    check(random_bars(5000, seed=minutes, gap_prob=gap_prob, start_ts=HOUR0 + 13 * MINUTE), minutes)


@pytest.mark.parametrize("minutes", MINUTES)
def test_real_altbtc_with_gaps(altbtc_1m: dict[str, np.ndarray], minutes: int) -> None:
    got = check(altbtc_1m, minutes)
    if minutes > 1:
        assert (got["count"] < minutes).any(), "the altbtc gaps must show as short buckets"


@pytest.mark.parametrize("minutes", MINUTES)
def test_real_btc(btc_1m: dict[str, np.ndarray], minutes: int) -> None:
    got = check(btc_1m, minutes)
    # no gaps: all buckets full except possibly the first (the file starts at 23:01)
    assert (got["count"][1:] == minutes).all()


def test_minutes_one_is_identity() -> None:
    d = random_bars(500, seed=1, gap_prob=0.1)
    got = core_resample(d, 1)
    for k in BAR_FIELDS:
        np.testing.assert_array_equal(got[k], d[k])
    np.testing.assert_array_equal(got["count"], np.ones(500, dtype=np.int64))


def full_hours(n_hours: int, seed: int = 0) -> dict[str, np.ndarray]:
    return random_bars(60 * n_hours, seed=seed, start_ts=HOUR0)


def test_missing_last_minute_of_a_bucket() -> None:
    """The bucket without its last minute closes when the next bucket's bar arrives, with count 4."""
    d = full_hours(1)
    keep = np.ones(60, bool)
    keep[4] = False  # minute 4: last minute of the first 5m bucket
    keep[29] = False  # last minute of the 25-30 bucket
    got = check(take(d, keep), 5)
    assert got["count"].tolist() == [4, 5, 5, 5, 5, 4, 5, 5, 5, 5, 5, 5]
    assert got["close"][0] == d["close"][3]


def test_whole_missing_buckets() -> None:
    d = full_hours(3)
    keep = np.ones(180, bool)
    keep[15:45] = False  # two whole 15m buckets missing
    keep[60:120] = False  # a whole hour missing
    got5 = check(take(d, keep), 5)
    got15 = check(take(d, keep), 15)
    got60 = check(take(d, keep), 60)
    assert got15["ts_ms"].tolist() == [HOUR0 + m * MINUTE for m in (0, 45, 120, 135, 150, 165)]
    assert got60["ts_ms"].tolist() == [HOUR0, HOUR0 + 120 * 60_000]
    assert got60["count"].tolist() == [30, 60]
    assert len(got5["ts_ms"]) == 36 - 6 - 12


def test_trailing_incomplete_bucket_not_returned() -> None:
    d = full_hours(2)
    for cut in (1, 2, 59, 61, 119):
        got = check(take(d, slice(0, cut)), 60)
        assert len(got["ts_ms"]) == (0 if cut < 60 else 1)
        got5 = check(take(d, slice(0, cut)), 5)
        assert len(got5["ts_ms"]) == cut // 5
    got = check(take(d, slice(0, 120)), 60)
    assert len(got["ts_ms"]) == 2


def test_trailing_bucket_missing_only_its_last_minute_is_still_open() -> None:
    d = full_hours(1)
    keep = np.ones(60, bool)
    keep[59] = False
    got = check(take(d, keep), 60)
    assert len(got["ts_ms"]) == 0


def test_first_bucket_partial() -> None:
    d = random_bars(100, seed=2, start_ts=HOUR0 + 58 * MINUTE)
    got = check(d, 60)
    assert got["ts_ms"][0] == HOUR0
    assert got["count"][0] == 2


def test_empty_input() -> None:
    e = {k: np.empty(0, dtype=np.int64 if k == "ts_ms" else np.float64) for k in BAR_FIELDS}
    got = core_resample(e, 5)
    for k in (*BAR_FIELDS, "count"):
        assert got[k].shape == (0,)


@pytest.mark.parametrize("minutes", [0, -5])
def test_minutes_below_one(minutes: int) -> None:
    d = random_bars(10)
    with pytest.raises(ValueError, match="minutes"):
        core_resample(d, minutes)


def test_mismatched_lengths_and_types() -> None:
    d = random_bars(10)
    bad = dict(d, volume=d["volume"][:9].copy())
    with pytest.raises(ValueError, match="volume"):
        core_resample(bad, 5)
    with pytest.raises(TypeError, match="ts_ms"):
        core_resample(dict(d, ts_ms=d["ts_ms"].astype(np.float64)), 5)
    with pytest.raises(TypeError, match="open"):
        core_resample(dict(d, open=d["open"].tolist()), 5)
    h = d["high"].copy()
    h[3] = np.nan
    with pytest.raises(ValueError, match="high"):
        core_resample(dict(d, high=h), 5)


def test_non_contiguous_inputs() -> None:
    d = random_bars(400, seed=4, gap_prob=0.1)
    view = {k: v[::2] for k, v in d.items()}
    copy = {k: np.ascontiguousarray(v) for k, v in view.items()}
    a, b = core_resample(view, 15), core_resample(copy, 15)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


@settings(deadline=None, max_examples=200)
@given(
    steps=st.lists(st.sampled_from([1, 1, 1, 1, 2, 3, 4, 5, 6, 14, 15, 16, 59, 60, 61, 300]), max_size=150),
    start=st.integers(0, 1440),
    minutes=st.sampled_from([1, 2, 3, 5, 7, 15, 60, 90]),
)
def test_property_against_reference(steps: list[int], start: int, minutes: int) -> None:
    n = len(steps)
    d = random_bars(n, seed=n)
    if n:
        d["ts_ms"] = (HOUR0 + start * MINUTE + MINUTE * (np.cumsum(steps) - steps[0])).astype(np.int64)
    check(d, minutes)
