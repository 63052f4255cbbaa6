"""The soak run: long synthetic data without jumps, a short soak over several symbols holds its invariants
with its memory sampled, and ``eclipse simtest --soak`` reports it."""

from __future__ import annotations

import numpy as np
import pytest

from eclipse.cli import main
from eclipse.market.bars import BAR_MS, embedded_dataset
from eclipse.proof.soak import SoakResult, rss_bytes, run_soak, synthetic_frame


def test_synthetic_data_continues_across_the_wrap_without_a_jump() -> None:
    base = embedded_dataset()
    n = len(base) + 500
    f = synthetic_frame(base, n, offset=1_000, scale=0.5)
    assert len(f) == n
    assert np.all(np.diff(f.ts_ms) == BAR_MS)
    wrap = len(base) - 1_000  # the first bar of the second copy
    assert f.open[wrap] == pytest.approx(f.close[wrap - 1])
    assert f.close[0] == pytest.approx(base.close[1_000] * 0.5)
    assert np.all(f.low <= f.open)
    assert np.all(f.open <= f.high)


def test_a_short_soak_over_two_symbols_holds_and_samples_memory() -> None:
    soak = run_soak(7, bars=1_500, symbols=2)
    assert soak.result.ok, [str(v) for v in soak.result.report.violations]
    assert soak.symbols == ("BTCUSDT", "ETHUSDT")
    assert soak.result.bars >= 2 * 1_500
    assert len(soak.samples) == 4  # every 500 bars (a tenth of the run, at least 500)
    assert soak.rss_end_mb > 0
    assert soak.result.report.measures.fills > 0


def test_memory_growth_is_the_slope_after_the_warm_up() -> None:
    from eclipse.proof.simulation import SeedResult

    fake = SeedResult.__new__(SeedResult)
    mib = 2**20
    flat = SoakResult(
        fake, ("X",), ((0, 100 * mib), (1_000, 150 * mib), (2_000, 150 * mib), (3_000, 150 * mib))
    )
    assert flat.growth_mb_per_10k == pytest.approx(0.0)
    leak = SoakResult(fake, ("X",), tuple((b, (100 + b // 1_000) * mib) for b in range(0, 6_000, 1_000)))
    assert leak.growth_mb_per_10k == pytest.approx(10.0)
    assert rss_bytes() > 0


def test_simtest_soak_command(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simtest", "--soak", "--bars", "600", "--symbols", "2", "--from", "7", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "600 bars x 2 symbols" in out or "bars x 2 symbols" in out
    assert "MiB per 10,000 bars" in out
    assert main(["simtest", "--soak", "--symbols", "9"]) == 2
