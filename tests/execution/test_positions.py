"""PositionBook: accounting from fills, dedup, determinism under reordering, daily PnL and drawdown."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eclipse.clock import SimClock
from eclipse.execution.positions import DAY_MS, FillRejectedError, PositionBook, split_symbol
from eclipse.venues.types import Fill, Side

SYM = "BTC/USDT:USDT"
D = Decimal


def fill(
    tid: str,
    side: Side,
    qty: str,
    price: str,
    ts: int = 1_000,
    fee: str = "0",
    fee_asset: str = "USDT",
    symbol: str = SYM,
) -> Fill:
    return Fill(tid, f"o{tid}", symbol, side, D(price), D(qty), D(fee), fee_asset, ts)


def test_long_round_trip_realizes_price_difference_and_fees_are_separate() -> None:
    book = PositionBook(SimClock(1_000))
    assert book.apply(fill("1", Side.BUY, "2", "100", ts=1_000, fee="0.1"))
    snap = book.snapshot(SYM, mark=D(105))
    assert (snap.qty, snap.avg_entry, snap.opened_ms, snap.side) == (D(2), D(100), 1_000, Side.BUY)
    assert snap.unrealized_pnl == D(10)
    book.apply(fill("2", Side.SELL, "2", "110", ts=2_000, fee="0.2"))
    snap = book.snapshot(SYM)
    assert (snap.qty, snap.realized_pnl, snap.fees, snap.opened_ms, snap.updated_ms) == (
        D(0),
        D(20),
        D("0.3"),
        None,
        2_000,
    )
    assert snap.side is None


def test_short_average_entry_partial_close_and_flip() -> None:
    book = PositionBook(SimClock())
    book.apply(fill("1", Side.SELL, "1", "100", ts=1))
    book.apply(fill("2", Side.SELL, "1", "110", ts=2))
    snap = book.snapshot(SYM)
    assert (snap.qty, snap.avg_entry) == (D(-2), D(105))
    book.apply(fill("3", Side.BUY, "1", "95", ts=3))  # close half: +10
    assert book.snapshot(SYM).realized_pnl == D(10)
    book.apply(fill("4", Side.BUY, "3", "90", ts=4))  # close 1 (+15) and open long 2 @ 90
    snap = book.snapshot(SYM)
    assert (snap.qty, snap.avg_entry, snap.realized_pnl, snap.opened_ms) == (D(2), D(90), D(25), 4)


def test_duplicates_ignored_conflicts_and_invalid_fills_raise() -> None:
    book = PositionBook(SimClock())
    f = fill("1", Side.BUY, "1", "100")
    assert book.apply(f) is True
    assert book.apply(f) is False
    assert book.snapshot(SYM).qty == D(1)
    assert book.has_fill(SYM, "1")
    with pytest.raises(FillRejectedError, match="different content"):
        book.apply(fill("1", Side.BUY, "2", "100"))
    with pytest.raises(FillRejectedError, match="qty"):
        book.apply(fill("9", Side.BUY, "0", "100"))
    with pytest.raises(FillRejectedError, match="price"):
        book.apply(fill("9", Side.BUY, "1", "-1"))
    with pytest.raises(FillRejectedError, match="trade_id"):
        book.apply(fill("", Side.BUY, "1", "1"))
    # same trade id on another symbol is another trade
    assert book.apply(fill("1", Side.BUY, "1", "100", symbol="ETH/USDT:USDT"))


def test_fee_in_base_is_converted_and_other_assets_are_reported() -> None:
    events: list[dict[str, object]] = []
    book = PositionBook(SimClock(), on_event=lambda e: events.append(dict(e)))
    book.apply(fill("1", Side.BUY, "1", "100", fee="0.001", fee_asset="BTC"))
    assert book.snapshot(SYM).fees == D("0.100")
    book.apply(fill("2", Side.BUY, "1", "100", fee="0.01", fee_asset="BNB", ts=2_000))
    assert book.snapshot(SYM).fees == D("0.100")
    assert book.unconverted_fees(SYM) == {"BNB": D("0.01")}
    assert [e["event"] for e in events] == ["position.fee_unconverted"]
    assert split_symbol("BTC/USDT:USDT") == ("BTC", "USDT")
    assert split_symbol("BTCUSDT") is None


def test_late_fill_replays_in_canonical_order() -> None:
    a = PositionBook(SimClock())
    b = PositionBook(SimClock())
    fills = [fill("1", Side.BUY, "1", "100", ts=1), fill("2", Side.SELL, "1", "110", ts=2)]
    fills.append(fill("3", Side.BUY, "1", "120", ts=3))
    a.apply_all(fills)
    b.apply_all([fills[0], fills[2], fills[1]])  # fill 2 arrives late
    assert a.snapshot(SYM) == b.snapshot(SYM)
    assert a.snapshot(SYM).realized_pnl == D(10)


def test_daily_pnl_follows_the_utc_day_of_the_clock() -> None:
    clock = SimClock(DAY_MS + 10)
    book = PositionBook(clock)
    book.apply(fill("1", Side.BUY, "1", "100", ts=DAY_MS - 5))  # day 0
    book.apply(fill("2", Side.SELL, "1", "90", ts=DAY_MS + 5, fee="1"))  # day 1: -10 - 1
    assert book.daily_pnl() == D(-11)
    # a late day-0 buy changes the average entry (75) the day-1 sell is measured against: 15 - 1
    book.apply(fill("3", Side.BUY, "1", "50", ts=DAY_MS - 1, fee="0.5"))
    assert book.daily_pnl() == D(14)
    assert book.daily_pnl(0) == D("-0.5")
    clock.advance(86_400)
    assert book.daily_pnl() == D(0)
    assert book.realized_pnl() == D(15)
    assert book.total_fees() == D("1.5")


def test_drawdown_from_peak() -> None:
    book = PositionBook(SimClock())
    assert book.peak_equity is None
    assert book.drawdown_pct(D(1000)) == 0.0
    assert book.drawdown_pct(D(1100)) == 0.0
    assert book.drawdown_pct(D(990)) == pytest.approx(0.1)
    assert book.peak_equity == D(1100)
    assert book.drawdown_pct(D(1200)) == 0.0


def test_open_positions_marks_and_unknown_symbol() -> None:
    book = PositionBook(SimClock())
    flat = book.snapshot("ETH/USDT:USDT")
    assert (flat.qty, flat.opened_ms, flat.updated_ms) == (D(0), None, 0)
    book.apply(fill("1", Side.BUY, "2", "100"))
    book.set_mark(SYM, D(90))
    assert book.unrealized_pnl() == D(-20)
    assert list(book.open_positions()) == [SYM]
    with pytest.raises(ValueError, match="mark"):
        book.set_mark(SYM, D(0))


# --- properties -------------------------------------------------------------------------------------------

_trade = st.tuples(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 50),  # qty in 0.1 units
    st.integers(900, 1100),  # price
    st.integers(0, 5),  # fee in 0.01
    st.integers(0, 3 * DAY_MS),
)


def _fills(trades: list[tuple[Side, int, int, int, int]]) -> list[Fill]:
    return [
        Fill(f"t{i}", f"o{i}", SYM, s, D(p), D(q) / 10, D(f) / 100, "USDT", ts)
        for i, (s, q, p, f, ts) in enumerate(trades)
    ]


@settings(max_examples=150, deadline=None)
@given(st.lists(_trade, min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_any_permutation_gives_the_same_state(
    trades: list[tuple[Side, int, int, int, int]], rnd: object
) -> None:
    fills = _fills(trades)
    shuffled = list(fills)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    a, b = PositionBook(SimClock()), PositionBook(SimClock())
    a.apply_all(fills)
    b.apply_all(shuffled)
    assert a.snapshot(SYM) == b.snapshot(SYM)
    for day in range(4):
        assert a.daily_pnl(day * DAY_MS) == b.daily_pnl(day * DAY_MS)


@settings(max_examples=150, deadline=None)
@given(st.lists(_trade, min_size=1, max_size=12), st.lists(st.integers(0, 11), max_size=8))
def test_duplicates_never_double_count(
    trades: list[tuple[Side, int, int, int, int]], dups: list[int]
) -> None:
    fills = _fills(trades)
    a, b = PositionBook(SimClock()), PositionBook(SimClock())
    a.apply_all(fills)
    extra = [fills[i % len(fills)] for i in dups]
    assert b.apply_all(fills + extra + fills) == len(fills)
    assert a.snapshot(SYM) == b.snapshot(SYM)


@settings(max_examples=150, deadline=None)
@given(st.lists(_trade, min_size=1, max_size=12), st.integers(800, 1200))
def test_realized_plus_unrealized_equals_cash_flow(
    trades: list[tuple[Side, int, int, int, int]], mark: int
) -> None:
    fills = _fills(trades)
    book = PositionBook(SimClock())
    book.apply_all(fills)
    cash = sum((f.price * f.qty * (1 if f.side is Side.SELL else -1) for f in fills), D(0))
    snap = book.snapshot(SYM, mark=D(mark))
    total = snap.realized_pnl + snap.unrealized_pnl
    assert abs(total - (cash + snap.qty * D(mark))) < D("1e-18")
    # closing everything at the mark realizes exactly the cash flow (round trip back to flat)
    if snap.qty != 0:
        side = Side.SELL if snap.qty > 0 else Side.BUY
        book.apply(Fill("close", "oc", SYM, side, D(mark), abs(snap.qty), D(0), "USDT", 4 * DAY_MS))
        flat = book.snapshot(SYM)
        assert flat.qty == 0
        assert flat.realized_pnl == cash + snap.qty * D(mark)
    else:
        assert snap.realized_pnl == cash
