"""Market data: bars, OHLCV frames and the CSV loader (plus the packaged default dataset)."""

from eclipse.market.bars import Bar, OhlcvFrame, embedded_dataset, load_ohlcv_csv

__all__ = ["Bar", "OhlcvFrame", "embedded_dataset", "load_ohlcv_csv"]
