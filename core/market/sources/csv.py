"""Offline candles from CSV files: imported data, or the shipped sample set.

One file per ticker and interval in a directory: ``BBCA.csv`` (its interval read from the
spacing of its dates, daily for the sample files) or ``BTCUSDT_1h.csv`` (interval in the
name). Columns ``Date,Open,High,Low,Close[,Volume]``, any letter case; a date without a
time or zone is UTC (midnight for a plain date).

Coarser intervals are built from the coarsest file that divides them (``1h`` makes
``2h 4h 1d 1w 1mo``; ``1d`` makes ``1w 1mo``). Files are parsed once and kept in memory
keyed by path and modification time, so an edited file is read again.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from core.errors import Invalid, NotFound, Unavailable
from core.market.fundamentals import Fundamentals, from_file
from core.market.sources.base import guess_source, split_pair
from core.market.sources.ranking import Candidate, rank, squash
from core.market.types import (
    CANDLE_COLUMNS,
    INTERVALS,
    Candles,
    Instrument,
    Interval,
    Range,
    SearchHit,
    Source,
    parse_interval,
)

# Names of the shipped sample tickers, for search.
NAMES = {
    "BBCA": "Bank Central Asia Tbk",
    "BBRI": "Bank Rakyat Indonesia (Persero) Tbk",
    "BMRI": "Bank Mandiri (Persero) Tbk",
    "TLKM": "Telkom Indonesia (Persero) Tbk",
    "ASII": "Astra International Tbk",
    "GOTO": "GoTo Gojek Tokopedia Tbk",
    "JKSE": "IDX Composite",
    "BTCUSDT": "Bitcoin/TetherUS",
    "ETHUSDT": "Ethereum/TetherUS",
}

_ALIASES = {"IHSG": "JKSE", "COMPOSITE": "JKSE"}
_INDICES = {"JKSE"}
_IDX_CODE = re.compile(r"^[A-Z]{4}$")
_DATE_COLUMNS = ("date", "datetime", "time", "timestamp")
_DAY = timedelta(days=1)
_RESAMPLE_RULES = {
    "3m": "3min",
    "5m": "5min",
    "15m": "15min",
    "30m": "30min",
    "1h": "1h",
    "2h": "2h",
    "4h": "4h",
    "1d": "1D",
    "1w": "W-MON",  # weeks open on Monday 00:00 UTC, as Binance's and Yahoo's do
    "1mo": "MS",
}
_AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


@dataclass(frozen=True, slots=True)
class _File:
    path: Path
    ticker: str
    interval: str | None  # from the file name; None means "read it from the dates"


def can_derive(target: str, base: str) -> bool:
    """Whether ``target`` candles can be built from ``base`` candles by resampling."""
    if target not in INTERVALS or base not in INTERVALS:
        return False
    t, b = INTERVALS[target].delta, INTERVALS[base].delta
    if target == base:
        return True
    if b >= t or _DAY % b:
        return False  # only bars that tile a day combine cleanly
    if target in ("1w", "1mo"):
        return True
    return t % b == timedelta(0) and _DAY % t == timedelta(0)


def _key(ticker: str) -> str:
    """The file key for what a user typed: ``BBCA.JK`` -> ``BBCA``, ``BTC/USDT`` -> ``BTCUSDT``."""
    raw = ticker.strip().upper()
    if raw.endswith(".JK"):
        raw = raw[:-3]
    key = squash(raw)
    return _ALIASES.get(key, key)


def _interval_in_name(suffix: str) -> str | None:
    try:
        return parse_interval(suffix).code
    except Invalid:
        return None


class CsvSource:
    """Candles and search over a directory of CSV files.

    ``sample`` marks the shipped sample set: its provider reads "Sample data" and its
    candles carry ``sample=True`` so every reply can say so. Instruments keep the source
    their ticker shape implies (an IDX stock, a crypto pair) so the rest of the app treats
    them as it would live data.
    """

    source = Source.UNKNOWN  # serves every ticker shape

    def __init__(self, directory: Path | str, *, sample: bool = False) -> None:
        self.directory = Path(directory)
        self.sample = sample
        self.provider = "Sample data" if sample else "CSV"
        self._frames: dict[Path, tuple[int, pd.DataFrame, str]] = {}
        self._derived: dict[tuple[Path, int, str], pd.DataFrame] = {}

    async def fundamentals(self, ticker: str) -> Fundamentals:
        """From ``fundamentals.json`` in the data folder (Yahoo's key names per ticker)."""
        return from_file(self.directory, ticker, self.provider, sample=self.sample)

    # --- protocol -----------------------------------------------------------------------------

    def intervals(self) -> Sequence[str]:
        found: set[str] = set()
        for ticker in self._catalog():
            found.update(self.ticker_intervals(ticker))
        return [code for code in INTERVALS if code in found]

    def ticker_intervals(self, ticker: str) -> list[str]:
        """Intervals this directory can serve for ``ticker``, finest first."""
        files = self._catalog().get(_key(ticker), [])
        bases = {self._load(f)[1] for f in files}
        return [code for code in INTERVALS if any(can_derive(code, base) for base in bases)]

    def resolve(self, ticker: str) -> Instrument:
        key = _key(ticker)
        if not key:
            raise Invalid("give a ticker, for example BBCA or BTCUSDT")
        source = guess_source(key)
        pair = split_pair(key) if source is Source.BINANCE else None
        if pair is not None:
            return Instrument(source, key, key, currency=pair[1])
        if key in _INDICES:
            return Instrument(source, key, key, currency="IDR")
        if _IDX_CODE.match(key):
            return Instrument(source, key, key, currency="IDR", lot_size=100)
        return Instrument(source, key, key)

    async def fetch(
        self, instrument: Instrument, interval: Interval, range_: Range, now: datetime
    ) -> Candles:
        """Bars covering ``range_`` back from the file's last bar (or ``now``, if earlier).

        Ranges count back from the last bar, not the wall clock: sample and imported data
        may end months ago, and "6mo" should still mean the last six months *of the data*.
        """
        frame = await asyncio.to_thread(self._series, instrument, interval)
        cutoff = pd.Timestamp(now)
        cutoff = cutoff.tz_localize("UTC") if cutoff.tzinfo is None else cutoff.tz_convert("UTC")
        end = min(frame.index[-1] + pd.Timedelta(interval.delta), cutoff)  # the last bar's close, at most now
        start = range_.start(end.to_pydatetime())
        window = frame[frame.index < end]
        if start is not None:
            window = window[window.index >= start]
        if window.empty:
            raise NotFound(
                f"no {interval} data for {instrument.display} over {range_} before {end:%Y-%m-%d}",
                hint=f"{self.provider} has {instrument.display} from {frame.index[0]:%Y-%m-%d} "
                f"to {frame.index[-1]:%Y-%m-%d}",
            )
        return Candles(
            instrument=instrument,
            interval=interval,
            frame=window.copy(),
            provider=self.provider,
            sample=self.sample,
            fetched_at=now,
            name=NAMES.get(instrument.symbol),
        )

    async def search(self, query: str, limit: int = 10) -> list[SearchHit]:
        text = query.strip()
        if not text or limit <= 0:
            return []
        candidates = []
        for ticker in self._catalog():
            inst = self.resolve(ticker)
            name = NAMES.get(ticker, ticker)
            if inst.source is Source.BINANCE:
                exchange, kind = "Crypto", "CRYPTO"
            elif ticker in _INDICES:
                exchange, kind = "IDX", "INDEX"
            elif inst.currency == "IDR":
                exchange, kind = "IDX", "EQUITY"
            else:
                exchange, kind = self.provider, ""
            hit = SearchHit(symbol=ticker, name=name, exchange=exchange, source=inst.source, kind=kind)
            candidates.append(Candidate(hit, symbols=(ticker,), name=name))
        return [replace(hit, score=score) for hit, score in rank(text, candidates, limit)]

    # --- files --------------------------------------------------------------------------------

    def _catalog(self) -> dict[str, list[_File]]:
        """Ticker -> its files, from the directory listing (cheap; re-read every call)."""
        catalog: dict[str, list[_File]] = {}
        try:
            entries = sorted(os.scandir(self.directory), key=lambda e: e.name)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise Unavailable(f"can't read the market data folder {self.directory}") from exc
        for entry in entries:
            if not entry.is_file() or not entry.name.lower().endswith(".csv"):
                continue
            stem = entry.name[:-4]
            ticker, interval = stem, None
            if "_" in stem:
                head, _, tail = stem.rpartition("_")
                if _interval_in_name(tail):
                    ticker, interval = head, _interval_in_name(tail)
            key = _key(ticker)
            if key:
                catalog.setdefault(key, []).append(_File(Path(entry.path), key, interval))
        return catalog

    def _series(self, instrument: Instrument, interval: Interval) -> pd.DataFrame:
        """The whole file's bars at ``interval``, resampled when needed (blocking: run in a thread)."""
        catalog = self._catalog()
        files = catalog.get(_key(instrument.symbol))
        if not files:
            some = " ".join(sorted(catalog)[:8]) or "none"
            raise NotFound(
                f"{self.provider} has no {instrument.display}",
                hint=f"available: {some}" + (" ..." if len(catalog) > 8 else ""),
            )
        loaded = [(f, *self._load(f)) for f in files]
        usable = [row for row in loaded if can_derive(interval.code, row[2])]
        if not usable:
            served = self.ticker_intervals(instrument.symbol)
            raise Invalid(
                f"{self.provider} has no {interval} candles for {instrument.display}",
                hint=f"{instrument.display} intervals: " + " ".join(served),
            )
        file, frame, base = max(usable, key=lambda row: INTERVALS[row[2]].delta)  # fewest bars to combine
        if base == interval.code:
            return frame
        mtime = self._frames[file.path][0]
        cache_key = (file.path, mtime, interval.code)
        if cache_key not in self._derived:
            resampled = frame.resample(_RESAMPLE_RULES[interval.code], label="left", closed="left").agg(_AGG)
            self._derived[cache_key] = resampled.dropna(subset=["open", "high", "low", "close"])
        return self._derived[cache_key]

    def _load(self, file: _File) -> tuple[pd.DataFrame, str]:
        """Parsed bars of ``file`` and their interval, from memory while the file is unchanged."""
        try:
            mtime = file.path.stat().st_mtime_ns
        except OSError as exc:
            raise Unavailable(f"can't read {file.path.name}") from exc
        cached = self._frames.get(file.path)
        if cached and cached[0] == mtime:
            return cached[1], cached[2]
        frame = parse_csv(file.path)
        interval = file.interval or infer_interval(frame.index, file.path.name)
        self._frames[file.path] = (mtime, frame, interval)
        self._derived = {k: v for k, v in self._derived.items() if k[0] != file.path}
        return frame, interval


def parse_csv(path: Path) -> pd.DataFrame:
    """Read one OHLCV file into our frame shape; ``Invalid`` naming the file and the problem."""
    name = path.name
    try:
        raw = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    except OSError as exc:
        raise Unavailable(f"can't read {name}") from exc
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' ParserError and EmptyDataError are ValueErrors
        raise Invalid(f"{name} can't be read as CSV: {str(exc).splitlines()[0][:80]}") from exc
    columns = {str(c).strip().lower(): c for c in raw.columns}
    date_col = next((columns[c] for c in _DATE_COLUMNS if c in columns), None)
    if date_col is None:
        raise Invalid(f"{name} has no Date column", hint="columns: Date,Open,High,Low,Close,Volume")
    missing = [c.capitalize() for c in ("open", "high", "low", "close") if c not in columns]
    if missing:
        raise Invalid(
            f"{name} has no {', '.join(missing)} column", hint="columns: Date,Open,High,Low,Close,Volume"
        )
    if raw.empty:
        raise Invalid(f"{name} has no rows")

    text_dates = raw[date_col].str.strip()
    dates = pd.to_datetime(text_dates, utc=True, errors="coerce", format="mixed")
    bad = dates.isna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise Invalid(f"{name}: row {row + 2} has a date that can't be read: '{text_dates.iloc[row]}'")

    data = {}
    for col in CANDLE_COLUMNS:
        if col not in columns:
            data[col] = [0.0] * len(raw)
            continue
        text = raw[columns[col]].str.strip()
        blank = text.isin(["", "null", "NaN", "nan", "NA", "-"])
        values = pd.to_numeric(text.where(~blank), errors="coerce")
        wrong = values.isna() & ~blank
        if wrong.any():
            row = int(wrong.to_numpy().nonzero()[0][0])
            raise Invalid(f"{name}: row {row + 2} has {col.capitalize()} '{text.iloc[row]}', not a number")
        data[col] = values.astype(float).to_numpy()

    frame = pd.DataFrame(data, index=pd.DatetimeIndex(dates).as_unit("ns").rename("time"))
    frame = frame.dropna(subset=["open", "high", "low", "close"])  # blank days, as Yahoo exports have
    frame["volume"] = frame["volume"].fillna(0.0)
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    if frame.empty:
        raise Invalid(f"{name} has no row with all of Open, High, Low and Close")
    return frame[CANDLE_COLUMNS]


def infer_interval(index: pd.DatetimeIndex, name: str) -> str:
    """The interval of a file whose name does not say: daily unless its dates say otherwise.

    The median gap between dates decides, so weekends, holidays and a missing day or two
    do not matter; intraday data must sit close to one of the canonical widths.
    """
    if len(index) < 2:
        return "1d"
    gap = pd.Series(index).diff().dropna().median()
    if gap >= timedelta(days=25):
        return "1mo"
    if gap >= timedelta(days=6):
        return "1w"
    if gap >= 0.8 * _DAY:
        return "1d"
    best = min((iv for iv in INTERVALS.values() if iv.intraday), key=lambda iv: abs(gap / iv.delta - 1))
    if abs(gap / best.delta - 1) > 0.2:
        raise Invalid(
            f"{name}: can't tell its interval from dates {gap} apart",
            hint="name the file like BTCUSDT_1h.csv",
        )
    return best.code
