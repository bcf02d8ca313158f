"""Generate the shipped sample market data (deterministic, clearly synthetic).

The files under ``core/market/sample`` let the bot, its tests and its benchmarks run with no
network. Prices are a seeded random walk around realistic levels; every reply built on them
says "sample data". Re-run with ``python scripts/make_sample_data.py`` to regenerate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "core" / "market" / "sample"
END = pd.Timestamp("2026-11-20")

# ticker: (start price, daily vol, drift, tick, typical volume, trades every day?)
DAILY = {
    "BBCA": (9_200, 0.014, 0.0002, 25, 60_000_000, False),
    "BBRI": (4_600, 0.018, 0.0001, 10, 150_000_000, False),
    "BMRI": (6_100, 0.017, 0.0002, 25, 80_000_000, False),
    "TLKM": (3_300, 0.016, -0.0001, 10, 90_000_000, False),
    "ASII": (5_000, 0.017, 0.0001, 25, 40_000_000, False),
    "GOTO": (70, 0.035, -0.0003, 1, 2_000_000_000, False),
    "JKSE": (7_100, 0.009, 0.0002, 0.01, 0, False),
    "BTCUSDT": (62_000, 0.030, 0.0008, 0.01, 25_000, True),
    "ETHUSDT": (2_900, 0.036, 0.0005, 0.01, 350_000, True),
}


def walk(rng: np.random.Generator, n: int, start: float, vol: float, drift: float) -> np.ndarray:
    returns = rng.normal(drift, vol, n)
    return start * np.exp(np.cumsum(returns))


def bars(rng: np.random.Generator, index: pd.DatetimeIndex, start: float, vol: float, drift: float,
         tick: float, base_volume: float) -> pd.DataFrame:
    close = walk(rng, len(index), start, vol, drift)
    open_ = np.concatenate([[start], close[:-1]]) * np.exp(rng.normal(0, vol / 4, len(index)))
    spread_hi = np.abs(rng.normal(0, vol * 0.8, len(index)))
    spread_lo = np.abs(rng.normal(0, vol * 0.8, len(index)))
    high = np.maximum(open_, close) * (1 + spread_hi)
    low = np.minimum(open_, close) * (1 - spread_lo)

    def to_tick(x: np.ndarray) -> np.ndarray:
        return np.round(np.round(x / tick) * tick, 8)

    volume = (base_volume * np.exp(rng.normal(0, 0.45, len(index)))).round(0 if base_volume > 1000 else 4)
    frame = pd.DataFrame(
        {"Open": to_tick(open_), "High": to_tick(high), "Low": to_tick(low), "Close": to_tick(close), "Volume": volume},
        index=index,
    )
    frame["High"] = frame[["Open", "High", "Close"]].max(axis=1)
    frame["Low"] = frame[["Open", "Low", "Close"]].min(axis=1)
    return frame


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for i, (ticker, (start, vol, drift, tick, volume, every_day)) in enumerate(DAILY.items()):
        rng = np.random.default_rng(20261120 + i)
        freq = "D" if every_day else "B"
        index = pd.date_range(end=END, periods=1000 if every_day else 750, freq=freq, name="Date")
        frame = bars(rng, index, start, vol, drift, tick, volume)
        frame.to_csv(OUT / f"{ticker}.csv", date_format="%Y-%m-%d")
    # one intraday file: crypto trades around the clock
    rng = np.random.default_rng(7)
    index = pd.date_range(end=END + pd.Timedelta(hours=23), periods=24 * 120, freq="h", name="Date")
    frame = bars(rng, index, 91_000, 0.006, 0.00002, 0.01, 1_000)
    frame.to_csv(OUT / "BTCUSDT_1h.csv", date_format="%Y-%m-%d %H:%M:%S")


if __name__ == "__main__":
    main()
