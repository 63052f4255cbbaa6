"""The daemon's Prometheus metrics: names and types by the conventions, values, bounded labels, and a registry
per instance (never the process-wide default)."""

from __future__ import annotations

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from eclipse.runtime.metrics import BAR_LAG_BUCKETS, ORDER_PATH_BUCKETS, OTHER, DaemonMetrics

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def samples(m: DaemonMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``(sample name, sorted labels) -> value`` parsed back from ``render()``."""
    out = {}
    for fam in text_string_to_metric_families(m.render().decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def types(m: DaemonMetrics) -> dict[str, str]:
    return {fam.name: fam.type for fam in text_string_to_metric_families(m.render().decode())}


def test_names_types_and_units() -> None:
    m = DaemonMetrics([BTC], ["market"])
    t = types(m)
    for name in (
        "eclipse_bars",
        "eclipse_orders",
        "eclipse_fills",
        "eclipse_entries_blocked",
        "eclipse_loop_crashes",
    ):
        assert t[name] == "counter", name
    for name in ("eclipse_bar_lag_seconds", "eclipse_order_path_seconds"):
        assert t[name] == "histogram", name
    for name in (
        "eclipse_loop_up",
        "eclipse_open_positions",
        "eclipse_position_base",
        "eclipse_realized_pnl_quote",
        "eclipse_fees_quote",
        "eclipse_unrealized_pnl_quote",
        "eclipse_equity_quote",
    ):
        assert t[name] == "gauge", name
    assert all(name.startswith("eclipse_") for name in t)
    text = m.render().decode()
    for counter in ("eclipse_bars_total", "eclipse_orders_total", "eclipse_fills_total"):
        assert f"# TYPE {counter} counter" in text
    assert "eclipse_entries_blocked_total" in text
    assert "eclipse_loop_crashes_total" in text
    assert m.CONTENT_TYPE.startswith("text/plain; version=")


def test_bucket_ranges() -> None:
    assert ORDER_PATH_BUCKETS[0] == 50e-6
    assert ORDER_PATH_BUCKETS[-1] == 0.01
    assert BAR_LAG_BUCKETS[0] == 0.001
    assert BAR_LAG_BUCKETS[-1] >= 10
    assert list(ORDER_PATH_BUCKETS) == sorted(ORDER_PATH_BUCKETS)
    assert list(BAR_LAG_BUCKETS) == sorted(BAR_LAG_BUCKETS)


def test_values() -> None:
    m = DaemonMetrics([BTC, ETH], ["market", "engine"])
    m.observe_bar_lag(BTC, 0.004)
    m.observe_bar_lag(BTC, 3.0)
    m.observe_order_path(0.00007)
    m.bar_processed(BTC)
    m.bar_processed(BTC)
    m.order_sent("entry")
    m.order_sent("entry")
    m.order_outcome("entry", "filled")
    m.order_outcome("stop_loss", "rejected")
    m.fill(ETH, "exit")
    m.entry_blocked("cooldown")
    m.loop_crashed("engine")
    m.set_up("market", 1)
    m.set_up("engine", False)
    m.set_positions(1)
    m.set_position(ETH, -0.5)
    m.set_pnl(12.5, 1.25, -3.0)
    m.set_equity(10_008.25)
    m.set_versions({"eclipse": "0.9.0", "ccxt-version": "4.3"})
    s = samples(m)
    assert s[("eclipse_bar_lag_seconds_bucket", (("le", "0.005"), ("symbol", BTC)))] == 1
    assert s[("eclipse_bar_lag_seconds_bucket", (("le", "5.0"), ("symbol", BTC)))] == 2
    assert s[("eclipse_bar_lag_seconds_count", (("symbol", ETH),))] == 0
    assert s[("eclipse_order_path_seconds_bucket", (("le", "5e-05"),))] == 0
    assert s[("eclipse_order_path_seconds_bucket", (("le", "0.0001"),))] == 1
    assert s[("eclipse_bars_total", (("symbol", BTC),))] == 2
    assert s[("eclipse_bars_total", (("symbol", ETH),))] == 0
    assert s[("eclipse_orders_total", (("kind", "entry"), ("outcome", "sent")))] == 2
    assert s[("eclipse_orders_total", (("kind", "entry"), ("outcome", "filled")))] == 1
    assert s[("eclipse_orders_total", (("kind", "stop_loss"), ("outcome", "rejected")))] == 1
    assert s[("eclipse_fills_total", (("kind", "exit"), ("symbol", ETH)))] == 1
    assert s[("eclipse_entries_blocked_total", (("reason", "cooldown"),))] == 1
    assert s[("eclipse_loop_crashes_total", (("loop", "engine"),))] == 1
    assert s[("eclipse_loop_crashes_total", (("loop", "market"),))] == 0
    assert s[("eclipse_loop_up", (("loop", "market"),))] == 1
    assert s[("eclipse_loop_up", (("loop", "engine"),))] == 0
    assert s[("eclipse_open_positions", ())] == 1
    assert s[("eclipse_position_base", (("symbol", ETH),))] == -0.5
    assert s[("eclipse_position_base", (("symbol", BTC),))] == 0
    assert s[("eclipse_realized_pnl_quote", ())] == 12.5
    assert s[("eclipse_fees_quote", ())] == 1.25
    assert s[("eclipse_unrealized_pnl_quote", ())] == -3.0
    assert s[("eclipse_equity_quote", ())] == 10_008.25
    assert s[("eclipse_build_info", (("ccxt_version", "4.3"), ("eclipse", "0.9.0")))] == 1


def test_labels_are_bounded() -> None:
    m = DaemonMetrics([BTC], label_limit=3)
    m.bar_processed("DOGE/USDT:USDT")  # not configured
    for i in range(10):
        m.entry_blocked(f"reason-{i}")
    s = samples(m)
    assert s[("eclipse_bars_total", (("symbol", OTHER),))] == 1
    reasons = {dict(k[1])["reason"]: v for k, v in s.items() if k[0] == "eclipse_entries_blocked_total"}
    assert reasons == {"reason-0": 1, "reason-1": 1, "reason-2": 1, OTHER: 7}


def test_unconfigured_symbols_are_capped_too() -> None:
    m = DaemonMetrics()
    for i in range(100):
        m.bar_processed(f"S{i}/USDT")
    symbols = {dict(k[1])["symbol"] for k in samples(m) if k[0] == "eclipse_bars_total"}
    assert len(symbols) == 65
    assert OTHER in symbols


def test_each_instance_owns_its_registry() -> None:
    a, b = DaemonMetrics([BTC]), DaemonMetrics([BTC])
    a.bar_processed(BTC)
    assert samples(a)[("eclipse_bars_total", (("symbol", BTC),))] == 1
    assert samples(b)[("eclipse_bars_total", (("symbol", BTC),))] == 0
    assert a.registry is not b.registry
    assert REGISTRY.get_sample_value("eclipse_bars_total", {"symbol": BTC}) is None


def test_negative_latencies_count_as_zero() -> None:
    m = DaemonMetrics([BTC])
    m.observe_bar_lag(BTC, -0.5)  # a clock step: still one observation, in the first bucket
    assert samples(m)[("eclipse_bar_lag_seconds_bucket", (("le", "0.001"), ("symbol", BTC)))] == 1
