"""Generate the shipped sample market data (deterministic, clearly synthetic).

The files under ``core/market/sample`` let the bot, its tests and its benchmarks run with no
network. Each ticker is one series of one-minute bars from ``core.market.sample_feed`` (a seeded
random walk around realistic levels, crypto around the clock, IDX in its session), shipped as
hourly bars, ``BBCA_1h.csv``; every other interval is resampled from them, and the live sample
feed continues them after the last shipped day. Every reply built on them says "sample data".
Re-run with ``python scripts/make_sample_data.py`` to regenerate.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from core.market.sample_feed import HISTORY_DAYS, HISTORY_SEED, SHIPPED_END, SPECS, generate  # noqa: E402

OUT = ROOT / "core" / "market" / "sample"
_AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def hourly(ticker: str) -> pd.DataFrame:
    spec = SPECS[ticker]
    first = SHIPPED_END - pd.Timedelta(days=HISTORY_DAYS[spec.crypto] - 1)
    until = SHIPPED_END + pd.Timedelta(days=1) - pd.Timedelta(minutes=1)
    minutes = generate(ticker, first, until, spec.start, HISTORY_SEED)
    bars = minutes.resample("1h", label="left", closed="left").agg(_AGG).dropna(subset=["open"])
    bars.index = bars.index.tz_localize(None).rename("Date")
    bars.columns = [c.capitalize() for c in bars.columns]
    return bars


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.csv"):
        if old.name != "instruments.csv":
            old.unlink()
    for ticker in SPECS:
        frame = hourly(ticker)
        volume_decimals = 0 if SPECS[ticker].daily_volume >= 1_000_000 else 4
        frame["Volume"] = frame["Volume"].round(volume_decimals)
        frame.to_csv(OUT / f"{ticker}_1h.csv", date_format="%Y-%m-%d %H:%M", float_format="%.10g")
        print(f"{ticker}_1h.csv: {len(frame)} bars, {frame.index[0]} .. {frame.index[-1]}")


if __name__ == "__main__":
    main()
