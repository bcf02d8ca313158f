"""Dictionary categories and labels, generated from what the code actually supports."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import NotFound
from core.market import indicators as ta
from core.market.types import DEFAULT_RANGE, INTERVALS, RANGE_CODES, Source


@dataclass(frozen=True, slots=True)
class Entry:
    label: str
    summary: str
    detail: str = ""


CATEGORIES = {
    "indicator": "technical indicators usable in /market, watch conditions and scripts",
    "interval": "candle widths and which source serves each",
    "range": "how far back a chart or backtest reaches",
    "source": "where market data comes from",
    "script": "the model script language: series, helpers and outputs (with every indicator by name)",
    "fundamental": "metrics Fundamental strategy rules compare (pe < 15, roe > 15%)",
}

_SOURCES = {
    Source.YFINANCE.value: "Yahoo Finance: IDX stocks (BBCA means BBCA.JK), indices (^JKSE) and US stocks (AAPL.US)",
    Source.BINANCE.value: "Binance through ccxt: crypto pairs such as BTCUSDT or BTC/USDT",
    Source.UNKNOWN.value: "pick by ticker shape: pairs go to Binance, everything else to Yahoo",
}


def categories() -> dict[str, str]:
    return dict(CATEGORIES)


def entries(category: str, source_intervals: dict[str, list[str]] | None = None) -> list[Entry]:
    category = _category(category)
    if category == "indicator":
        return [Entry(i.name, i.description or i.category, _indicator_detail(i)) for i in ta.catalogue().values()]
    if category == "interval":
        served = source_intervals or {}
        return [
            Entry(code, f"default range {DEFAULT_RANGE[code]}", _served_by(code, served)) for code in INTERVALS
        ]
    if category == "range":
        return [Entry(code, _range_summary(code)) for code in RANGE_CODES]
    if category == "script":
        from core.script import builtin_names, describe

        out = []
        for name in builtin_names():
            usage, _, summary = (describe(name) or name).partition(": ")
            out.append(Entry(name, summary or usage, "" if usage == name else usage))
        return out
    if category == "fundamental":
        from core.market.fundamentals import METRICS

        return [Entry(name, what + (" (write it in percent: 15%)" if percent else "")) for name, (_, what, percent)
                in METRICS.items()]  # fmt: skip
    return [Entry(name, summary) for name, summary in _SOURCES.items()]


def entry(category: str, label: str, source_intervals: dict[str, list[str]] | None = None) -> Entry:
    category = _category(category)
    if category == "indicator":
        found = ta.info(label)  # raises with a suggestion on a misspelling
        return Entry(found.name, found.description or found.category, _indicator_detail(found))
    for item in entries(category, source_intervals):
        if item.label.lower() == label.lower():
            return item
    raise NotFound(f"no {category} called '{label}'", hint=f"see /dict {category}")


def _category(name: str) -> str:
    key = name.lower().rstrip("s")
    if key not in CATEGORIES:
        raise NotFound(f"no dictionary category '{name}'", hint="categories: " + ", ".join(CATEGORIES))
    return key


def _indicator_detail(info: ta.IndicatorInfo) -> str:
    params = ", ".join(f"{p.name}={p.default}" for p in info.params) or "none"
    lines = [
        f"inputs: {', '.join(info.inputs)}",
        f"parameters (in order): {params}",
        f"fields: {', '.join(info.fields)}",
        f"drawn {'on the price panel' if info.overlay else 'in its own panel'}",
    ]
    example = ":".join([info.name, *(str(p.default) for p in info.params[:2] if p.default is not None)])
    lines.append(f"example: /market BBCA 1d {example}")
    return "\n".join(lines)


def _served_by(code: str, served: dict[str, list[str]]) -> str:
    names = [name for name, codes in served.items() if code in codes]
    return "served by " + (", ".join(names) if names else "no configured source")


def _range_summary(code: str) -> str:
    if code == "max":
        return "everything the source has (capped at the bar limit)"
    if code == "ytd":
        return "since 1 January"
    return f"the last {code}"
