"""Shared helpers of the benchmarks (run explicitly: ``pytest benches`` or ``python benches/report.py``).

Sizes come from the environment so ``report.py --quick`` can shrink them:
ECLIPSE_BENCH_N (batch length, default 1,000,000), ECLIPSE_BENCH_STEP_CALLS (manual latency sample, default
200,000), ECLIPSE_BENCH_REPLAY_ROUNDS (default 5). ECLIPSE_SHARED_DATA overrides ../shared/data.

The bench scripts (``report.py``, ``order_path.py``, ``daemon.py``, ``load_sim.py``) write their JSON artefact
through :func:`artefact`: the same header in each (schema, bench, mode, times, machine facts) and a flat
``metrics`` map of name -> number that ``gate.py`` compares with ``thresholds.toml``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("ECLIPSE_SHARED_DATA", REPO.parent / "shared" / "data"))
MINUTE = 60_000
T0 = 1_640_995_200_000  # 2022-01-01 00:00 UTC


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


BATCH_N = env_int("ECLIPSE_BENCH_N", 1_000_000)
STEP_CALLS = env_int("ECLIPSE_BENCH_STEP_CALLS", 200_000)
REPLAY_ROUNDS = env_int("ECLIPSE_BENCH_REPLAY_ROUNDS", 5)


def core_or_skip() -> Any:
    import pytest

    try:
        from eclipse import _core
    except ImportError as e:  # pragma: no cover - depends on the build
        pytest.skip(f"eclipse._core is not built ({e}); run `pip install -e .` first")
    return _core


def random_ohlcv(n: int, scale: float = 4e4, seed: int = 0) -> dict[str, np.ndarray]:
    """A geometric random walk with valid bars and lognormal volumes (all float64, C-contiguous)."""
    rng = np.random.default_rng(seed)
    close = scale * np.exp(np.cumsum(rng.normal(0.0, 1e-3, n)))
    open_ = np.concatenate([[scale], close[:-1]])
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 5e-4, n)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 5e-4, n)))
    volume = rng.lognormal(3.0, 1.0, n)
    ts = (T0 + MINUTE * np.arange(n)).astype(np.int64)
    return {"ts_ms": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume}


def load_ohlcv(name: str) -> dict[str, np.ndarray]:
    import pytest

    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"real market data {name} not found in {SHARED_DATA}")
    raw = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="ascii")
    cols = {"ts_ms": np.ascontiguousarray(raw["ts_ms"], dtype=np.int64)}
    for c in ("open", "high", "low", "close", "volume"):
        cols[c] = np.ascontiguousarray(raw[c], dtype=np.float64)
    return cols


# --- JSON artefacts ---------------------------------------------------------------------------------------

ARTEFACT_SCHEMA = "eclipse-bench/1"


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine_facts() -> dict[str, Any]:
    """Where a run was measured: Python, CPUs, OS, the git commit (None outside a git checkout)."""
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = None
    eclipse_version: str | None
    try:
        from eclipse import __version__ as eclipse_version
    except ImportError:
        eclipse_version = None
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "cpu_model": _cpu_model(),
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "git_commit": commit,
        "git_dirty": None if status is None else bool(status),
        "eclipse_version": eclipse_version,
    }


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def clean_metrics(metrics: dict[str, float | int | None]) -> dict[str, float | None]:
    """Metric values as JSON numbers; NaN, infinities and absent values become ``null`` (the gate reports
    them as missing)."""
    out: dict[str, float | None] = {}
    for name, value in sorted(metrics.items()):
        v = None if value is None else float(value)
        out[name] = v if v is not None and math.isfinite(v) else None
    return out


def artefact(
    bench: str,
    mode: str,
    started_at: str,
    started: float,
    metrics: dict[str, float | int | None],
    **details: Any,
) -> dict[str, Any]:
    """One run's JSON artefact: the common header, the flat ``metrics`` and the bench's own ``details``.

    ``started_at`` is :func:`utc_now` and ``started`` ``time.perf_counter()``, both taken when the run began.
    """
    return {
        "schema": ARTEFACT_SCHEMA,
        "bench": bench,
        "mode": mode,
        "started_at": started_at,
        "finished_at": utc_now(),
        "wall_s": round(time.perf_counter() - started, 3),
        "machine": machine_facts(),
        "metrics": clean_metrics(metrics),
        **details,
    }


def finite(data: Any) -> Any:
    """``data`` with every NaN or infinite float replaced by ``None`` (strict JSON has no NaN)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    return data


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented, strict JSON (NaN -> null), creating the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(finite(data), indent=2, allow_nan=False) + "\n")
