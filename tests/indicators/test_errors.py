"""Input validation of every batch function (module docstring of ``_core.pyi``): NaN/inf, empty input, bad
periods, periods longer than the data, mismatched lengths, wrong dtypes/containers/dimensions, non-contiguous
views, read-only arrays, and inputs left untouched."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from eclipse import _core as core

from . import reference as ref


@dataclass(frozen=True)
class Fn:
    name: str
    arrays: tuple[str, ...]  # names of the array arguments, in order
    params: dict[str, Any]  # integer parameters (and bollinger's k) passed by keyword

    @property
    def func(self) -> Callable[..., Any]:
        return getattr(core, self.name)

    def call(self, arrays: dict[str, Any], **params: Any) -> Any:
        return self.func(*(arrays[a] for a in self.arrays), **{**self.params, **params})


FNS = [
    Fn("sma", ("x",), {"period": 3}),
    Fn("ema", ("x",), {"period": 3}),
    Fn("rsi", ("close",), {"period": 3}),
    Fn("atr", ("high", "low", "close"), {"period": 3}),
    Fn("atr_pct", ("high", "low", "close"), {"period": 3}),
    Fn("bollinger", ("close",), {"period": 3, "k": 2.0}),
    Fn("vwap", ("high", "low", "close", "volume"), {"window": 3}),
    Fn("momentum", ("close",), {"n": 3}),
    Fn("volume_ratio", ("volume",), {"window": 3}),
    Fn("volume_zscore", ("volume",), {"window": 3}),
    Fn("ema_trend", ("close",), {"fast": 2, "slow": 3}),
]
INT_PARAMS = [(f, p) for f in FNS for p in f.params if p != "k"]
ARRAY_ARGS = [(f, a) for f in FNS for a in f.arrays]


def fn_id(f: Fn) -> str:
    return f.name


def data(n: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    d = ref.random_ohlcv(n, scale=1.0, seed=seed)
    d["volume"] = d["volume"] + 1.0
    d["x"] = d["close"]
    return d


def outputs(result: Any) -> list[np.ndarray]:
    return list(result) if isinstance(result, tuple) else [result]


def named(name: str) -> str:
    """Regex that finds ``name`` as a word (``x`` must not match inside "index")."""
    return rf"(?<![A-Za-z_]){re.escape(name)}(?![A-Za-z_])"


# --- non-finite input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(("fn", "arg"), ARRAY_ARGS, ids=[f"{f.name}-{a}" for f, a in ARRAY_ARGS])
@pytest.mark.parametrize("index", [0, 6, 15])
def test_non_finite_input_names_argument_and_index(fn: Fn, arg: str, bad: float, index: int) -> None:
    d = data()
    x = d[arg].copy()
    x[index] = bad
    d[arg] = x
    with pytest.raises(ValueError, match=named(arg)) as info:
        fn.call(d)
    assert re.search(rf"(?<!\d){index}(?!\d)", str(info.value)), f"index {index} not in {info.value!s}"


def test_non_finite_reports_first_bad_index() -> None:
    x = data()["close"]
    x[9] = np.nan
    x[4] = np.inf
    with pytest.raises(ValueError, match=r"(?<!\d)4(?!\d)"):
        core.sma(x, 3)


# --- sizes and periods --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", FNS, ids=fn_id)
def test_empty_input_gives_empty_output(fn: Fn) -> None:
    d = {a: np.empty(0, dtype=np.float64) for a in fn.arrays}
    for out in outputs(fn.call(d)):
        assert isinstance(out, np.ndarray)
        assert out.dtype == np.float64
        assert out.shape == (0,)


@pytest.mark.parametrize("value", [0, -1, -(2**40)])
@pytest.mark.parametrize(("fn", "param"), INT_PARAMS, ids=[f"{f.name}-{p}" for f, p in INT_PARAMS])
def test_period_below_one_is_value_error(fn: Fn, param: str, value: int) -> None:
    with pytest.raises(ValueError, match=named(param)):
        fn.call(data(), **{param: value})


@pytest.mark.parametrize("extra", [1, 2, 10**6, 10**12])
@pytest.mark.parametrize(("fn", "param"), INT_PARAMS, ids=[f"{f.name}-{p}" for f, p in INT_PARAMS])
def test_period_longer_than_input_is_all_nan(fn: Fn, param: str, extra: int) -> None:
    d = data(16)
    for out in outputs(fn.call(d, **{param: 16 + extra})):
        assert out.shape == (16,)
        assert out.dtype == np.float64
        assert np.isnan(out).all()


@pytest.mark.parametrize("fn", [f for f in FNS if len(f.arrays) > 1], ids=fn_id)
def test_mismatched_lengths_name_the_arguments(fn: Fn) -> None:
    for short in fn.arrays:
        d = data(16)
        d[short] = d[short][:15].copy()
        with pytest.raises(ValueError, match=r"\w") as info:
            fn.call(d)
        msg = str(info.value)
        assert re.search(named(short), msg), f"{short!r} not named in {msg!r}"
        others = [a for a in fn.arrays if a != short]
        assert any(re.search(named(o), msg) for o in others), f"none of {others} named in {msg!r}"


# --- types --------------------------------------------------------------------------------------------------


def _int64(x: np.ndarray) -> Any:
    return x.astype(np.int64)


def _float32(x: np.ndarray) -> Any:
    return x.astype(np.float32)


def _list(x: np.ndarray) -> Any:
    return x.tolist()


def _two_d(x: np.ndarray) -> Any:
    return x.reshape(2, -1)


def _column(x: np.ndarray) -> Any:
    return x.reshape(-1, 1)


def _none(x: np.ndarray) -> Any:
    return None


def _object(x: np.ndarray) -> Any:
    return x.astype(object)


BAD_TYPES = [_int64, _float32, _list, _two_d, _column, _none, _object]


@pytest.mark.parametrize("convert", BAD_TYPES, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize(("fn", "arg"), ARRAY_ARGS, ids=[f"{f.name}-{a}" for f, a in ARRAY_ARGS])
def test_wrong_type_is_type_error_naming_argument(
    fn: Fn, arg: str, convert: Callable[[np.ndarray], Any]
) -> None:
    d = data()
    d[arg] = convert(d[arg])
    with pytest.raises(TypeError, match=named(arg)):
        fn.call(d)


@pytest.mark.parametrize("bad", [1.5, "3", None])
def test_non_integer_period_is_type_error(bad: Any) -> None:
    with pytest.raises(TypeError):
        core.sma(data()["close"], bad)


# --- memory layout ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", FNS, ids=fn_id)
@pytest.mark.parametrize("step", [2, 3, -1, -2])
def test_non_contiguous_view_same_as_contiguous_copy(fn: Fn, step: int) -> None:
    big = data(64, seed=3)
    views = {a: big[a][::step] for a in fn.arrays}
    assert not any(v.flags.c_contiguous for v in views.values())
    copies = {a: np.ascontiguousarray(v) for a, v in views.items()}
    for got, want in zip(outputs(fn.call(views)), outputs(fn.call(copies)), strict=True):
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fn", FNS, ids=fn_id)
def test_read_only_input_and_inputs_untouched(fn: Fn) -> None:
    d = data(40, seed=4)
    ro = {}
    for a in fn.arrays:
        x = d[a].copy()
        x.flags.writeable = False
        ro[a] = x
    before = {a: x.copy() for a, x in ro.items()}
    res = outputs(fn.call(ro))
    for a, x in ro.items():
        np.testing.assert_array_equal(x, before[a])
    for out in res:
        assert out.flags.writeable
        for x in ro.values():
            assert not np.shares_memory(out, x)


@pytest.mark.parametrize("fn", FNS, ids=fn_id)
def test_bigger_views_of_memory_offset(fn: Fn) -> None:
    """A contiguous slice starting mid-buffer (non-zero offset) reads the right elements."""
    big = data(64, seed=5)
    sl = {a: big[a][7:50] for a in fn.arrays}
    copies = {a: sl[a].copy() for a in fn.arrays}
    for got, want in zip(outputs(fn.call(sl)), outputs(fn.call(copies)), strict=True):
        np.testing.assert_array_equal(got, want)
