"""FeatureState.to_bytes / from_bytes: a restored state continues exactly like the original; corrupt blobs
raise ValueError and never crash the interpreter (checked in a child process)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

from eclipse import _core as core

from .support import SMALL_CONFIG, bar_args, random_bars


def snapshot(state: Any) -> tuple:
    feats = {
        tf: {k: ("nan" if math.isnan(v) else v) for k, v in state.features(tf).items()}
        for tf in core.TIMEFRAMES
    }
    return (
        feats,
        {tf: state.bars(tf) for tf in core.TIMEFRAMES},
        state.last_ts_ms,
        state.gaps,
        state.config.to_dict(),
    )


@pytest.mark.parametrize("cfg", [None, SMALL_CONFIG], ids=["default", "small"])
@pytest.mark.parametrize("cut", [0, 1, 7, 299, 1234, 2999])
def test_restore_mid_stream_then_continue_identically(cfg: dict | None, cut: int) -> None:
    d = random_bars(3000, seed=cut, gap_prob=0.01)
    bars = bar_args(d)
    a = core.FeatureState(core.FeatureConfig(**(cfg or {})))
    for b in bars[:cut]:
        a.update(*b)
    blob = a.to_bytes()
    assert isinstance(blob, bytes)
    b_ = core.FeatureState.from_bytes(blob)
    assert b_.to_bytes() == blob
    assert snapshot(b_) == snapshot(a)
    for i, bar in enumerate(bars[cut:]):
        assert a.update(*bar) == b_.update(*bar)
        if i % 97 == 0 or i == len(bars) - cut - 1:
            assert snapshot(b_) == snapshot(a), f"bar {cut + i}"
    assert snapshot(b_) == snapshot(a)
    assert b_.to_bytes() == a.to_bytes()


def test_restored_state_is_independent() -> None:
    bars = bar_args(random_bars(200, seed=2))
    a = core.FeatureState(core.FeatureConfig(**SMALL_CONFIG))
    for b in bars[:100]:
        a.update(*b)
    b_ = core.FeatureState.from_bytes(a.to_bytes())
    for b in bars[100:150]:
        a.update(*b)
    assert b_.bars("1m") == 100
    assert a.bars("1m") == 150


def test_real_btc_restore(btc_1m: dict[str, np.ndarray]) -> None:
    bars = bar_args(btc_1m)
    a = core.FeatureState()
    for b in bars[:30_000]:
        a.update(*b)
    b_ = core.FeatureState.from_bytes(a.to_bytes())
    for bar in bars[30_000:]:
        a.update(*bar)
        b_.update(*bar)
    assert snapshot(a) == snapshot(b_)
    assert a.to_bytes() == b_.to_bytes()


CHILD = textwrap.dedent(
    """
    import json, random, sys
    import numpy as np
    from eclipse import _core as core

    sys.path.insert(0, sys.argv[1])
    from features.support import SMALL_CONFIG, bar_args, random_bars

    results = {}

    def attempt(label, blob):
        try:
            core.FeatureState.from_bytes(blob)
            results[label] = "accepted"
        except ValueError:
            results[label] = "ValueError"
        except Exception as e:  # a crash would end the process instead
            results[label] = f"{type(e).__name__}: {e}"

    state = core.FeatureState(core.FeatureConfig(**SMALL_CONFIG))
    for b in bar_args(random_bars(500, seed=1, gap_prob=0.02)):
        state.update(*b)
    blob = state.to_bytes()
    rng = random.Random(7)
    attempt("empty", b"")
    for n in range(len(blob)):  # every truncation
        attempt(f"truncated to {n}", blob[:n])
    for i in range(len(blob)):  # every single-byte corruption
        attempt(f"byte {i} xor 0x01", blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1:])
    for i in rng.sample(range(len(blob)), min(len(blob), 300)):
        attempt(f"byte {i} xor 0x80", blob[:i] + bytes([blob[i] ^ 0x80]) + blob[i + 1:])
        if blob[i] != 0xFF:  # (setting a 0xff byte to 0xff is no corruption)
            attempt(f"byte {i} = 0xff", blob[:i] + b"\\xff" + blob[i + 1:])
    for k in range(300):
        n = rng.choice([1, 2, 4, 8, 16, 64, 256, len(blob) - 1, len(blob), len(blob) + 1, 4 * len(blob)])
        attempt(f"random {k} ({n} bytes)", bytes(rng.getrandbits(8) for _ in range(n)))
    attempt("appended byte", blob + b"\\x00")
    attempt("doubled", blob + blob)
    attempt("all zero", bytes(len(blob)))
    attempt("all 0xff", b"\\xff" * len(blob))
    json.dump({"size": len(blob), "results": results}, sys.stdout)
    """
)


def test_corrupt_blobs_raise_value_error_without_crashing() -> None:
    tests_dir = str(__import__("pathlib").Path(__file__).resolve().parent.parent)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, tests_dir], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, (
        f"the child process died (return code {proc.returncode}; negative = killed by that signal): "
        f"stderr tail:\n{proc.stderr[-3000:]}"
    )
    out = json.loads(proc.stdout)
    wrong = {k: v for k, v in out["results"].items() if v != "ValueError"}
    assert not wrong, (
        f"{len(wrong)} of {len(out['results'])} corrupt blobs (blob size {out['size']}) "
        "did not raise ValueError; "
        f"first ones: {dict(list(wrong.items())[:12])}"
    )


@pytest.mark.parametrize("bad", ["abc", None, 123, [1, 2]])
def test_from_bytes_wrong_type(bad: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        core.FeatureState.from_bytes(bad)
