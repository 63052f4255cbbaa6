"""No call may crash the interpreter: a battery of hostile calls runs in a child process; each must return or
raise an ordinary exception (a Rust panic surfaces as ``PanicException``, a BaseException: also a failure)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    r"""
    import json, sys
    import numpy as np
    from eclipse import _core as core

    outcomes = {}
    x = np.linspace(1.0, 2.0, 50)
    h, lo, v = x * 1.01, x * 0.99, np.ones(50)
    ts = (1_640_995_200_000 + 60_000 * np.arange(50)).astype(np.int64)
    BIG = [2**31, 2**32 + 1, 2**62, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63), -(2**64)]
    calls = []
    for p in BIG + [0, -1]:
        calls += [
            (f"sma p={p}", lambda p=p: core.sma(x, p)),
            (f"ema p={p}", lambda p=p: core.ema(x, p)),
            (f"rsi p={p}", lambda p=p: core.rsi(x, p)),
            (f"atr p={p}", lambda p=p: core.atr(h, lo, x, p)),
            (f"atr_pct p={p}", lambda p=p: core.atr_pct(h, lo, x, p)),
            (f"bollinger p={p}", lambda p=p: core.bollinger(x, p, 2.0)),
            (f"vwap w={p}", lambda p=p: core.vwap(h, lo, x, v, p)),
            (f"momentum n={p}", lambda p=p: core.momentum(x, p)),
            (f"volume_ratio w={p}", lambda p=p: core.volume_ratio(v, p)),
            (f"volume_zscore w={p}", lambda p=p: core.volume_zscore(v, p)),
            (f"ema_trend fast={p}", lambda p=p: core.ema_trend(x, p, 3)),
            (f"ema_trend slow={p}", lambda p=p: core.ema_trend(x, 3, p)),
            (f"resample minutes={p}", lambda p=p: core.resample(ts, x, h, lo, x, v, p)),
        ]
    for k in [float("nan"), float("inf"), -1.0, -0.0, 1e308, 5e-324]:
        calls.append((f"bollinger k={k}", lambda k=k: core.bollinger(x, 3, k)))
    huge = np.full(3, 1e308)
    tiny = np.full(3, 5e-324)
    for name, arr in [("huge", huge), ("tiny", tiny), ("neg", -x[:3]), ("zero", np.zeros(3))]:
        calls += [
            (f"sma {name}", lambda a=arr: core.sma(a, 2)),
            (f"rsi {name}", lambda a=arr: core.rsi(a, 2)),
            (f"bollinger {name}", lambda a=arr: core.bollinger(a, 2, 2.0)),
            (f"atr_pct {name}", lambda a=arr: core.atr_pct(a, a, a, 2)),
            (f"momentum {name}", lambda a=arr: core.momentum(a, 1)),
            (f"vwap {name}", lambda a=arr: core.vwap(a, a, a, a, 2)),
            (f"volume_zscore {name}", lambda a=arr: core.volume_zscore(a, 2)),
            (f"volume_ratio {name}", lambda a=arr: core.volume_ratio(a, 2)),
        ]
    bad_ts = {
        "unsorted": ts[::-1].copy(), "duplicate": np.repeat(ts[:25], 2), "negative": ts - 2 * 10**12 * 1000,
        "not minute": ts + 7, "max": np.full(50, 2**63 - 1, dtype=np.int64), "min": np.full(50, -(2**63),
        dtype=np.int64),
    }
    for name, t in bad_ts.items():
        for m in (1, 5, 60, 2**40):
            calls.append((f"resample {name} m={m}", lambda t=t, m=m: core.resample(t, x, h, lo, x, v, m)))
    calls += [
        ("sma no args", lambda: core.sma()),
        ("sma extra", lambda: core.sma(x, 3, 4)),
        ("sma bool", lambda: core.sma(x, True)),
        ("sma zero-d", lambda: core.sma(np.float64(3.0), 2)),
        ("sma big-endian", lambda: core.sma(x.astype(">f8"), 2)),
        ("sma bytes", lambda: core.sma(b"abcdefgh", 2)),
        ("sma memoryview", lambda: core.sma(memoryview(x), 2)),
        ("sma masked", lambda: core.sma(np.ma.masked_array(x, mask=x > 1.5), 2)),
        ("sma broadcast", lambda: core.sma(np.broadcast_to(1.0, 10), 2)),
        ("sma 0-stride", lambda: core.sma(np.lib.stride_tricks.as_strided(x, (10,), (0,)), 2)),
    ]
    # FeatureConfig / FeatureState
    for field in ("ema_fast", "ema_slow", "rsi_period", "atr_period", "bb_period", "vwap_window", "mom_fast",
                  "mom_slow", "volume_window"):
        for val in (10**15, 2**63 - 1, 2**64, -1, 0):
            calls.append((f"FeatureState({field}={val})",
                          lambda f=field, v=val: core.FeatureState(core.FeatureConfig(**{f: v}))))
    for k in (float("nan"), float("inf"), -1.0):
        calls.append((f"FeatureConfig(bb_k={k})", lambda k=k: core.FeatureConfig(bb_k=k)))
    MAX_TS = (2**63 - 1) // 60_000 * 60_000

    def feed(ts_list):
        s = core.FeatureState()
        for t in ts_list:
            try:
                s.update(t, 1.0, 1.0, 1.0, 1.0, 1.0)
            except ValueError:
                pass
        s.features("1h"); s.to_bytes()
        return s.gaps
    calls += [
        ("update ts extremes", lambda: feed([0, 60_000, 2**62 // 60_000 * 60_000, MAX_TS])),
        ("update ts negative", lambda: feed([-(2**62) // 60_000 * 60_000, -60_000, 0])),
        ("update ts beyond i64", lambda: feed([2**63, 2**64])),
        ("update huge jump", lambda: feed([-(2**62) // 60_000 * 60_000, (2**62) // 60_000 * 60_000])),
        ("update wrong types", lambda: core.FeatureState().update("a", 1, 1, 1, 1, 1)),
        ("update missing", lambda: core.FeatureState().update(0, 1.0)),
        ("update huge prices", lambda: core.FeatureState().update(0, *([1e308] * 5))),
        ("features bad tf", lambda: core.FeatureState().features("")),
        ("bars bad tf", lambda: core.FeatureState().bars("1d")),
        ("Scorer None state", lambda: core.Scorer().score(None)),
        ("ScorerConfig bad", lambda: core.ScorerConfig(min_confidence=float("nan"))),
        ("ScorerConfig profile None", lambda: core.ScorerConfig.profile(None)),
    ]
    for label, fn in calls:
        print(label, file=sys.stderr, flush=True)
        try:
            fn()
            outcomes[label] = "ok"
        except Exception as e:
            outcomes[label] = type(e).__name__
        except BaseException as e:  # pyo3_runtime.PanicException
            outcomes[label] = "PANIC " + type(e).__name__ + ": " + str(e)[:200]
    json.dump(outcomes, sys.stdout)
    """
)


def test_hostile_calls_do_not_crash() -> None:
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=600)
    last = proc.stderr.strip().splitlines()[-1:] if proc.stderr.strip() else []
    assert proc.returncode == 0, (
        f"the interpreter died (return code {proc.returncode}) during the call {last}; stderr tail:\n"
        f"{proc.stderr[-2000:]}"
    )
    outcomes = json.loads(proc.stdout)
    panics = {k: v for k, v in outcomes.items() if v.startswith("PANIC")}
    assert not panics, f"Rust panics reached Python: {panics}"
    # the errors that are specified must be the specified type
    for p in ("0", "-1"):
        assert outcomes[f"sma p={p}"] == "ValueError", outcomes[f"sma p={p}"]
