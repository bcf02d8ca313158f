"""The synthetic sample market: one-minute bars that are a pure function of (ticker, minute, seed).

Both the shipped files and the live continuation come from here, so every interval of a
sample ticker is one series:

- ``scripts/make_sample_data.py`` runs the process from a fixed start to ``SHIPPED_END`` and
  writes hourly bars (``core/market/sample/BTCUSDT_1h.csv`` ...); daily, weekly and monthly bars
  are resampled from them by the CSV source, so a day's 1d bar is exactly its hours.
- When the bot runs on the sample data (``SAMPLE_LIVE``, on by default), ``SampleFeed`` continues
  each series after the last shipped bar up to the wall clock, one-minute bar by one-minute bar,
  anchored on the last shipped close. A 1m deployment sees a new closed candle every minute.

Randomness is drawn per UTC day from a generator seeded by (seed, ticker, day number), so a bar
never depends on when or in which process it was asked for: every replica and every restart sees
the same bars. The log price is a random walk plus a short swing (a sine of the minute), which
makes short moving averages cross every so often, as a newcomer's first model needs.

Crypto trades around the clock; IDX stocks and the index trade in the IDX session only
(Asia/Jakarta, Monday to Friday 09:00-12:00 and 13:30-16:00, that is 02:00-05:00 and 06:30-09:00
UTC; holidays and Friday's longer break are ignored).
"""

from __future__ import annotations

import math
import threading
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MINUTE = pd.Timedelta(minutes=1)
DAY_MINUTES = 1440
_IDX_SESSION = np.concatenate([np.arange(120, 300), np.arange(390, 540)])  # UTC minutes of a weekday
_ALL_DAY = np.arange(DAY_MINUTES)


@dataclass(frozen=True, slots=True)
class Spec:
    """How one sample ticker moves."""

    start: float  # price at the start of the shipped history
    daily_vol: float  # standard deviation of a day's log return
    daily_drift: float
    tick: float  # prices are multiples of this
    daily_volume: float  # typical volume traded in a day
    crypto: bool  # trades every minute of every day; otherwise the IDX session
    swing: float = 0.003  # amplitude of the swing in log price
    swing_minutes: float = 17.0  # its period: short averages on 1m bars cross every ten minutes or so

    @property
    def minutes_a_day(self) -> int:
        return DAY_MINUTES if self.crypto else len(_IDX_SESSION)


SPECS: dict[str, Spec] = {
    "BBCA": Spec(9_200, 0.014, 0.0002, 25, 60_000_000, False),
    "BBRI": Spec(4_600, 0.018, 0.0001, 10, 150_000_000, False),
    "BMRI": Spec(6_100, 0.017, 0.0002, 25, 80_000_000, False),
    "TLKM": Spec(3_300, 0.016, -0.0001, 10, 90_000_000, False),
    "ASII": Spec(5_000, 0.017, 0.0001, 25, 40_000_000, False),
    "GOTO": Spec(70, 0.035, -0.0003, 1, 2_000_000_000, False),
    "JKSE": Spec(7_100, 0.009, 0.0002, 0.01, 0, False),
    "BTCUSDT": Spec(62_000, 0.030, 0.0008, 0.01, 25_000, True),
    "ETHUSDT": Spec(2_900, 0.036, 0.0005, 0.01, 350_000, True),
}

# The generator's process starts here (seed 0 for the shipped history) and the files end on this day.
HISTORY_SEED = 0
SHIPPED_END = pd.Timestamp("2026-11-20", tz="UTC")  # the last shipped day (its bars included)
HISTORY_DAYS = {True: 730, False: 1095}  # crypto: two years of hours; IDX: three


def session_minutes(day: pd.Timestamp, spec: Spec) -> np.ndarray:
    """The UTC minutes of ``day`` (midnight UTC) that trade."""
    if spec.crypto:
        return _ALL_DAY
    return _IDX_SESSION if day.day_of_week < 5 else _IDX_SESSION[:0]


def _day_rng(seed: int, ticker: str, day: pd.Timestamp) -> np.random.Generator:
    day_number = int(day.value // (86_400 * 10**9))
    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(ticker.encode()), day_number])


def _to_tick(values: np.ndarray, tick: float) -> np.ndarray:
    return np.round(np.round(values / tick) * tick, 8)


