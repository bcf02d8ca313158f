"""Candle frames for the script tests: a seeded random walk, 300 bars and a small 60-bar one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def random_walk(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]] * (1 + rng.normal(0.0, 0.002, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0.0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0.0, 0.01, n))
    volume = rng.uniform(1_000.0, 10_000.0, n)
    index = pd.date_range("2025-01-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    return random_walk(300)


@pytest.fixture(scope="session")
def small_frame() -> pd.DataFrame:
    return random_walk(60, seed=3)
