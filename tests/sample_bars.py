"""The shipped sample series as plain frames, for tests that need real-looking bars without a source."""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from core.config import SAMPLE_DATA_DIR
from core.market.sources.csv import parse_csv, resample


@lru_cache(maxsize=32)
def _bars(ticker: str, interval: str) -> pd.DataFrame:
    hourly = parse_csv(SAMPLE_DATA_DIR / f"{ticker}_1h.csv")
    return hourly if interval == "1h" else resample(hourly, interval)


def sample_bars(ticker: str = "BBCA", interval: str = "1d") -> pd.DataFrame:
    """Columns ``open high low close volume``, a UTC index of bar open times (a fresh copy)."""
    return _bars(ticker, interval).copy()