@dataclass(slots=True)
class _Run:
    """One ticker's minutes from an anchor on, extended a day at a time."""

    ticker: str
    spec: Spec
    seed: int
    first: pd.Timestamp  # the first minute this run may hold
    anchor: float  # the close just before ``first``
    log_anchor: float = 0.0
    walk: float = 0.0  # the random walk's sum so far
    last_close: float = 0.0
    next_day: pd.Timestamp = field(default_factory=lambda: pd.Timestamp(0, tz="UTC"))
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self) -> None:
        self.log_anchor = math.log(self.anchor) - float(self._swing(self._epoch_minute(self.first) - 1))
        self.last_close = self.anchor
        self.next_day = self.first.floor("D")
        self.frame = _empty()

    def _swing(self, minute: np.ndarray | int) -> np.ndarray | float:
        return self.spec.swing * np.sin(2 * np.pi * np.asarray(minute) / self.spec.swing_minutes)

    @staticmethod
    def _epoch_minute(at: pd.Timestamp) -> int:
        return int(at.value // (60 * 10**9))

    def extend_to(self, until: pd.Timestamp) -> None:
        """Generate whole days until the day holding ``until`` is done."""
        parts = []
        while self.next_day <= until:
            parts.append(self._day(self.next_day))
            self.next_day += pd.Timedelta(days=1)
        parts = [p for p in parts if len(p)]
        if parts:
            self.frame = pd.concat([self.frame, *parts]) if len(self.frame) else pd.concat(parts)

    def _day(self, day: pd.Timestamp) -> pd.DataFrame:
        spec = self.spec
        minutes = session_minutes(day, spec)
        rng = _day_rng(self.seed, self.ticker, day)  # drawn for the whole session, cut after
        n_all = len(minutes)
        per_minute = spec.minutes_a_day
        vol = spec.daily_vol / math.sqrt(per_minute)
        steps = rng.normal(spec.daily_drift / per_minute, vol, n_all)
        wick_hi = np.abs(rng.normal(0, vol * 0.6, n_all))
        wick_lo = np.abs(rng.normal(0, vol * 0.6, n_all))
        busy = np.exp(rng.normal(0, 0.5, n_all))
        times = (day + pd.to_timedelta(minutes, unit="min")).as_unit("ns")
        keep = times >= self.first
        if not keep.any():
            return _empty()
        steps, wick_hi, wick_lo, busy, times = steps[keep], wick_hi[keep], wick_lo[keep], busy[keep], times[keep]
        walk = self.walk + np.cumsum(steps)
        self.walk = float(walk[-1])
        epoch = (times.asi8 // (60 * 10**9)).astype("int64")
        close = np.exp(self.log_anchor + walk + self._swing(epoch))
        close = np.maximum(_to_tick(close, spec.tick), spec.tick)
        open_ = np.concatenate([[self.last_close], close[:-1]])
        self.last_close = float(close[-1])
        high = np.maximum(_to_tick(np.maximum(open_, close) * np.exp(wick_hi), spec.tick), np.maximum(open_, close))
        low = np.minimum(_to_tick(np.minimum(open_, close) * np.exp(-wick_lo), spec.tick), np.minimum(open_, close))
        low = np.maximum(low, spec.tick)
        volume = spec.daily_volume / per_minute * busy
        volume = np.round(volume, 0 if spec.daily_volume >= 1_000_000 else 4)
        frame = pd.DataFrame(
            {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
            index=pd.DatetimeIndex(times, name="time").as_unit("ns"),
        )
        return frame


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {c: np.empty(0) for c in ("open", "high", "low", "close", "volume")},
        index=pd.DatetimeIndex([], tz="UTC", name="time").as_unit("ns"),
    )


def generate(ticker: str, first: pd.Timestamp, until: pd.Timestamp, anchor: float, seed: int) -> pd.DataFrame:
    """One-minute bars of ``ticker`` opening from ``first`` to ``until`` (inclusive), the close
    before ``first`` being ``anchor`` (used by the generator script, and by ``SampleFeed``)."""
    run = _Run(ticker, SPECS[ticker], seed, first, anchor)
    run.extend_to(until)
    return run.frame[run.frame.index <= until]


class SampleFeed:
    """The live continuation of the sample files: minutes after the last shipped bar, up to now."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._runs: dict[tuple[str, pd.Timestamp, float], _Run] = {}
        self._lock = threading.Lock()  # sources read in worker threads; a run is extended by one at a time

    def serves(self, ticker: str) -> bool:
        return ticker in SPECS

    def minutes(self, ticker: str, first: pd.Timestamp, anchor: float, until: pd.Timestamp) -> pd.DataFrame:
        """Bars opening from ``first`` to ``until`` (the bar forming at ``until`` included)."""
        if until < first:
            return _empty()
        key = (ticker, first, anchor)
        with self._lock:
            run = self._runs.get(key)
            if run is None:
                run = self._runs[key] = _Run(ticker, SPECS[ticker], self.seed, first, anchor)
            run.extend_to(until)
            frame = run.frame
        return frame.iloc[: int(frame.index.searchsorted(until, side="right"))]
