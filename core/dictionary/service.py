"""Dictionary categories and labels, generated from what the code actually supports."""

from __future__ import annotations

from dataclasses import dataclass

from core.dictionary import glossary
from core.errors import NotFound
from core.labels import did_you_mean
from core.market import indicator_catalogue
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
    "broker": "where deployed models trade, and what connecting each one needs",
    "glossary": "trading terms in English and Indonesian (/dict glossary stop loss, /dict glossary bandar)",
}

# What connecting each broker takes; a broker added to BrokerName without a line here still lists,
# as needing an API key and secret (the common case).
_BROKER_NEEDS = {
    "Paper": ("a simulated account, built in: no keys", "fills at the signal's price minus the paper fee; "
              "starts with paper cash in IDR and USDT"),
    "Binance": ("crypto spot exchange: API key and secret", "enable Spot trading on the key, never withdrawals"),
    "Tokocrypto": ("Indonesian crypto exchange: API key and secret", "enable trading on the key, never withdrawals"),
    "OKX": ("crypto exchange: API key, secret and the key's passphrase", "the passphrase is the one you set "
            "when creating the key; give it Trade permission only"),
    "Coinbase": ("Coinbase Advanced Trade: API key name and private key", "give the key trade permission only"),
    "CexIO": ("Cex.io crypto exchange: API key and secret", "enable trading on the key, never withdrawals"),
}  # fmt: skip

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
        return [Entry(i.name, i.description or i.category, _indicator_detail(i)) for i in indicator_catalogue.catalogue().values()]
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
    if category == "broker":
        return _brokers()
    if category == "glossary":
        return [_glossary_entry(term) for term in glossary.TERMS]
    return [Entry(name, summary) for name, summary in _SOURCES.items()]


def entry(category: str, label: str, source_intervals: dict[str, list[str]] | None = None) -> Entry:
    category = _category(category)
    if category == "indicator":
        found = indicator_catalogue.info(label)  # raises with a suggestion on a misspelling
        return Entry(found.name, found.description or found.category, _indicator_detail(found))
    if category == "glossary":
        term = glossary.lookup(label)
        if term is None:
            hint = did_you_mean(glossary.normalise(label), glossary.known_words())
            raise NotFound(f"no glossary term '{label}'{hint}", hint="see /dict glossary for every term")
        return _glossary_entry(term)
    for item in entries(category, source_intervals):
        if item.label.lower() == label.lower():
            return item
    raise NotFound(f"no {category} called '{label}'", hint=f"see /dict {category}")


def reference(category: str) -> str | None:
    """Where a category is documented in full, for the end of its /dict reply (None: nowhere more)."""
    if _category(category) == "script":
        from core.script import REFERENCE

        return f"The whole language, with precedence, limits and examples: {REFERENCE} in the Stoxlify repository"
    return None


def _category(name: str) -> str:
    key = name.lower().rstrip("s")
    if key not in CATEGORIES:
        raise NotFound(f"no dictionary category '{name}'", hint="categories: " + ", ".join(CATEGORIES))
    return key


def _indicator_detail(info: indicator_catalogue.IndicatorInfo) -> str:
    params = ", ".join(f"{p.name}={p.default}" for p in info.params) or "none"
    lines = [
        f"inputs: {', '.join(info.inputs)}",
        f"parameters (in order): {params}",
        f"fields: {', '.join(info.fields)}",
        f"drawn {'on the price panel' if info.overlay else 'in its own panel'}",
    ]
    if info.talib:
        lines.append("values: TA-Lib's, from its first valid bar on (earlier bars are empty)")
    if info.note:
        lines.append(f"note: {info.note}")
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


def _brokers() -> list[Entry]:
    from core.broker.types import BrokerName

    out = []
    for broker in BrokerName:
        summary, detail = _BROKER_NEEDS.get(broker.value, ("API key and secret", ""))
        if broker is not BrokerName.PAPER:
            detail = "; ".join(filter(None, [detail, f"connect in a private chat: /connect {broker.value.lower()} LABEL KEY ..."]))
        out.append(Entry(broker.value, summary, detail))
    return out


def _glossary_entry(term: glossary.Term) -> Entry:
    """Label: the English term; summary: the Indonesian one; detail: both explanations."""
    return Entry(term.en, f"ID: {term.id}", f"EN: {term.en_text}\nID: {term.id_text}")
