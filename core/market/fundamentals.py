"""Company fundamentals for Fundamental strategy rules (PE, PBV, ROE, dividend yield...).

Yahoo's quote summary (yfinance ``Ticker.info``) serves them for stocks; offline, a
``fundamentals.json`` beside the CSV files does (``{"BBCA": {"trailingPE": 22.1, ...}}``,
Yahoo's key names). Values are Yahoo's units: ratios as fractions (ROE 0.21 is 21 %).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.errors import NotFound, Unavailable
from core.logging import get_logger
from core.market.symbols import without_idx_suffix

log = get_logger(__name__)

# Fundamental metrics: name -> (Yahoo's key, what it is, whether users write it in percent).
METRICS: dict[str, tuple[str, str, bool]] = {
    "pe": ("trailingPE", "price / earnings", False),
    "forward_pe": ("forwardPE", "price / expected earnings", False),
    "pbv": ("priceToBook", "price / book value", False),
    "roe": ("returnOnEquity", "return on equity", True),
    "roa": ("returnOnAssets", "return on assets", True),
    "dividend_yield": ("dividendYield", "dividend yield", True),
    "market_cap": ("marketCap", "market capitalisation", False),
    "eps": ("trailingEps", "earnings per share", False),
    "der": ("debtToEquity", "debt / equity", False),
    "profit_margin": ("profitMargins", "net profit margin", True),
    "revenue_growth": ("revenueGrowth", "revenue growth", True),
    "current_ratio": ("currentRatio", "current assets / current liabilities", False),
}


@dataclass(frozen=True, slots=True)
class Fundamentals:
    ticker: str
    values: dict[str, float | None]  # metric names (METRICS) -> value
    provider: str
    currency: str | None = None
    sample: bool = False


def from_yahoo(ticker: str, info: dict[str, Any], provider: str, *, sample: bool = False) -> Fundamentals:
    """Pick our metrics out of a Yahoo quote-summary dict; missing or non-numeric values are None."""
    values: dict[str, float | None] = {}
    for metric, (key, _what, _percent) in METRICS.items():
        raw = info.get(key)
        number = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
        values[metric] = number if number is not None and math.isfinite(number) else None
    # Rules compare fractions. Yahoo's dividendYield has been served in percent (0.52 meaning
    # 0.52 %) while trailingAnnualDividendYield is a fraction: prefer the latter.
    trailing = info.get("trailingAnnualDividendYield")
    if isinstance(trailing, int | float) and math.isfinite(trailing):
        values["dividend_yield"] = float(trailing)
    elif values["dividend_yield"] is not None and values["dividend_yield"] > 1:
        values["dividend_yield"] /= 100
    # debtToEquity is a percentage at Yahoo (45.3 meaning 0.453)
    if values["der"] is not None:
        values["der"] /= 100
    if not any(v is not None for v in values.values()):
        raise NotFound(
            f"{provider} has no fundamentals for {ticker}", hint="fundamentals exist for stocks only"
        )
    return Fundamentals(
        ticker, values, provider, info.get("financialCurrency") or info.get("currency"), sample
    )


def from_file(directory: Path, ticker: str, provider: str, *, sample: bool) -> Fundamentals:
    path = directory / "fundamentals.json"
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise NotFound(f"{provider} has no fundamentals for {ticker}") from None
    try:
        table = _table(str(path), stat.st_mtime_ns, stat.st_size)
    except Unavailable as exc:  # the operator's file: named in the log, never in a reply
        log.warning("market_fundamentals_unreadable", file=str(path), error=exc.message)
        raise Unavailable(f"fundamentals for {ticker} are unavailable right now") from None
    key = without_idx_suffix(ticker)
    if key.startswith("_") or not isinstance(table.get(key), dict):
        known = sorted(k for k in table if not k.startswith("_"))  # "_note" and the like are comments
        raise NotFound(f"{provider} has no fundamentals for {ticker}", hint="known: " + ", ".join(known))
    return from_yahoo(key, table[key], provider, sample=sample)


@lru_cache(maxsize=8)
def _table(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    """The file's table, read again only when it changes (the key holds its mtime and size)."""
    try:
        table = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"no fundamentals file in {Path(path).parent.name}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Unavailable(f"the fundamentals file {Path(path).name} cannot be read ({type(e).__name__})") from None
    if not isinstance(table, dict):
        raise Unavailable(f"the fundamentals file {Path(path).name} is not a table of tickers")
    return table
