"""Fundamentals for screening rules, and the rule text users type."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from core.config import Settings
from core.errors import Invalid, NotFound
from core.market.fundamentals import from_yahoo
from core.market.service import MarketService
from core.market.sources.yahoo import YahooSource
from core.strategy.rules import Analytic, compare, metric_condition, parse_rule, split_rules

# The fields of Yahoo's quote summary (yfinance Ticker.info) that rules read, as Yahoo spells them.
TLKM_INFO = {
    "symbol": "TLKM.JK", "currency": "IDR", "financialCurrency": "IDR", "trailingPE": 11.93, "forwardPE": 11.2,
    "priceToBook": 2.05, "returnOnEquity": 0.1702, "returnOnAssets": 0.0851, "dividendYield": 6.61,
    "trailingAnnualDividendYield": 0.0661, "marketCap": 275_000_000_000_000, "trailingEps": 232.4,
    "debtToEquity": 38.52, "profitMargins": 0.158, "revenueGrowth": 0.012, "currentRatio": 0.78,
}  # fmt: skip


def test_yahoo_fields_become_metrics_in_rule_units():
    f = from_yahoo("TLKM", TLKM_INFO, "Yahoo Finance")
    assert f.values["pe"] == 11.93 and f.values["roe"] == 0.1702
    assert f.values["dividend_yield"] == 0.0661  # a fraction, as rules compare
    assert f.values["der"] == pytest.approx(0.3852)  # Yahoo's percent made a ratio
    assert f.values["market_cap"] == 2.75e14 and f.currency == "IDR"


def test_missing_values_are_none_and_nothing_at_all_is_not_found():
    f = from_yahoo("GOTO", {"trailingPE": None, "priceToBook": "n/a", "returnOnEquity": float("nan"), "marketCap": 1e13}, "Y")
    assert f.values["pe"] is None and f.values["pbv"] is None and f.values["roe"] is None
    with pytest.raises(NotFound, match="no fundamentals for BTC"):
        from_yahoo("BTC", {"symbol": "BTC-USD"}, "Yahoo Finance")


async def test_yahoo_source_reads_the_quote_summary(monkeypatch):
    source = YahooSource(Settings(_env_file=None))
    asked = []
    monkeypatch.setattr(source, "_info", lambda symbol: asked.append(symbol) or TLKM_INFO)
    f = await source.fundamentals("tlkm")
    assert asked == ["TLKM.JK"] and f.ticker == "TLKM" and f.values["pbv"] == 2.05


async def test_offline_fundamentals_and_crypto_refusal(tmp_path):
    market = MarketService(Settings(_env_file=None, market_offline=True))
    bbca = await market.fundamentals("BBCA")
    assert bbca.sample and bbca.values["pe"] == 22.4
    with pytest.raises(NotFound, match="no fundamentals for XXXX") as missing:
        await market.fundamentals("XXXX")
    assert missing.value.hint == "known: ASII, BBCA, BBRI, BMRI, GOTO, TLKM"
    online = MarketService(Settings(_env_file=None, market_offline=False))
    with pytest.raises(Invalid, match="stocks only"):
        await online.fundamentals("BTCUSDT")


@pytest.mark.parametrize(
    ("text", "stored", "parsed"),
    [
        ("pe < 15", "pe < 15", ("pe", "<", 15.0)),
        ("ROE>15%", "roe > 15%", ("roe", ">", 0.15)),
        ("market_cap >= 10T", "market_cap >= 1e+13", ("market_cap", ">=", 1e13)),
        ("screen: pbv <= 1.5", "pbv <= 1.5", ("pbv", "<=", 1.5)),
    ],
)
def test_fundamental_rules(text, stored, parsed):
    rule = parse_rule(text, Analytic.FUNDAMENTAL)
    assert (rule.action, rule.condition) == ("screen", stored)
    metric, op, value = metric_condition(rule.condition)
    assert (metric, op) == parsed[:2] and value == pytest.approx(parsed[2])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pe 15", "has no comparison"),
        ("pee < 15", "did you mean 'pe'"),
        ("pe < cheap", "'cheap' is not a number"),
    ],
)
def test_bad_fundamental_rules_say_why(text, message):
    with pytest.raises(Invalid, match=message):
        parse_rule(text, Analytic.FUNDAMENTAL)


def test_technical_rules_take_an_action_and_a_condition():
    rules = split_rules("BUY: rsi(close, 14) < 30;\nsell crossunder(close, sma(close, 20))\n\n", Analytic.TECHNICAL)
    assert [(r.action, r.condition) for r in rules] == [
        ("buy", "rsi(close, 14) < 30"), ("sell", "crossunder(close, sma(close, 20))"),
    ]
    with pytest.raises(Invalid, match="a rule must be a condition"):
        split_rules("buy rsi(close, 14)", Analytic.TECHNICAL)
    with pytest.raises(Invalid, match="no rule given"):
        split_rules(" ; ", Analytic.TECHNICAL)
    assert compare(1.0, "!=", 2.0) and not compare(1.0, ">=", 2.0)


def test_rule_numbers_share_the_condition_parser_and_must_be_finite():
    assert parse_rule("market_cap > 10T", Analytic.FUNDAMENTAL).condition == "market_cap > 1e+13"
    assert parse_rule("roe >= 15 %", Analytic.FUNDAMENTAL).condition == "roe >= 15%"
    assert metric_condition("roe > 15%") == ("roe", ">", 0.15)
    for bad in ("pe < 1e400", "pe < -1e400", "net_value > 1e999"):
        analytic = Analytic.BANDARMOLOGY if bad.startswith("net") else Analytic.FUNDAMENTAL
        with pytest.raises(Invalid, match="is not a finite number") as caught:
            parse_rule(bad, analytic)
        assert caught.value.hint == "e.g. 15, 0.15, 15%, 10T"
    with pytest.raises(Invalid, match="'15x' is not a number"):
        parse_rule("pe < 15x", Analytic.FUNDAMENTAL)


def test_fundamentals_file_is_read_once_per_change_and_a_broken_one_is_unavailable(tmp_path, monkeypatch):
    import json
    import os

    from core.errors import Unavailable
    from core.market import fundamentals as fm

    path = tmp_path / "fundamentals.json"
    path.write_text(json.dumps({"_note": "sample", "BBCA": {"trailingPE": 20.0}}), encoding="utf-8")
    reads = []
    real = fm.Path.read_text

    def counting(self, *a, **k):
        reads.append(self)
        return real(self, *a, **k)

    monkeypatch.setattr(fm.Path, "read_text", counting)
    for _ in range(3):
        assert fm.from_file(tmp_path, "BBCA.JK", "csv", sample=True).values["pe"] == 20.0
    assert len(reads) == 1
    with pytest.raises(NotFound) as missing:
        fm.from_file(tmp_path, "_note", "csv", sample=True)
    assert missing.value.hint == "known: BBCA"

    path.write_text("{not json", encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a new mtime even on coarse clocks
    with capture_logs() as logs, pytest.raises(Unavailable) as unreadable:
        fm.from_file(tmp_path, "BBCA", "csv", sample=True)
    assert unreadable.value.message == "fundamentals for BBCA are unavailable right now"  # no file names for users
    [line] = [e for e in logs if e["event"] == "market_fundamentals_unreadable"]
    assert line["file"] == str(path) and "cannot be read" in line["error"]  # the operator's are in the log
    path.write_text(json.dumps({"TLKM": {"trailingPE": 15.0}}), encoding="utf-8")
    os.utime(path, ns=(2, 2))
    assert fm.from_file(tmp_path, "TLKM", "csv", sample=True).values["pe"] == 15.0
    path.unlink()
    with pytest.raises(NotFound) as gone:
        fm.from_file(tmp_path, "TLKM", "csv", sample=True)
    assert gone.value.message == "csv has no fundamentals for TLKM" and tmp_path.name not in gone.value.message
